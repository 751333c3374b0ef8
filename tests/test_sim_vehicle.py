"""The simulated ArduCopter's core, stepped by hand: commands, missions, failsafes."""

from __future__ import annotations

import math
from typing import Any

import pytest

from missions.fleet import DroneModel
from sim.mavlink.messages import ACCEPTED, DENIED, FAILED, UNSUPPORTED, Out
from sim.vehicle.copter import Copter
from sim.vehicle.modes import Mode

HOME = (113.912, 22.492, 20.0)
GCS = (255, 190)


def _copter(seed: int = 0, soc: float = 0.9) -> Copter:
    c = Copter(1, *HOME, DroneModel(), seed=seed, soc=soc)
    run(c, 3.0)  # past boot
    return c


def run(c: Copter, seconds: float, dt: float = 0.1, gcs: bool = False) -> list[Out]:
    out: list[Out] = []
    for _ in range(round(seconds / dt)):
        if gcs and round(c.t / dt) % 10 == 0:
            c.handle("HEARTBEAT", {"type": 6}, GCS, c.t)
        out += c.step(dt, c.t, (0.0, 0.0))
    return out


def cmd(c: Copter, command: int, *p: float) -> tuple[int, list[Out]]:
    params = [*p, *([0.0] * (7 - len(p)))]
    out = c.handle("COMMAND_LONG", {"command": command, **{f"param{i + 1}": v for i, v in enumerate(params)}}, GCS, c.t)
    acks = [o for o in out if o.name == "COMMAND_ACK"]
    assert len(acks) == 1 and acks[0].fields["command"] == command, "every command gets exactly one COMMAND_ACK"
    return acks[0].fields["result"], out


def texts(out: list[Out]) -> list[str]:
    return [o.fields["text"].decode() for o in out if o.name == "STATUSTEXT"]


def upload(c: Copter, items: list[tuple[int, int, float, float, float, float]]) -> list[Out]:
    """(frame, command, param1, lat, lon, alt) rows after home; through the real protocol."""
    rows = [(0, 16, 0.0, HOME[1], HOME[0], HOME[2]), *items]
    out = c.handle("MISSION_COUNT", {"count": len(rows), "mission_type": 0}, GCS, c.t)
    for seq, (frame, command, p1, lat, lon, alt) in enumerate(rows):
        assert out[-1].name == "MISSION_REQUEST" and out[-1].fields["seq"] == seq
        out = c.handle("MISSION_ITEM_INT", _item(seq, frame, command, p1, lat, lon, alt), GCS, c.t)
    assert out[-1].name == "MISSION_ACK" and out[-1].fields["type"] == 0
    return out


def _item(seq: int, frame: int, command: int, p1: float, lat: float, lon: float, alt: float) -> dict[str, Any]:
    return {
        "seq": seq,
        "frame": frame,
        "command": command,
        "current": 0,
        "autocontinue": 1,
        "param1": p1,
        "param2": 0.0,
        "param3": 0.0,
        "param4": 0.0,
        "x": round(lat * 1e7),
        "y": round(lon * 1e7),
        "z": alt,
        "mission_type": 0,
    }


def test_command_results_match_a_real_arducopter() -> None:
    c = _copter()
    assert cmd(c, 22, 0, 0, 0, 0, 0, 0, 20)[0] == FAILED, "take-off while disarmed"
    c.set_mode(Mode.AUTO, c.t)
    result, out = cmd(c, 400, 1)
    assert result == FAILED and "Arm: Mode requires mission" in texts(out)
    c.set_mode(Mode.BRAKE, c.t)
    assert cmd(c, 400, 1)[0] == FAILED
    assert cmd(c, 31337)[0] == UNSUPPORTED
    assert cmd(c, 176, 1, Mode.GUIDED)[0] == ACCEPTED
    assert cmd(c, 400, 1)[0] == ACCEPTED
    assert cmd(c, 22, 0, 0, 0, 0, 0, 0, 30)[0] == ACCEPTED
    run(c, 15)
    assert c.body.alt == pytest.approx(30, abs=0.5) and c.armed
    assert cmd(c, 178, 0, -5)[0] == DENIED, "out-of-range parameter"


