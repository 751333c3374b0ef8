"""Shared fixtures: the built-in scenario (loaded once) and the reference data folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from missions.scenario import BUILTIN_SCENARIO, Scenario, load_scenario

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    return load_scenario()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("reference data folder ../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def scenario_copy(tmp_path: Path) -> Path:
    """A writable copy of the built-in scenario folder, for tests that break it."""
    dst = tmp_path / "scenario"
    shutil.copytree(BUILTIN_SCENARIO, dst)
    return dst
