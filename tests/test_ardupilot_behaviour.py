"""The links and the simulator held to what ArduPilot does, not to each other.

Each expectation cites the ArduPilot code it mirrors (libraries/AP_Mission/AP_Mission.cpp:
`mavlink_int_to_mission_cmd` stores an upload, `mission_cmd_to_mavlink_int` rebuilds it
for a download; libraries/GCS_MAVLink/MAVLink_routing.cpp forwards between links)."""

from __future__ import annotations

import asyncio
import math
import socket
import time

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from missions.autopilot import PARAMS as AUTOPILOT_PARAMS
from missions.autopilot import CopterLimits, speed_checks
from missions.fleet import Airport
from missions.formats.ardupilot import differences, stored
from missions.formats.items import Cmd, Frame, MissionItem, sortie_items
from missions.geo import haversine_m
from missions.patrols import work_path
from missions.response import response_flight
from missions.scenario import Scenario
from missions.sorties import plan_sorties
from orchestrator.links.mavlink_link import MavlinkLink
from orchestrator.links.mission import compare, download, upload, upload_verified

AIRPORT = "shekou"
LAT, LON = 22.4867, 113.9170


# --- what AP_Mission keeps, command by command -----------------------------------------------


@pytest.mark.parametrize(
    ("sent", "returned", "why"),
    [
        (
            MissionItem(5, 3, Cmd.NAV_RETURN_TO_LAUNCH, x=LAT, y=LON, z=80.0),
            MissionItem(5, 0, Cmd.NAV_RETURN_TO_LAUNCH),
            "RTL is not stored_in_location: download starts from a zeroed packet (frame 0, x y z 0)",
        ),
        (
            MissionItem(7, 3, Cmd.NAV_LAND, x=LAT, y=LON, z=0.0),
            MissionItem(7, 3, Cmd.NAV_LAND, 0, 0, 0, 1.0, x=LAT, y=LON, z=0.0),
            "NAV_LAND: param4 = loiter_ccw ? -1 : 1, so 0 comes back 1",
        ),
        (
            MissionItem(3, 6, Cmd.NAV_WAYPOINT, 12.7, 5.0, 3.0, 90.0, x=LAT, y=LON, z=80.456),
            MissionItem(3, 3, Cmd.NAV_WAYPOINT, 12.0, x=LAT, y=LON, z=80.45),
            "Copter waypoint: p1 (uint16 hold) only; RELATIVE_ALT_INT read back as RELATIVE_ALT; alt in whole cm",
        ),
        (
            MissionItem(4, 3, Cmd.NAV_LOITER_TURNS, 3.6, 0, 40.4, 0, x=LAT, y=LON, z=80.0),
            MissionItem(4, 3, Cmd.NAV_LOITER_TURNS, 3.0, 0, 40.0, 0, x=LAT, y=LON, z=80.0),
            "turns in the low byte, radius (whole metres) in the high byte of p1",
        ),
        (
            MissionItem(4, 3, Cmd.NAV_LOITER_TURNS, 2, 0, -300.0, 0.5, x=LAT, y=LON, z=80.0),
            MissionItem(4, 3, Cmd.NAV_LOITER_TURNS, 2, 0, -300.0, 1.0, x=LAT, y=LON, z=80.0),
            "radius over 255 m kept in tens of metres, sign = counter-clockwise, xtrack 0/1",
        ),
        (
            MissionItem(2, 2, Cmd.DO_CHANGE_SPEED, 1, 17.5, -1, 9),
            MissionItem(2, 0, Cmd.DO_CHANGE_SPEED, 1, 17.5, -1, 0),
            "speed type, target and throttle kept; param4 dropped; non-position frame read back 0",
        ),
        (
            MissionItem(3, 3, Cmd.DO_SET_ROI_LOCATION, 1, 2, 3, 4, x=LAT, y=LON, z=0.0),
            MissionItem(3, 3, Cmd.DO_SET_ROI_LOCATION, x=LAT, y=LON, z=0.0),
            "ROI location keeps its position and no parameters",
        ),
        (
            MissionItem(9, 2, Cmd.DO_SET_ROI_NONE),
            MissionItem(9, 0, Cmd.DO_SET_ROI_NONE),
            "ROI none: nothing but the command",
        ),
        (
            MissionItem(1, 0, Cmd.NAV_TAKEOFF, 15, x=LAT, y=LON, z=412.345, autocontinue=0),
            MissionItem(1, 0, Cmd.NAV_TAKEOFF, 15, x=LAT, y=LON, z=412.34, autocontinue=1),
            "take-off keeps p1 and its position; autocontinue always read back 1",
        ),
    ],
)
def test_arducopter_keeps_what_its_mission_storage_has_room_for(
    sent: MissionItem, returned: MissionItem, why: str
) -> None:
    assert differences(returned, stored(sent)) == [], why