def test_arming_checks_say_why() -> None:
    c = _copter()
    c.set_mode(Mode.GUIDED, c.t)
    c.lid_open = False
    result, out = cmd(c, 400, 1)
    assert result == FAILED and texts(out) == ["Arm: Dock lid closed"]
    c.lid_open, c.gps_ok = True, False
    assert "Arm: GPS 1: No 3D fix" in texts(cmd(c, 400, 1)[1])
    c.gps_ok = True
    c.body.energy_wh = 0.2 * c.model.battery_wh
    assert "Arm: Battery below minimum arming capacity" in texts(cmd(c, 400, 1)[1])


def test_disarm_delay_disarms_an_idle_armed_vehicle() -> None:
    c = _copter()
    c.set_mode(Mode.GUIDED, c.t)
    cmd(c, 400, 1)
    run(c, 12)
    assert not c.armed


def test_auto_mission_reaches_every_item_and_rtl_lands_on_the_pad() -> None:
    c = _copter()
    lat, lon = HOME[1], HOME[0]
    upload(
        c,
        [
            (3, 22, 0, lat, lon, 30),
            (3, 16, 5, lat + 0.003, lon, 40),
            (3, 178, 0, 0, 0, 0),
            (3, 19, 10, lat + 0.003, lon + 0.003, 40),
            (3, 20, 0, 0, 0, 0),
        ],
    )
    c.set_mode(Mode.AUTO, c.t)
    result, out = cmd(c, 400, 1)
    assert result == ACCEPTED
    out += run(c, 400)
    reached = [o.fields["seq"] for o in out if o.name == "MISSION_ITEM_REACHED"]
    assert reached == [1, 2, 4, 5]
    said = texts(out)
    assert "Mission: 2 WP" in said and "Reached command #4" in said
    assert not c.armed and c.mode is Mode.AUTO, "an RTL item keeps AUTO while it returns, lands and disarms"
    assert math.hypot(c.body.x, c.body.y) < 1.0 and c.body.alt == 0
    last = [o for o in out if o.name == "MISSION_CURRENT"][-1].fields
    assert (last["seq"], last["total"], last["mission_state"]) == (0, 5, 5)


def test_mission_protocol_errors_as_ardupilot_sends_them() -> None:
    c = _copter()
    out = c.handle("MISSION_COUNT", {"count": 3, "mission_type": 0}, GCS, c.t)
    assert out[-1].fields["seq"] == 0
    out = c.handle("MISSION_ITEM_INT", _item(2, 3, 16, 0, 22.5, 113.9, 30), GCS, c.t)
    assert [o.name for o in out] == ["MISSION_ACK", "MISSION_REQUEST"]
    assert out[0].fields["type"] == 13 and out[1].fields["seq"] == 0, "INVALID_SEQUENCE, then asks again"
    c.handle("MISSION_ITEM_INT", _item(0, 0, 16, 0, 22.5, 113.9, 30), GCS, c.t)
    out = c.handle("MISSION_ITEM_INT", _item(1, 3, 31999, 0, 22.5, 113.9, 30), GCS, c.t)
    assert out[-1].name == "MISSION_ACK" and out[-1].fields["type"] == 3, "unknown command: UNSUPPORTED"
    assert c.handle("MISSION_COUNT", {"count": 5000, "mission_type": 0}, GCS, c.t)[-1].fields["type"] == 4
    assert c.missions.count == 1, "a failed upload leaves the stored mission alone"


def test_item_zero_is_home_and_downloads_come_back_in_either_form() -> None:
    c = _copter()
    upload(c, [(3, 22, 0, HOME[1], HOME[0], 30)])
    assert c.handle("MISSION_REQUEST_LIST", {"mission_type": 0}, GCS, c.t)[0].fields["count"] == 2
    as_int = c.handle("MISSION_REQUEST_INT", {"seq": 0, "mission_type": 0}, GCS, c.t)[0]
    as_float = c.handle("MISSION_REQUEST", {"seq": 0, "mission_type": 0}, GCS, c.t)[0]
    assert as_int.name == "MISSION_ITEM_INT" and as_int.fields["x"] == round(HOME[1] * 1e7)
    assert as_float.name == "MISSION_ITEM" and as_float.fields["x"] == pytest.approx(HOME[1])
    assert as_int.fields["z"] == HOME[2]


