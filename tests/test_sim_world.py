"""The simulated district as a whole: clock, weather, scenario faults, determinism, CLI."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from missions.scenario import Scenario
from missions.vocabulary import SimControl
from sim.vehicle.modes import Mode
from sim.world import SimWorld
from tests.conftest import free_udp_base


def _airborne_world(scenario: Scenario, seed: int, **kw) -> SimWorld:  # type: ignore[no-untyped-def]
    world = SimWorld(
        scenario,
        scenario.day_start().replace(hour=12),
        seed=seed,
        open_docks=True,
        airports=["yuehai", "taoyuan"],
        **kw,
    )
    world.run_for(3)
    for v in world.vehicles.values():
        c = v.copter
        c.set_mode(Mode.GUIDED, c.t)
        c.arm(c.t)
        c.guided = (1500.0, 900.0, 90.0)
    return world


def _track(world: SimWorld, seconds: int) -> list[tuple[float, ...]]:
    out = []
    for _ in range(seconds):
        world.run_for(1.0)
        for v in world.vehicles.values():
            b = v.copter.body
            out.append((round(b.x, 6), round(b.y, 6), round(b.alt, 6), round(b.energy_wh, 9)))
    return out


def test_same_seed_same_flight_in_gusty_wind(scenario: Scenario) -> None:
    a = _track(_airborne_world(scenario, 5), 90)
    b = _track(_airborne_world(scenario, 5), 90)
    c = _track(_airborne_world(scenario, 6), 90)
    assert a == b
    assert a != c, "another seed: other gusts and another consumption error"


def test_the_weather_timeline_reaches_wind_and_docks(scenario: Scenario) -> None:
    world = SimWorld(scenario, scenario.day_start().replace(hour=13, minute=20), airports=["xili"])
    world.run_for(5)
    assert world.dock_service("xili", "open_lid") == (True, "")
    world.run_for(20 * 60)  # into the gale that starts at 13:30
    assert world.vehicles["xili"].dock.weather is not None and world.vehicles["xili"].dock.weather.wind_ms > 12
    world.dock_service("xili", "close_lid")
    world.run_for(30)
    ok, reason = world.dock_service("xili", "open_lid")
    assert not ok and "wind" in reason
    assert abs(world.vehicles["xili"].wind.vector[0]) + abs(world.vehicles["xili"].wind.vector[1]) > 8


def test_faults_from_the_scenario_file_fire_at_their_time_and_clear(scenario: Scenario) -> None:
    start = scenario.day_start().replace(hour=9)
    faulty = dataclasses.replace(
        scenario,
        faults=(
            (start + timedelta(minutes=2), "shekou", "gps_loss", 1.0, 60.0),
            (start + timedelta(minutes=3), "shekou", "lid_jam", 1.0, 0.0),
        ),
    )
    world = SimWorld(faulty, start, airports=["shekou"])
    c = world.vehicles["shekou"].copter
    world.run_for(119)
    assert c.gps_ok
    world.run_for(2)
    assert not c.gps_ok
    world.run_for(60)
    assert c.gps_ok, "cleared after its duration"
    assert world.dock_service("shekou", "open_lid") == (False, "lid jammed")


def test_runtime_faults_battery_sag_and_motor_failure(scenario: Scenario) -> None:
    world = _airborne_world(scenario, 1)
    world.run_for(30)
    c = world.vehicles["yuehai"].copter
    before = c.body.energy_wh
    world.apply(SimControl("yuehai", "battery_sag", 20.0))
    assert c.body.energy_wh == pytest.approx(before - 20.0)
    world.apply(SimControl("taoyuan", "motor_failure"))
    t = world.vehicles["taoyuan"].copter
    world.run_for(60)
    assert t.mode is Mode.LAND and not t.armed and t.body.alt == 0
    assert t.set_mode(Mode.GUIDED, t.t) is False, "a failed motor allows nothing but landing"


@pytest.mark.slow
def test_the_sim_command_prints_its_endpoints_and_stops_cleanly_on_sigint() -> None:
    from pymavlink import mavutil

    base = free_udp_base()
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "sim", "--speedup", "10", "--base-port", str(base), "--open-docks"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        while not lines or not lines[-1].startswith("mqtt "):
            line = proc.stdout.readline()
            assert line, "the simulator ended before printing its endpoints"
            lines.append(line.strip())
        mav = [ln.split() for ln in lines if " mavlink " in ln]
        video = [ln.split() for ln in lines if " video " in ln]
        assert [m[1] for m in mav][:2] == ["xili", "taoyuan"] and len(mav) == 8 and len(video) == 8
        assert mav[0][3] == f"udpout:127.0.0.1:{base}"
        assert video[0][3].startswith("http://127.0.0.1:") and "/video/xili.mjpg?token=" in video[0][3]
        assert lines[-1].startswith("mqtt mqtt://127.0.0.1:")
        conn = mavutil.mavlink_connection(mav[1][3], source_system=255)
        conn.mav.heartbeat_send(6, 8, 0, 0, 0)
        hb = conn.wait_heartbeat(timeout=5)
        conn.close()
        assert hb is not None and hb.autopilot == 3
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "simulator stopped" in err and "Traceback" not in err
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate()