def test_a_failed_read_back_names_the_field_that_differs() -> None:
    sent = [MissionItem(0, 0, 16), MissionItem(1, 3, Cmd.NAV_LAND, x=LAT, y=LON, z=0.0)]
    held = [MissionItem(0, 0, 16), MissionItem(1, 3, Cmd.NAV_LAND, 0, 0, 0, 1.0, x=LAT, y=LON + 1e-5, z=0.0)]
    why = compare(sent, held)
    assert why is not None and "item 1 (NAV_LAND)" in why and "y " in why and "param4" not in why
    held[1] = MissionItem(1, 3, Cmd.NAV_LAND, 0, 0, 0, 1.0, x=LAT, y=LON, z=0.0)
    assert compare(sent, held) is None, "param4 0 -> 1 is what ArduPilot does, not a difference"


# --- every item the planner and the alert flight emit, read back from the simulator ---------


def _patrol_mission(scenario: Scenario, patrol: str, airport: str) -> list[MissionItem]:
    ap = scenario.airports[airport]
    p = scenario.patrols[patrol]
    plan = plan_sorties(p.id, work_path(p, ap.drone), ap, scenario.airspace.router(frozenset()), (0.0, 0.0))
    return sortie_items(plan.sorties[0], scenario.frame, ap.lon, ap.lat, ap.elevation_m)


def _relocation_mission(scenario: Scenario, ap: Airport, to: Airport) -> list[MissionItem]:
    rel = Frame.GLOBAL_RELATIVE_ALT
    return [
        MissionItem(0, 0, Cmd.NAV_WAYPOINT, x=ap.lat, y=ap.lon, z=ap.elevation_m),
        MissionItem(1, rel, Cmd.NAV_TAKEOFF, x=ap.lat, y=ap.lon, z=60.0),
        MissionItem(2, 2, Cmd.DO_CHANGE_SPEED, 1, 12.0, -1),
        MissionItem(3, rel, Cmd.NAV_WAYPOINT, x=to.lat, y=to.lon, z=60.0),
        MissionItem(4, rel, Cmd.NAV_LAND, x=to.lat, y=to.lon, z=0.0),
    ]


def _alert_mission(scenario: Scenario) -> list[MissionItem]:
    from missions.dispatch import dispatch

    lon, lat = 113.9560, 22.5450
    ap = scenario.airports["yuehai"]
    decision = dispatch(scenario, lon, lat, scenario.day_start().replace(hour=11), {})
    assert decision.choice is not None
    target = scenario.to_xy(lon, lat)
    home = scenario.airspace.router(frozenset()).route(target, ap.xy)
    return response_flight(ap, scenario.frame, decision.choice, home, target).items


def test_every_item_the_planner_and_the_alert_flight_emit_reads_back_as_arducopter_keeps_it(
    sim_world, scenario: Scenario
) -> None:  # type: ignore[no-untyped-def]
    ap, other = scenario.airports[AIRPORT], scenario.airports["nanshan"]
    missions = {
        "patrol": _patrol_mission(scenario, "parking-sea-world", AIRPORT),
        "relocation": _relocation_mission(scenario, ap, other),
        "alert": _alert_mission(scenario),
    }
    kinds = {it.command for items in missions.values() for it in items}
    assert {Cmd.NAV_RETURN_TO_LAUNCH, Cmd.NAV_LAND, Cmd.NAV_LOITER_TURNS, Cmd.DO_SET_ROI_NONE} <= kinds
    world = sim_world(speedup=5, airports=[AIRPORT])

    async def run() -> dict[str, tuple[list[MissionItem], list[MissionItem]]]:
        link = await MavlinkLink(world.mavlink_url(AIRPORT), heartbeat_hz=5).open()
        await link.wait_heartbeat(5)
        out = {}
        try:
            for name, items in missions.items():
                await upload(link, items)
                raw = await download(link)
                held = await upload_verified(link, items)
                out[name] = (raw, held)
        finally:
            await link.close()
        return out

    got = asyncio.run(run())
    for name, items in missions.items():
        raw, _ = got[name]
        rtl = [h for s, h in zip(items, raw, strict=True) if s.command == Cmd.NAV_RETURN_TO_LAUNCH]
        assert all(h.frame == 0 for h in rtl), f"{name}: the simulator reads RTL back with frame 0, as ArduPilot"
        land = [h for s, h in zip(items, raw, strict=True) if s.command == Cmd.NAV_LAND]
        assert all(h.param4 == 1.0 for h in land), f"{name}: NAV_LAND param4 read back 1, as ArduPilot"
        assert compare(items, raw) is None, name


