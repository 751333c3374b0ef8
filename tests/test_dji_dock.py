"""The service as a DJI dock's cloud, against the dock emulator over a real MQTT broker:
a wayline is stored, prepared and executed, flown through its steps and reported done;
the dock's refusals (an MD5 that differs, a wayline for another aircraft, rain, an
unknown flight) come back as the dock's reasons; forged, malformed and stranger messages
are refused and counted without changing anything."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from missions import dji_cloud as dji
from missions.formats import wpml
from missions.formats.items import Cmd, Frame, MissionItem
from orchestrator.bus.broker import EmbeddedBroker
from orchestrator.bus.client import BusClient
from orchestrator.bus.dji_docks import DjiDocks, DockRefused
from orchestrator.executor.dji_sortie import DjiSortieRunner
from orchestrator.executor.sortie import SortieOrder, SortieRecord, SortieState
from sim.dji_dock import DjiDockEmulator
from tests.simbus import eventually

DOCK, AIRCRAFT = "7CTXN00000001", "1581F5BK0000A1"
PAD = (22.5400, 113.9480, 12.0)  # yuehai
"""Stand-in object storage: what the service uploads, a dock downloads by URL."""


class Storage:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        files = self.files

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = files.get(self.path.lstrip("/"))
                self.send_response(200 if data is not None else 404)
                self.end_headers()
                self.wfile.write(data or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    async def store(self, name: str, data: bytes) -> str:
        self.files[name] = data
        return f"{self.url}/{name}"


@pytest.fixture
def storage() -> Iterator[Storage]:
    s = Storage()
    yield s
    s.server.shutdown()
    s.server.server_close()


def _kmz(drone: str = "M3D") -> bytes:
    lat, lon, amsl = PAD
    items = [
        MissionItem(0, Frame.GLOBAL, Cmd.NAV_WAYPOINT, x=lat, y=lon, z=amsl),
        MissionItem(1, Frame.GLOBAL, Cmd.NAV_TAKEOFF, x=lat, y=lon, z=amsl + 40),
        MissionItem(2, Frame.MISSION, Cmd.DO_CHANGE_SPEED, 1, 12, -1),
        MissionItem(3, Frame.GLOBAL, Cmd.NAV_WAYPOINT, 20, x=lat + 0.002, y=lon, z=amsl + 60),
        MissionItem(4, Frame.GLOBAL, Cmd.NAV_WAYPOINT, x=lat + 0.002, y=lon + 0.002, z=amsl + 60),
        MissionItem(5, Frame.GLOBAL_RELATIVE_ALT, Cmd.NAV_RETURN_TO_LAUNCH),
    ]
    return wpml.write_kmz(wpml.from_items(items, amsl, drone, rth_height_m=50))


async def _world(storage: Storage, **emulator: object):  # type: ignore[no-untyped-def]
    broker = EmbeddedBroker()
    address = await broker.start()
    bus = BusClient(address, "dronepatrol-test-cloud")
    docks = DjiDocks(bus, {"yuehai": DOCK}, storage.store, call_timeout_s=5)
    await bus.start()
    options: dict[str, object] = {"speedup": 40, "osd_interval_s": 1, **emulator}
    dock = DjiDockEmulator(address, DOCK, AIRCRAFT, "M3D", *PAD, **options)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(dock.run(stop))
    await asyncio.wait_for(dock.connected.wait(), 10)
    view = docks.views["yuehai"]
    await docks.wait_for(lambda: bool(view.aircraft_sn and view.aircraft) and view.dock is not None, 10)
    return broker, bus, docks, dock, stop, task


async def _close(broker, bus, stop, task) -> None:  # type: ignore[no-untyped-def]
    stop.set()
    await asyncio.wait_for(task, 10)
    await bus.stop()
    await broker.stop()


def test_a_wayline_is_prepared_executed_flown_and_reported_done(storage: Storage) -> None:
    async def run() -> tuple[list[str], DjiDocks, DjiDockEmulator]:
        broker, bus, docks, dock, stop, task = await _world(storage)
        try:
            view = docks.views["yuehai"]
            assert view.online and view.aircraft_sn == AIRCRAFT
            await docks.fly_wayline("yuehai", "f-1", _kmz(), 50)
            seen: list[str] = []

            def note(p: dji.TaskProgress) -> bool:
                if not seen or seen[-1] != p.sortie_state:
                    seen.append(p.sortie_state)
                return p.done

            await docks.wait_progress("yuehai", "f-1", note, 60)
            landed = lambda: view.dock is not None and view.dock.drone_in_dock and view.dock.lid == "closed"  # noqa: E731
            await docks.wait_for(landed, 6)  # the dock's OSD after landing
            return seen, docks, dock
        finally:
            await _close(broker, bus, stop, task)

    seen, docks, dock = asyncio.run(run())
    assert seen[0] in ("planned", "preflight") and seen[-1] == "completed", seen
    assert "airborne" in seen and "returning" in seen and seen.index("airborne") < seen.index("returning")
    assert dock.calls == [("flighttask_prepare", 0), ("flighttask_execute", 0)]
    view = docks.views["yuehai"]
    assert view.progress["f-1"].status == "ok" and view.dock is not None and view.dock.drone_in_dock
    assert docks.refused == {}


def test_the_docks_refusals_come_back_as_its_reasons(storage: Storage) -> None:
    async def run() -> list[str]:
        broker, bus, docks, dock, stop, task = await _world(storage)
        said = []
        try:
            genuine = _kmz()

            async def tampered(name: str, data: bytes) -> str:
                return await storage.store(name, data + b"\x00")

            docks.store_kmz = tampered
            for attempt in ("md5",):
                with pytest.raises(DockRefused) as info:
                    await docks.fly_wayline("yuehai", f"f-{attempt}", genuine, 50)
                said.append(str(info.value))
            docks.store_kmz = storage.store
            with pytest.raises(DockRefused) as info:
                await docks.fly_wayline("yuehai", "f-m4", _kmz("M4TD"), 50)
            said.append(str(info.value))
            with pytest.raises(DockRefused) as info:
                await docks.call("yuehai", "flighttask_execute", {"flight_id": "never-prepared"})
            said.append(str(info.value))
            dock.rainfall = 2
            with pytest.raises(DockRefused) as info:
                await docks.fly_wayline("yuehai", "f-rain", genuine, 50)
            said.append(str(info.value))
            assert dock.task is None, "nothing flew"
            return said
        finally:
            await _close(broker, bus, stop, task)

    said = asyncio.run(run())
    assert "flighttask_prepare refused: the KMZ's MD5 differs from the fingerprint (314004)" in said[0]
    assert "the wayline is not one this aircraft can fly (314005)" in said[1]
    assert "no prepared task has this flight_id (314006)" in said[2]
    assert "flighttask_execute refused: rain over the dock (314008)" in said[3]


def test_forged_malformed_and_stranger_messages_are_refused_and_change_nothing(storage: Storage) -> None:
    async def run() -> tuple[DjiDocks, dict[str, object]]:
        broker, bus, docks, _, stop, task = await _world(storage, osd_interval_s=1000)
        try:
            view = docks.views["yuehai"]
            before = {"dock": view.dock, "aircraft": dict(view.aircraft), "faults": list(view.faults)}
            head = b'"tid": "t", "bid": "b", "timestamp": 1'
            hostile = [
                (f"thing/product/{DOCK}/events", b"{not json"),  # malformed
                (f"thing/product/{DOCK}/events", b"{" + head + b', "data": {}}'),  # an event without a method
                ("thing/product/STRANGER0001/osd", b"{" + head + b', "data": {"cover_state": 1}}'),  # unknown dock
                (f"thing/product/{DOCK}/services_reply",  # a reply to a call never made
                 b'{"tid": "forged", "bid": "b", "timestamp": 1, "method": "return_home", "data": {"result": 0}}'),
                (f"thing/product/{AIRCRAFT}/osd",  # our aircraft, through another dock
                 b"{" + head + b', "gateway": "OTHERDOCK001", "data": {"height": 999}}'),
            ]  # fmt: skip
            for t, payload in hostile:
                await bus.publish(t, payload)
            await eventually(lambda: sum(docks.refused.values()) >= len(hostile), 5)  # refusals change no view
            after = {"dock": view.dock, "aircraft": dict(view.aircraft), "faults": list(view.faults)}
            return docks, {"before": before, "after": after}
        finally:
            await _close(broker, bus, stop, task)

    docks, state = asyncio.run(run())
    assert sum(docks.refused.values()) == 5, docks.refused
    assert state["before"] == state["after"]


def _order(sid: str, **kw: object) -> SortieOrder:
    lat, lon, amsl = PAD
    items = [
        MissionItem(0, Frame.GLOBAL, Cmd.NAV_WAYPOINT, x=lat, y=lon, z=amsl),
        MissionItem(1, Frame.GLOBAL, Cmd.NAV_TAKEOFF, x=lat, y=lon, z=amsl + 40),
        MissionItem(2, Frame.GLOBAL, Cmd.NAV_WAYPOINT, x=lat + 0.002, y=lon, z=amsl + 60),
        MissionItem(3, Frame.GLOBAL, Cmd.NAV_WAYPOINT, x=lat + 0.002, y=lon + 0.002, z=amsl + 60),
        MissionItem(4, Frame.GLOBAL_RELATIVE_ALT, Cmd.NAV_RETURN_TO_LAUNCH),
    ]
    return SortieOrder(id=sid, airport="yuehai", items=items, needed_pct=20, reserve_pct=25, cruise_ms=12,
                       flight_params={"RTL_ALT": 5000}, **kw)  # type: ignore[arg-type]  # fmt: skip


def test_a_sortie_from_a_dji_dock_goes_through_the_states_a_mavlink_one_does(storage: Storage) -> None:
    async def run() -> tuple[list[SortieRecord], DjiDockEmulator]:
        broker, bus, docks, dock, stop, task = await _world(storage)
        try:
            clock = lambda: datetime.now(UTC)  # noqa: E731
            runner = DjiSortieRunner(docks, "yuehai", "M3D", PAD[2], clock, speedup=40)
            flown = await runner.fly(_order("yuehai.patrol-1"))
            dock.wind_ms = 14.0  # the next OSD says so
            await docks.wait_for(lambda: getattr(docks.views["yuehai"].dock, "wind_ms", None) == 14.0, 3)
            windy = await runner.fly(_order("yuehai.patrol-2"))
            return [flown, windy], dock
        finally:
            await _close(broker, bus, stop, task)

    (flown, windy), dock = asyncio.run(run())
    states = [s.state for s in flown.steps]
    assert states == [SortieState.PREFLIGHT, SortieState.AIRBORNE, SortieState.RETURNING, SortieState.COMPLETED], states
    assert flown.steps[-1].reason == "landed in the dock"
    assert [s.state for s in windy.steps] == [SortieState.PREFLIGHT, SortieState.HELD]
    assert "wind 14.0 m/s over the 12 m/s limit" in windy.steps[-1].reason
    assert dock.calls == [("flighttask_prepare", 0), ("flighttask_execute", 0)], "the windy sortie asked nothing"
