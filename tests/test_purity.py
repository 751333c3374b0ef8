"""missions/ is the pure domain: no I/O libraries, no event loop, no wall clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

MISSIONS = Path(__file__).resolve().parent.parent / "missions"
FORBIDDEN_MODULES = {
    "asyncio",
    "socket",
    "pymavlink",
    "aiomqtt",
    "cv2",
    "fastapi",
    "sqlalchemy",
    "requests",
    "httpx",
    "orchestrator",
    "vision",
    "sim",
    "time",
    "subprocess",
    "threading",
}
WALL_CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today")}


@pytest.mark.parametrize("path", sorted(MISSIONS.rglob("*.py")), ids=lambda p: str(p.relative_to(MISSIONS)))
def test_module_is_pure(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [(node.module or "").split(".")[0]]
        else:
            names = []
        assert not set(names) & FORBIDDEN_MODULES, f"{path.name} imports {names}"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) not in WALL_CLOCK, f"{path.name} reads the wall clock"