# --- a second ground station beside the service ------------------------------------------------


def test_another_ground_stations_heartbeats_reach_the_link_and_change_nothing(sim_world) -> None:  # type: ignore[no-untyped-def]
    """ArduPilot forwards a heartbeat from one link to the others (MAVLink_routing::
    handle_heartbeat); the service's link hears the observer and still follows only the
    autopilot: armed and flying stays armed and flying."""
    world = sim_world(speedup=5, airports=[AIRPORT], open_docks=True)
    port = int(world.mavlink_url(AIRPORT).rsplit(":", 1)[1])

    async def run() -> tuple[int, int, list[bool]]:
        link = await MavlinkLink(world.mavlink_url(AIRPORT), heartbeat_hz=5).open()
        observer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        mav = mavlink2.MAVLink(None, srcSystem=254, srcComponent=190)
        beat = mav.heartbeat_encode(mavlink2.MAV_TYPE_GCS, mavlink2.MAV_AUTOPILOT_INVALID, 0, 0, 0).pack(mav)
        armed: list[bool] = []
        try:
            await link.wait_heartbeat(5)
            while link.latest["HEARTBEAT"].system_status < mavlink2.MAV_STATE_STANDBY:  # booting: not armable
                await link.wait_for("HEARTBEAT", 2)
            await link.set_mode(4)
            await link.arm()
            await link.takeoff(20)
            armed_flag = mavlink2.MAV_MODE_FLAG_SAFETY_ARMED
            await link.wait_for(lambda m: m.get_type() == "HEARTBEAT" and m.base_mode & armed_flag, 5)
            end = time.monotonic() + 3.0
            while time.monotonic() < end:
                observer.sendto(beat, ("127.0.0.1", port))
                await asyncio.sleep(0.05)
                hb = link.latest["HEARTBEAT"]
                armed.append(bool(hb.base_mode & mavlink2.MAV_MODE_FLAG_SAFETY_ARMED))
            return link.ignored, world.vehicles[AIRPORT].endpoint.stats.forwarded, armed
        finally:
            observer.close()
            await link.close()

    ignored, forwarded, armed = asyncio.run(run())
    assert forwarded > 10, "the simulator forwards the observer's heartbeats, as ArduPilot does"
    assert ignored > 10, "the link heard them and counted them as not the vehicle's"
    assert armed and all(armed), "the vehicle's state never read as disarmed"


# --- a lost final acknowledgement ---------------------------------------------------------------


class _LossyPath(asyncio.DatagramProtocol):
    """A UDP path between the service and the vehicle that loses the vehicle's first
    datagram carrying MISSION_ACK ACCEPTED (loopback never loses; a busy host does)."""

    def __init__(self, vehicle: tuple[str, int]) -> None:
        self.vehicle = vehicle
        self.gcs: tuple[str, int] | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.parser = mavlink2.MAVLink(None)
        self.parser.robust_parsing = True
        self.lost = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        if addr != self.vehicle:
            self.gcs = addr
            self.transport.sendto(data, self.vehicle)
            return
        msgs = self.parser.parse_buffer(data) or []
        if not self.lost and any(m.get_type() == "MISSION_ACK" and m.type == 0 for m in msgs):
            self.lost += 1
            return
        if self.gcs is not None:
            self.transport.sendto(data, self.gcs)