def _airborne(seed: int = 0) -> Copter:
    c = _copter(seed)
    c.set_mode(Mode.GUIDED, c.t)
    cmd(c, 400, 1)
    cmd(c, 22, 0, 0, 0, 0, 0, 0, 40)
    run(c, 12, gcs=True)
    assert c.body.alt > 35
    return c


def test_battery_failsafes_rtl_then_land() -> None:
    c = _airborne()
    c.body.energy_wh = 850 / c.params["BATT_CAPACITY"] * c.model.battery_wh
    out = run(c, 1, gcs=True)
    assert c.mode is Mode.RTL and "Battery 1 is low" in texts(out)
    c.body.energy_wh = 400 / c.params["BATT_CAPACITY"] * c.model.battery_wh
    out = run(c, 1, gcs=True)
    assert c.mode is Mode.LAND and "Battery 1 is critical" in texts(out)


def test_gcs_loss_triggers_rtl_after_the_timeout() -> None:
    c = _airborne()
    run(c, c.params["FS_GCS_TIMEOUT"] - 1)
    assert c.mode is Mode.GUIDED
    out = run(c, 2)
    assert c.mode is Mode.RTL and "GCS Failsafe" in texts(out)
    out = run(c, 400)
    assert not c.armed and math.hypot(c.body.x, c.body.y) < 1.0


def test_fence_breach_returns_home() -> None:
    c = _airborne()
    c.params.set("FENCE_RADIUS", 100)
    lon, lat = c.lonlat_of(300, 0)
    cmd(c, 192, -1, 0, 0, 0, lat, lon, 40)
    out = run(c, 60, gcs=True)
    assert "Fence Breached: Circle" in texts(out) and c.mode is Mode.RTL


def test_gps_loss_lands() -> None:
    c = _airborne()
    c.gps_ok = False
    out = run(c, 2, gcs=True)
    assert c.mode is Mode.LAND and any("EKF Failsafe" in t for t in texts(out))


def test_parameters_read_set_and_refuse() -> None:
    c = _copter()
    values = c.handle("PARAM_REQUEST_LIST", {}, GCS, c.t)
    assert {o.fields["param_id"].decode() for o in values} >= {"FS_GCS_ENABLE", "FENCE_ACTION", "BATT_LOW_MAH"}
    out = c.handle("PARAM_SET", {"param_id": "FS_GCS_TIMEOUT", "param_value": 10.0, "param_type": 9}, GCS, c.t)
    assert out[0].fields["param_value"] == 10.0 and c.params["FS_GCS_TIMEOUT"] == 10.0
    out = c.handle("PARAM_SET", {"param_id": "FS_GCS_TIMEOUT", "param_value": 500.0, "param_type": 9}, GCS, c.t)
    assert out[0].fields["param_value"] == 10.0, "out of range: the old value comes back"
    assert c.handle("PARAM_SET", {"param_id": "NO_SUCH", "param_value": 1.0, "param_type": 9}, GCS, c.t) == []


def test_streams_are_off_until_asked_then_at_the_asked_rate() -> None:
    c = _copter()
    names = {o.name for o in run(c, 5)}
    assert names == {"HEARTBEAT"}
    result, _ = cmd(c, 511, 33, 250_000)
    assert result == ACCEPTED
    out = run(c, 10)
    assert sum(o.name == "GLOBAL_POSITION_INT" for o in out) == pytest.approx(40, abs=1)
    assert sum(o.name == "HEARTBEAT" for o in out) == pytest.approx(10, abs=1)
    _, out = cmd(c, 512, 242)
    assert [o.name for o in out] == ["HOME_POSITION", "COMMAND_ACK"], "home comes before the ACK"


