"""Every key of the settings' `vision:` section changes what the service runs: the
detector behind the dashboard's live view and the alert watch (one model, shared), and
the pipeline's confirmation rule. Before, only `vision.model` reached the service."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from missions.scenario import Scenario
from orchestrator.service.core import Service
from orchestrator.settings import VisionSettings
from orchestrator.store import Store
from vision.train import DEFAULT_MODEL

CHANGED: dict[str, Any] = {
    "model": None,  # a copy of the shipped model, filled in per test
    "classes": "0:vehicle,1:smoke,2:fire",
    "imgsz": 320,
    "conf": 0.4,
    "class_conf": {"smoke": 0.6},
    "threads": 1,
    "confirm_k": 2,
    "confirm_n": 8,
    "confirm_span_s": 5.0,
}


def _what_the_service_runs(scenario: Scenario, tmp_path: Path, vision: VisionSettings) -> dict[str, Any]:
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        svc = Service(
            scenario,
            store,
            mqtt_url="mqtt://127.0.0.1:1",  # never connected: the parts are only built
            drones={},
            clock=lambda: datetime(2026, 12, 7, 2, tzinfo=UTC),
            data_dir=tmp_path,
            video={"nanshan": "http://127.0.0.1:1/nanshan.mjpg"},
            vision=vision,
        )
        assert svc.alert_watch is not None
        live = svc.live.vision.detector()
        pipe = asyncio.run(_pipeline(svc))
        assert pipe.detector is live, "one model in memory for the live view and the alert watch"
        cfg = live.config
        return {
            "model": getattr(live, "path", None),
            "classes": dict(live.classes),
            "imgsz": cfg.imgsz,
            "conf": cfg.conf,
            "class_conf": dict(cfg.class_conf),
            "threads": live.session.get_session_options().intra_op_num_threads,  # type: ignore[attr-defined]
            "confirm_k": pipe.config.confirm.k,
            "confirm_n": pipe.config.confirm.n,
            "confirm_span_s": pipe.config.confirm.min_span_s,
        }
    finally:
        store.close()


async def _pipeline(svc: Service) -> Any:
    assert svc.alert_watch is not None
    return svc.alert_watch._pipeline(asyncio.get_running_loop())


@pytest.mark.parametrize("key", sorted(CHANGED))
def test_each_vision_setting_changes_what_the_service_runs(scenario: Scenario, tmp_path: Path, key: str) -> None:
    value = CHANGED[key]
    if key == "model":
        value = tmp_path / "district-detector.onnx"
        shutil.copy(DEFAULT_MODEL, value)
    default = _what_the_service_runs(scenario, tmp_path / "default", VisionSettings())
    changed = _what_the_service_runs(scenario, tmp_path / "changed", VisionSettings(**{key: value}))
    assert changed[key] != default[key], f"vision.{key} did not reach the service"
    assert changed[key] == value or key in ("classes", "model"), (key, changed[key])
    if key == "classes":
        assert changed["classes"] == {0: "vehicle", 1: "smoke", 2: "fire"}
    if key == "model":
        assert changed["model"] == value
    assert {k: v for k, v in changed.items() if k != key} == {k: v for k, v in default.items() if k != key}