def test_an_upload_whose_acknowledgement_is_lost_is_confirmed_by_reading_it_back(sim_world, scenario: Scenario) -> None:  # type: ignore[no-untyped-def]
    world = sim_world(speedup=5, airports=[AIRPORT])
    port = int(world.mavlink_url(AIRPORT).rsplit(":", 1)[1])
    items = _relocation_mission(scenario, scenario.airports[AIRPORT], scenario.airports["nanshan"])

    async def run() -> tuple[int, list[MissionItem]]:
        loop = asyncio.get_running_loop()
        transport, path = await loop.create_datagram_endpoint(
            lambda: _LossyPath(("127.0.0.1", port)), local_addr=("127.0.0.1", 0)
        )
        proxy_port = transport.get_extra_info("sockname")[1]
        link = await MavlinkLink(f"udpout:127.0.0.1:{proxy_port}", heartbeat_hz=5).open()
        try:
            await link.wait_heartbeat(5)
            held = await upload_verified(link, items, attempts=1)
            return path.lost, held
        finally:
            await link.close()
            transport.close()

    lost, held = asyncio.run(run())
    assert lost == 1, "the acknowledgement really was lost"
    assert compare(items, held) is None


# --- the speeds ArduCopter flies ------------------------------------------------------------------


def test_an_orbit_is_flown_at_ac_circle_speed_as_measured_on_a_real_arducopter() -> None:
    """AC_Circle::calc_velocities: min(WPNAV_SPEED, sqrt(0.5 * WPNAV_ACCEL * r), CIRCLE_RATE * r).
    With ArduCopter's defaults a real 4.7 SITL quad flew a 40 m orbit at about 7 m/s."""
    limits = CopterLimits()
    assert limits.orbit_speed_ms(40.0) == pytest.approx(7.07, abs=0.05)
    assert CopterLimits.from_params({"WPNAV_ACCEL": 500}).orbit_speed_ms(40.0) == pytest.approx(10.0, abs=0.01)
    assert CopterLimits.from_params({"CIRCLE_RATE": 5}).orbit_speed_ms(40.0) == pytest.approx(3.49, abs=0.01)
    assert limits.orbit_speed_ms(400.0) == 10.0, "WPNAV_SPEED caps a wide circle"