def _flight(seed: int) -> list[tuple[float, float, float, float]]:
    c = _airborne(seed)
    lon, lat = c.lonlat_of(800, 600)
    cmd(c, 192, -1, 0, 0, 0, lat, lon, 60)
    track = []
    for _ in range(60):
        run(c, 1, gcs=True)
        track.append((round(c.body.x, 6), round(c.body.y, 6), round(c.body.alt, 6), round(c.body.energy_wh, 9)))
    return track


def test_same_seed_same_flight_and_another_seed_another_battery() -> None:
    a, b, other = _flight(1), _flight(1), _flight(2)
    assert a == b
    assert [p[:3] for p in a] == [p[:3] for p in other], "no wind: the path itself does not depend on the seed"
    assert a[-1][3] != other[-1][3], "the seeded consumption error differs"


def test_a_planned_sortie_flies_as_planned_within_the_energy_error() -> None:
    """The planner's mission for a real patrol, flown by the simulated copter: every item
    reached, home again, and the battery within a few percent of the plan."""
    from missions.formats.items import sortie_items
    from missions.patrols import work_path
    from missions.scenario import load_scenario
    from missions.sorties import plan_sorties

    sc = load_scenario()
    ap = sc.airports["shekou"]
    patrol = sc.patrols["danan-xiaonan"]
    plan = plan_sorties(patrol.id, work_path(patrol, ap.drone), ap, sc.airspace.router(frozenset()), (0.0, 0.0))
    sortie = plan.sorties[0]
    items = sortie_items(sortie, sc.frame, ap.lon, ap.lat, ap.elevation_m)
    c = Copter(1, ap.lon, ap.lat, ap.elevation_m, ap.drone, seed=3, soc=sortie.start_soc)
    run(c, 3.0)
    out = c.handle("MISSION_COUNT", {"count": len(items), "mission_type": 0}, GCS, c.t)
    for it in items:
        out = c.handle(
            "MISSION_ITEM_INT",
            _item(it.seq, it.frame, it.command, it.param1, it.x, it.y, it.z)
            | {"param2": it.param2, "param3": it.param3, "param4": it.param4},
            GCS,
            c.t,
        )
    assert out[-1].fields["type"] == 0
    c.set_mode(Mode.AUTO, c.t)
    assert cmd(c, 400, 1)[0] == ACCEPTED
    out = run(c, sortie.duration_s + 300, gcs=True)
    nav = [it.seq for it in items[1:] if it.command in (16, 20, 21, 22)]
    reached = [o.fields["seq"] for o in out if o.name == "MISSION_ITEM_REACHED"]
    assert reached == nav
    assert not c.armed and math.hypot(c.body.x, c.body.y) < 1.0
    assert c.body.soc == pytest.approx(sortie.land_soc, abs=0.06)
    assert c.body.soc > ap.drone.reserve - 0.04


def test_command_int_repositions_and_clear_all_empties_the_mission() -> None:
    c = _airborne()
    lon, lat = c.lonlat_of(200, 150)
    out = c.handle(
        "COMMAND_INT",
        {
            "command": 192,
            "frame": 6,
            "param1": -1,
            "param2": 0,
            "param3": 0,
            "param4": 0,
            "x": round(lat * 1e7),
            "y": round(lon * 1e7),
            "z": 50.0,
        },
        GCS,
        c.t,
    )
    assert out[-1].fields == {**out[-1].fields, "command": 192, "result": ACCEPTED}
    run(c, 60, gcs=True)
    assert math.hypot(c.body.x - 200, c.body.y - 150) < 1.0 and c.body.alt == pytest.approx(50, abs=0.5)
    upload(c, [(3, 16, 0, HOME[1], HOME[0], 30)])
    assert c.missions.count == 2
    ack = c.handle("MISSION_CLEAR_ALL", {"mission_type": 0}, GCS, c.t)[0]
    assert ack.name == "MISSION_ACK" and ack.fields["type"] == 0 and c.missions.count == 1
