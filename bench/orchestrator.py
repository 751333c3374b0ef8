"""Orchestrator links benchmark: command round trip, mission upload under loss, and the
event loop with 8 and 100 drones' telemetry.

The simulator runs in its own process (real time, every vehicle flying with its usual
telemetry streams, asked for by the links as a ground station must); this process runs
one `MavlinkLink` per drone, as the orchestrator does, and measures:

- command_rtt_ms: COMMAND_LONG -> COMMAND_ACK (a mode change), median of 50;
- upload100_s / upload100_loss5_s: a 100-item mission uploaded, without loss and with
  5 % of packets lost each way (target < 3 s on loopback);
- telemetry_msgs_per_s_N: MAVLink messages decoded per second with N drones;
- loop_lag_p99_ms_N: how late a 10 ms timer fires on the links' event loop, p99
  (target < 50 ms with 100 drones); baseline: the same timer with no links;
- store_transitions_per_s: sortie state changes committed per second to the SQLite
  store (each its own transaction: the state and its transition row), against the same
  number of bare sqlite3 INSERT + COMMIT in WAL mode (store_vs_bare_sqlite).

Last line: one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This file's folder must not come first: its name would hide the orchestrator package.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from missions.formats.items import MissionItem  # noqa: E402
from missions.scenario import load_scenario  # noqa: E402
from orchestrator.links.mavlink_link import MavlinkLink  # noqa: E402
from orchestrator.links.mission import upload  # noqa: E402

SIM = """
import asyncio, sys
sys.path.insert(0, {root!r}); sys.path.append({bench!r})
from cityscale import city
from missions.scenario import load_scenario
from missions.vocabulary import SimControl
from sim.world import SimWorld
n, base, loss = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
sc = load_scenario() if n <= 8 else city(n, 10)
async def main():
    world = SimWorld(sc, sc.day_start().replace(hour=10), speedup=1, open_docks=True, base_port=base)
    await world.open()
    for aid in world.vehicles:
        world.apply(SimControl(aid, "packet_loss", loss, 0))
    print(" ".join(f"{{aid}}={{world.mavlink_url(aid)}}" for aid in world.vehicles), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_reader(sys.stdin.fileno(), stop.set)
    await world.run(stop)
    world.close()
asyncio.run(main())
"""

STREAMS = (("GLOBAL_POSITION_INT", 4), ("ATTITUDE", 4), ("SYS_STATUS", 1), ("GPS_RAW_INT", 2), ("VFR_HUD", 2))


def start_sim(n: int, base: int, loss: float = 0.0) -> tuple[subprocess.Popen[str], dict[str, str]]:
    code = SIM.format(root=str(ROOT), bench=str(ROOT / "bench"))
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(n), str(base), str(loss)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    urls = dict(pair.split("=", 1) for pair in proc.stdout.readline().split())
    return proc, urls


def stop_sim(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("stop\n")
    proc.stdin.flush()
    proc.wait(30)


async def _lag(seconds: float) -> list[float]:
    lags = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        await asyncio.sleep(0.01)
        lags.append((time.monotonic() - t0 - 0.01) * 1000)
    return lags


def p99(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.99)]


async def fleet(urls: dict[str, str], seconds: float = 15.0) -> tuple[float, float]:
    links = [await MavlinkLink(url, heartbeat_hz=1).open() for url in urls.values()]
    try:
        await asyncio.gather(*(link.wait_heartbeat(20) for link in links))
        await asyncio.sleep(3.5)  # the autopilots' boot
        for link in links:
            for name, hz in STREAMS:
                await link.request_stream(name, hz)
        await asyncio.sleep(2.0)
        before = sum(link.received for link in links)
        t0 = time.monotonic()
        lags = await _lag(seconds)
        rate = (sum(link.received for link in links) - before) / (time.monotonic() - t0)
        return rate, p99(lags)
    finally:
        for link in links:
            await link.close()


def _mission(n: int) -> list[MissionItem]:
    sc = load_scenario()
    ap = sc.airports["shekou"]
    items = [
        MissionItem(0, 0, 16, x=ap.lat, y=ap.lon, z=ap.elevation_m),
        MissionItem(1, 3, 22, x=ap.lat, y=ap.lon, z=30),
    ]
    items += [
        MissionItem(k, 3, 16, x=ap.lat + 1e-4 * (k % 10), y=ap.lon + 1e-4 * (k // 10), z=40) for k in range(2, n - 1)
    ]
    items.append(MissionItem(n - 1, 3, 20))
    return items


async def single(urls: dict[str, str]) -> dict[str, float]:
    link = await MavlinkLink(urls["shekou"]).open()
    try:
        await link.wait_heartbeat(10)
        await asyncio.sleep(3.5)
        rtts = []
        for k in range(50):
            t0 = time.perf_counter()
            await link.set_mode(4 if k % 2 else 5)
            rtts.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        await upload(link, _mission(100), wait_s=0.1)
        return {"command_rtt_ms": round(statistics.median(rtts), 2), "upload": time.perf_counter() - t0}
    finally:
        await link.close()


def store_rates(n: int = 1000) -> tuple[float, float]:
    """(our store's state changes per second, bare sqlite3 commits per second)."""
    import sqlite3
    import tempfile
    from datetime import UTC, datetime, timedelta

    from orchestrator.store import SortieRow, Store

    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/bench.db")
        t0 = datetime(2026, 12, 2, tzinfo=UTC)
        store.add_sortie(SortieRow("s", "a", "a", "planned", "", {"items": []}, t0))
        start = time.perf_counter()
        for i in range(n):
            store.set_sortie_state("s", ("preflight", "airborne")[i % 2], "bench", t0 + timedelta(seconds=i))
        ours = n / (time.perf_counter() - start)
        store.close()
        conn = sqlite3.connect(f"{tmp}/bare.db")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, at TEXT, state TEXT, reason TEXT)")
        start = time.perf_counter()
        for i in range(n):
            conn.execute("INSERT INTO t (at, state, reason) VALUES (?, ?, ?)", (str(i), "airborne", "bench"))
            conn.commit()
        bare = n / (time.perf_counter() - start)
        conn.close()
    return ours, bare


def main() -> None:
    out: dict[str, float] = {}
    ours, bare = store_rates()
    out["store_transitions_per_s"] = round(ours)
    out["store_vs_bare_sqlite"] = round(ours / bare, 3)
    print(f"store: {ours:.0f} state changes/s committed (bare sqlite3 {bare:.0f} commits/s)", flush=True)
    baseline = p99(asyncio.run(_lag(5.0)))
    out["loop_lag_p99_ms_baseline"] = round(baseline, 2)
    proc, urls = start_sim(8, 43000)
    try:
        r = asyncio.run(single(urls))
        out["command_rtt_ms"] = r["command_rtt_ms"]
        out["upload100_s"] = round(r["upload"], 3)
    finally:
        stop_sim(proc)
    proc, urls = start_sim(8, 43100, loss=0.05)
    try:
        out["upload100_loss5_s"] = round(asyncio.run(single(urls))["upload"], 3)
    finally:
        stop_sim(proc)
    print(
        f"command round trip {out['command_rtt_ms']} ms; 100 items {out['upload100_s']} s, "
        f"with 5 % loss {out['upload100_loss5_s']} s",
        flush=True,
    )
    for n, base in ((8, 43200), (100, 44000)):
        proc, urls = start_sim(n, base)
        try:
            rate, lag = asyncio.run(fleet(urls))
        finally:
            stop_sim(proc)
        out[f"telemetry_msgs_per_s_{n}"] = round(rate)
        out[f"loop_lag_p99_ms_{n}"] = round(lag, 2)
        print(f"{n} drones: {rate:.0f} messages/s decoded, event-loop lag p99 {lag:.1f} ms", flush=True)
    out["telemetry_msgs_per_s"] = out["telemetry_msgs_per_s_100"]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
