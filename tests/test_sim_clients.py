"""Real third-party ground stations accept the simulator as a vehicle: MAVSDK and MAVProxy."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from missions.formats import wpl
from missions.formats.items import MissionItem
from missions.scenario import Scenario
from tests.conftest import square_mission

AIRPORT = "shekou"


def _rows(scenario: Scenario) -> list[tuple[int, int, float, float, float, float]]:
    return square_mission(scenario, AIRPORT, 0.0015, 35)


@pytest.mark.slow
def test_mavsdk_connects_uploads_flies_and_reads_telemetry(scenario: Scenario, sim_world) -> None:  # type: ignore[no-untyped-def]
    mavsdk = pytest.importorskip("mavsdk.asyncio")
    from mavsdk.asyncio.plugins.action import ActionAsync
    from mavsdk.asyncio.plugins.mavlink_direct import MavlinkDirectAsync, MavlinkMessage
    from mavsdk.asyncio.plugins.mission_raw import MissionItem as RawItem
    from mavsdk.asyncio.plugins.mission_raw import MissionRawAsync
    from mavsdk.asyncio.plugins.param import ParamAsync
    from mavsdk.asyncio.plugins.telemetry import TelemetryAsync

    world = sim_world(speedup=10, airports=[AIRPORT], open_docks=True)

    async def fly() -> None:
        config = mavsdk.Configuration.create_with_component_type(mavsdk.ComponentType.GROUND_STATION)
        drone = mavsdk.Mavsdk(config)
        try:
            await drone.add_any_connection(f"udpout://127.0.0.1:{world.vehicles[AIRPORT].port}")
            system = await drone.first_autopilot(10)
            assert system is not None
            telemetry, action = TelemetryAsync(system), ActionAsync(system)
            mission, params = MissionRawAsync(system), ParamAsync(system)
            # MAVSDK heartbeats at 1 Hz wall, 10 s simulated at this speed-up: widen the
            # GCS failsafe through the parameter protocol, as an operator would.
            await params.set_param_float("FS_GCS_TIMEOUT", 60.0)
            assert await params.get_param_float("FS_GCS_TIMEOUT") == 60.0
            # ArduPilot sends nothing until asked: MAVSDK's set_rate_* calls, and SYS_STATUS
            # (MAVSDK's health, PREARM_CHECK = armable) asked for by message interval.
            for set_rate in (
                telemetry.set_rate_position,
                telemetry.set_rate_battery,
                telemetry.set_rate_landed_state,
                telemetry.set_rate_home,
                telemetry.set_rate_in_air,
            ):
                await set_rate(4.0)
            ask = {
                "target_system": 1,
                "target_component": 1,
                "command": 511,
                "confirmation": 0,
                "param1": 1,
                "param2": 250000,
                "param3": 0,
                "param4": 0,
                "param5": 0,
                "param6": 0,
                "param7": 0,
            }
            await MavlinkDirectAsync(system).send_message(
                MavlinkMessage("COMMAND_LONG", 255, 190, 1, 1, json.dumps(ask))
            )
            for _ in range(50):
                health = await telemetry.health()
                if health.is_armable and health.is_home_position_ok and health.is_global_position_ok:
                    break
                await asyncio.sleep(0.2)
            assert health.is_armable and health.is_home_position_ok and health.is_global_position_ok
            # mission_raw with home at seq 0 (MAVSDK's mission plugin drops the first item on ArduPilot)
            items = [
                RawItem(i, f, c, 1 if i == 0 else 0, 1, p1, 0, 0, 0, round(la * 1e7), round(lo * 1e7), z, 0)
                for i, (f, c, p1, la, lo, z) in enumerate(_rows(scenario))
            ]
            await mission.upload_mission(items)
            back = await mission.download_mission()
            assert [it.command for it in back] == [r[1] for r in _rows(scenario)]
            await action.arm()
            await mission.start_mission()
            async with asyncio.timeout(90):
                async for progress in mission.subscribe_mission_progress():
                    if progress.current >= progress.total - 1 and progress.total > 0:
                        break
                async for landed in telemetry.subscribe_landed_state():
                    if landed.name == "ON_GROUND" and not await telemetry.armed():
                        break
            position = await telemetry.position()
            ap = scenario.airports[AIRPORT]
            assert abs(position.latitude_deg - ap.lat) < 2e-5 and abs(position.longitude_deg - ap.lon) < 2e-5
            battery = await telemetry.battery()
            assert 0.3 < battery.remaining_percent / 100 < 0.9 or 30 < battery.remaining_percent < 90
        finally:
            drone.destroy()

    asyncio.run(fly())


@pytest.mark.slow
def test_mavproxy_loads_a_waypoint_file_and_flies_it(scenario: Scenario, sim_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mavproxy = shutil.which("mavproxy.py", path=str(Path(sys.executable).parent))
    if mavproxy is None:
        pytest.skip("MAVProxy is not installed")
    world = sim_world(speedup=3, airports=[AIRPORT], open_docks=True)  # MAVProxy heartbeats at 1 Hz wall
    items = [MissionItem(i, f, c, p1, x=la, y=lo, z=z) for i, (f, c, p1, la, lo, z) in enumerate(_rows(scenario))]
    mission = tmp_path / "sortie.waypoints"
    mission.write_text(wpl.dumps(items))
    proc = subprocess.Popen(
        # Headless, with commands piped into stdin (commands given with --cmd run before the
        # link is up; --non-interactive stops it reading stdin at all).
        [sys.executable, mavproxy, f"--master={world.mavlink_url(AIRPORT)}", "--state-basedir", str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "MAVLINK20": "1"},
    )
    copter = world.vehicles[AIRPORT].copter
    try:
        time.sleep(3)  # link up; commands given before it are lost (MAVProxy's own behaviour)

        def say(line: str) -> None:
            assert proc.stdin is not None
            proc.stdin.write(line + "\n")
            proc.stdin.flush()

        say("param set FS_GCS_TIMEOUT 30")
        say(f"wp load {mission}")
        deadline = time.time() + 20
        while time.time() < deadline and copter.missions.count != len(items):
            time.sleep(0.2)
        assert copter.missions.count == len(items)
        say("mode AUTO")
        time.sleep(1)
        say("arm throttle")
        deadline = time.time() + 20
        while time.time() < deadline and not copter.armed:
            time.sleep(0.2)
        assert copter.armed and copter.mode.name == "AUTO"
        deadline = time.time() + 120
        while time.time() < deadline and (copter.armed or copter.runner.state != 5):
            time.sleep(0.5)
        assert not copter.armed and copter.runner.state == 5, "the mission completed and the drone landed"
        assert (copter.body.x**2 + copter.body.y**2) ** 0.5 < 1.0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # MAVProxy leaves a child behind: end its whole group
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
