"""The imports point one way (../shared/ARCHITECTURE.md): orchestrator -> missions, vision;
vision -> missions; sim -> missions; missions -> none of them. sim and orchestrator meet
only over the wire, except in the composition root (`orchestrator/commands/`, the CLI),
which starts the simulator for `demo` and `sim`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {
    "missions": set(),
    "vision": {"missions"},
    "sim": {"missions"},
    "orchestrator": {"missions", "vision"},
}
COMPOSITION_ROOT = ("orchestrator/commands/", "orchestrator/cli.py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out & set(ALLOWED)


MODULES = sorted(p for pkg in ALLOWED for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_one_way(path: Path) -> None:
    rel = str(path.relative_to(ROOT))
    package = rel.split("/")[0]
    allowed = ALLOWED[package] | {package}
    if rel.startswith(COMPOSITION_ROOT):
        allowed = allowed | {"sim"}
    wrong = _imports(path) - allowed
    assert not wrong, f"{rel} imports {sorted(wrong)}; {package} may import {sorted(ALLOWED[package])}"
