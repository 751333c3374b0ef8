"""Simulator benchmark: simulated time over wall time at full telemetry.

Every vehicle is armed and flying a long GUIDED leg, with every telemetry stream asked for
at ArduCopter's usual rates (HEARTBEAT 1 Hz; GLOBAL_POSITION_INT, ATTITUDE, LOCAL_POSITION
4 Hz; the rest 1-2 Hz) and a ground station on loopback receiving it all, so the figure
includes MAVLink encoding and UDP. The world is stepped as fast as the machine allows; the
ratio of simulated to wall seconds is the speed-up it could sustain. Baseline: real time
(1x); targets >= 30x with 8 vehicles and >= 10x with 100 in one process.

Last line: one JSON object with speedup_8, speedup_100, cpu_ms_per_vehicle_s (CPU
milliseconds per simulated second per vehicle) and msgs_per_s.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cityscale import city

from missions.scenario import Scenario, load_scenario
from sim.mavlink.streams import DEFAULT_INTERVAL_S
from sim.vehicle.modes import Mode
from sim.world import SimWorld

SINK = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
frames = s.recv(65536).count(b"\\xfd")  # wait as long as the world takes to build
s.settimeout(1.0)
while True:
    try:
        data = s.recv(65536)
    except socket.timeout:
        break
    frames += data.count(b"\\xfd")
print(frames, flush=True)
"""
"""A ground station in its own process: counts MAVLink 2 frames (by their start byte,
an estimate) until the simulator has been quiet for a second."""


def _measure(scenario: Scenario, sim_seconds: float, base_port: int) -> dict[str, float]:
    sink = subprocess.Popen([sys.executable, "-c", SINK], stdout=subprocess.PIPE, text=True)
    assert sink.stdout is not None
    sink_addr = ("127.0.0.1", int(sink.stdout.readline()))
    result = asyncio.run(_fly(scenario, sim_seconds, base_port, sink_addr))
    result["msgs_per_s"] = int(sink.communicate(timeout=30)[0].strip() or 0) / result.pop("wall")
    return result


async def _fly(scenario: Scenario, sim_seconds: float, base_port: int, sink_addr: tuple[str, int]) -> dict[str, float]:
    world = SimWorld(
        scenario, scenario.day_start().replace(hour=10), speedup=1000, open_docks=True, base_port=base_port
    )
    await world.open()
    for i, v in enumerate(world.vehicles.values()):
        c = v.copter
        v.endpoint.peers[sink_addr] = time.monotonic() + 1e9  # a ground station that never goes quiet
        for name, interval in DEFAULT_INTERVAL_S.items():
            c.streams.set_interval(name, interval, 0.0)
        c.gcs_seen = False  # no GCS failsafe: this measures the simulator, not a link
        c.set_mode(Mode.GUIDED, 0.0)
        c.t = 5.0
        c.arm(0.0)
        c.guided = (3000.0 * (1 if i % 2 else -1), 3000.0, 80.0)
    world.run_for(1.0)
    steps = round(sim_seconds / 0.1)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(steps):
        world.step()
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    world.close()
    n = len(world.vehicles)
    return {
        "vehicles": n,
        "speedup": sim_seconds / wall,
        "cpu_ms_per_vehicle_s": cpu * 1000 / sim_seconds / n,
        "wall": wall,
        "airborne": sum(v.copter.airborne for v in world.vehicles.values()),
    }


def main() -> None:
    eight = _measure(load_scenario(), 300.0, 41000)
    print(
        f"8 vehicles: {eight['speedup']:.0f}x real time, {eight['cpu_ms_per_vehicle_s']:.2f} ms CPU per "
        f"vehicle-second, {eight['msgs_per_s']:.0f} MAVLink messages/s reached a ground station, "
        f"{eight['airborne']} airborne"
    )
    hundred = _measure(city(100, 10), 60.0, 42000)
    print(
        f"100 vehicles: {hundred['speedup']:.1f}x real time, {hundred['cpu_ms_per_vehicle_s']:.2f} ms CPU per "
        f"vehicle-second, {hundred['msgs_per_s']:.0f} MAVLink messages/s reached a ground station"
    )
    print(
        json.dumps(
            {
                "speedup_8": round(eight["speedup"], 1),
                "speedup_100": round(hundred["speedup"], 1),
                "cpu_ms_per_vehicle_s_8": round(eight["cpu_ms_per_vehicle_s"], 3),
                "cpu_ms_per_vehicle_s_100": round(hundred["cpu_ms_per_vehicle_s"], 3),
                "msgs_per_s_8": round(eight["msgs_per_s"]),
                "msgs_per_s_100": round(hundred["msgs_per_s"]),
                "baseline_speedup": 1.0,
            }
        )
    )


if __name__ == "__main__":
    main()