def test_the_alert_orbit_is_planned_and_flown_at_the_speed_the_drones_parameters_allow(
    sim_world, scenario: Scenario
) -> None:  # type: ignore[no-untyped-def]
    from missions.dispatch import dispatch

    world = sim_world(speedup=20, airports=["yuehai"], open_docks=True)
    lon, lat = 113.9560, 22.5450
    ap = scenario.airports["yuehai"]

    async def run() -> tuple[float, float, float, list[float]]:
        link = await MavlinkLink(world.mavlink_url("yuehai"), heartbeat_hz=20, link_timeout_s=1.0).open()
        try:
            await link.wait_heartbeat(5)
            while link.latest["HEARTBEAT"].system_status < mavlink2.MAV_STATE_STANDBY:
                await link.wait_for("HEARTBEAT", 2)
            limits = CopterLimits.from_params({p: await link.read_param(p) for p in AUTOPILOT_PARAMS})
            decision = dispatch(scenario, lon, lat, world.clock.now(), {})
            assert decision.choice is not None and decision.choice.airport_id == "yuehai"
            target = scenario.to_xy(lon, lat)
            home = scenario.airspace.router(frozenset()).route(target, ap.xy)
            flight = response_flight(ap, scenario.frame, decision.choice, home, target, limits=limits)
            orbit = next(i for i in flight.items if i.command == Cmd.NAV_LOITER_TURNS)
            await upload_verified(link, flight.items)
            await link.request_stream("GLOBAL_POSITION_INT", 4)
            await link.set_mode(4)
            await link.arm()
            await link.takeoff(flight.alt_m)
            await link.wait_for(lambda m: m.get_type() == "GLOBAL_POSITION_INT" and m.relative_alt > 20_000, 60)
            await link.set_mode(3)
            # The orbit starts over the spot and ends with its MISSION_ITEM_REACHED (sent, as
            # by AP_Mission, when the turns are done); speeds are sampled in between.
            t0: float | None = None
            speeds: list[float] = []
            current = 0
            wanted = ("GLOBAL_POSITION_INT", "MISSION_CURRENT", "MISSION_ITEM_REACHED")
            with link.subscribe(lambda m: m.get_type() in wanted) as q:
                while True:
                    m = await asyncio.wait_for(q.get(), 120)
                    kind = m.get_type()
                    if kind == "MISSION_CURRENT":
                        current = m.seq
                    elif kind == "MISSION_ITEM_REACHED" and m.seq == orbit.seq:
                        break
                    elif kind == "GLOBAL_POSITION_INT" and current == orbit.seq:
                        if t0 is None and haversine_m(m.lon / 1e7, m.lat / 1e7, orbit.y, orbit.x) < 5.0:
                            t0 = m.time_boot_ms / 1000
                        elif t0 is not None:
                            speeds.append(math.hypot(m.vx, m.vy) / 100)
            t1 = link.latest["GLOBAL_POSITION_INT"].time_boot_ms / 1000
            assert t0 is not None, "the drone reached the spot"
            return flight.orbit_s, t1 - t0, limits.orbit_speed_ms(abs(orbit.param3)), speeds
        finally:
            await link.close()

    planned_s, flown_s, planned_ms, speeds = asyncio.run(run())
    assert flown_s == pytest.approx(planned_s, rel=0.10), (flown_s, planned_s)
    steady = sorted(speeds)[len(speeds) // 4 : -len(speeds) // 4 or None]
    assert steady and sum(steady) / len(steady) == pytest.approx(planned_ms, rel=0.10), (planned_ms, steady)


def test_legs_flown_slower_than_planned_are_found() -> None:
    rel = Frame.GLOBAL_RELATIVE_ALT
    items = [
        MissionItem(0, 0, Cmd.NAV_WAYPOINT, x=LAT, y=LON, z=0),
        MissionItem(1, rel, Cmd.NAV_TAKEOFF, x=LAT, y=LON, z=80),
        MissionItem(2, 2, Cmd.DO_CHANGE_SPEED, 1, 20.0, -1),
        MissionItem(3, rel, Cmd.NAV_WAYPOINT, x=LAT, y=LON, z=80),
        MissionItem(4, rel, Cmd.NAV_WAYPOINT, x=LAT + 0.018, y=LON, z=80),  # 2.0 km north
        MissionItem(5, rel, Cmd.NAV_WAYPOINT, x=LAT + 0.0181, y=LON, z=80),  # 11 m: too short to judge
        MissionItem(6, rel, Cmd.NAV_RETURN_TO_LAUNCH),
    ]
    checks = speed_checks(items, {1: 0.0, 3: 10.0, 4: 210.0, 5: 212.0})
    assert [(c.seq, c.planned_ms) for c in checks] == [(4, 20.0)]
    assert checks[0].flown_ms == pytest.approx(10.0, rel=0.01) and checks[0].error == pytest.approx(-0.5, abs=0.01)


def test_a_take_off_refused_because_disarm_delay_ran_out_is_armed_and_tried_again(sim_world) -> None:  # type: ignore[no-untyped-def]
    """ArduCopter disarms a drone left armed on the ground for DISARM_DELAY; a ground station
    late with NAV_TAKEOFF (a busy machine) gets FAILED. The executor arms again and retries."""
    from orchestrator.executor.sortie import SortieOrder, SortieRunner

    world = sim_world(speedup=10, airports=[AIRPORT], open_docks=True)

    async def run() -> tuple[list[str], bool]:
        link = await MavlinkLink(world.mavlink_url(AIRPORT), heartbeat_hz=10).open()
        notes: list[str] = []
        try:
            await link.wait_heartbeat(5)
            while link.latest["HEARTBEAT"].system_status < mavlink2.MAV_STATE_STANDBY:
                await link.wait_for("HEARTBEAT", 2)
            assert await link.set_param("DISARM_DELAY", 2) == 2
            await link.set_mode(4)
            takeoff = link.takeoff
            late = [True]
            armed_flag = mavlink2.MAV_MODE_FLAG_SAFETY_ARMED

            async def late_takeoff(alt_m: float) -> None:
                if late.pop() if late else False:  # late: DISARM_DELAY runs out first
                    await link.wait_for(lambda m: m.get_type() == "HEARTBEAT" and not m.base_mode & armed_flag, 10)
                await takeoff(alt_m)

            link.takeoff = late_takeoff  # type: ignore[method-assign]
            runner = SortieRunner(
                link, None, world.clock.now, 10, on_command=lambda n: notes.append(f"{n.command} {n.result}")
            )  # type: ignore[arg-type]
            await runner._arm_and_take_off(SortieOrder("t", AIRPORT, [], takeoff_alt_m=20))
            hb = await link.wait_for("HEARTBEAT", 2)
            return notes, bool(hb.base_mode & mavlink2.MAV_MODE_FLAG_SAFETY_ARMED)
        finally:
            await link.close()

    notes, armed = asyncio.run(run())
    assert notes[:2] == ["arm accepted", "takeoff failed"] and notes[2:] == ["arm accepted", "takeoff accepted"], notes
    assert armed
