"""`make bench` says plainly when a target is missed."""

from __future__ import annotations

import importlib.util

from tests.conftest import REPO

_spec = importlib.util.spec_from_file_location("run_all", REPO / "bench" / "run_all.py")
assert _spec is not None and _spec.loader is not None
run_all = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_all)


def test_figures_are_checked_against_their_targets() -> None:
    meets = run_all.meets
    assert meets(1.4, "< 2 s") and meets(30, ">= 30") and meets(0.05, "<= 0.05")
    assert meets(305.0, "<= 300 s (simulated)") is False, "the on-scene p95 that was missed by 5 s"
    assert meets(1.0, "1.0 (identical fp32)") and meets(0.98, "1.0 (identical fp32)") is False
    assert meets("n/a", "< 2 s") is None and meets(True, ">= 1") is None and meets(3, "fast") is None
