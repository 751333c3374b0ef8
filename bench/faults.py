"""Fault campaign: the simulated district through a storm, and what must still hold.

The district (8 drones on MAVLink/UDP, docks on MQTT, the service and its API, all in one
process as `demo` runs them) flies 09:30-11:30 of the scenario's day at 30x with its
patrols and the day's scripted alerts, and meanwhile:

- 20 % packet loss on every drone link, both ways, the whole time;
- 10,000 malformed MQTT messages: junk as the alert system (alerts/in) and as vision
  (findings), and anonymous clients that the broker must turn away;
- 10,000 fuzzed MAVLink frames into the service's drone links from the drones' own
  address (random bytes, bit-flipped heartbeats, frames of a stranger system);
- the alert system's webhook receiver down (503) for the first simulated hour;
- a burst of five alerts posted to the API at once at 10:30;
- the API polled every half second throughout.

Invariants checked at the end, each a row of the table: every alert taken and none left
unserved while a drone was free; no drone armed without the service watching it; every
incident's deliveries arrived, in order, none twice past its idempotency key; no 5xx; the
service healthy. Exit 1 when one fails. Last line: one JSON object.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import aiomqtt  # noqa: E402
import httpx  # noqa: E402

from missions.bus_access import BusRole  # noqa: E402
from missions.scenario import load_scenario  # noqa: E402
from missions.vocabulary import ALERTS_IN_TOPIC, SimControl, findings_topic  # noqa: E402
from orchestrator.commands.demo import demo_users, sim_failsafes, simulated_district  # noqa: E402
from orchestrator.commands.serve import ApiServer  # noqa: E402
from orchestrator.scheduler.day import SchedulerConfig  # noqa: E402
from orchestrator.settings import AlertSettings, WebhookTarget  # noqa: E402
from sim.alert_system import SimAlertSystem  # noqa: E402
from tests.webhook import WebhookReceiver  # noqa: E402

SPEEDUP = float(os.environ.get("BENCH_FAULTS_SPEEDUP", "30"))
HOURS = float(os.environ.get("BENCH_FAULTS_HOURS", "2"))
N_MQTT = int(os.environ.get("BENCH_FAULTS_MQTT", "10000"))
N_MAVLINK = int(os.environ.get("BENCH_FAULTS_MAVLINK", "10000"))
LOSS = 0.2
WEBHOOK_DOWN_S = 3600.0
SERVED = {"dispatched", "on_scene", "seen", "nothing_seen", "merged"}


def junk_mqtt(rng: random.Random) -> bytes:
    kind = rng.randrange(6)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 400))
    if kind == 1:
        return b'{"kind": "fire", "lat": ' + str(rng.uniform(-1e9, 1e9)).encode()  # cut short
    if kind == 2:
        return json.dumps({"kind": rng.choice(["fire", "x" * 300, None]), "lat": "north", "lon": []}).encode()
    if kind == 3:
        return b"<?xml version='1.0'?><!DOCTYPE a [<!ENTITY e 'x'>]><alert>&e;</alert>"
    if kind == 4:
        return json.dumps({"id": "../../etc/passwd", "kind": "fire", "lat": 22.5, "lon": 113.9}).encode()
    return b"\x00" * rng.randrange(1, 64)


async def flood_mqtt(district: Any, n: int, spread_s: float, counts: Counter[str]) -> None:
    """Junk at a steady rate; a sender the broker drops connects again (and is counted)."""
    sent = 0
    while sent < n:
        try:
            sent = await _flood(district, sent, n, spread_s, counts)
        except aiomqtt.MqttError as exc:
            counts["mqtt_sender_dropped"] += 1
            counts[f"mqtt_drop: {str(exc)[:60]}"] += 1
            await asyncio.sleep(0.5)


async def _flood(district: Any, first: int, n: int, spread_s: float, counts: Counter[str]) -> int:
    rng = random.Random(5 + first)
    alerts, vision = district.bus(BusRole.ALERTS), district.bus(BusRole.VISION)
    anonymous = district.mqtt
    per = spread_s / max(1, n)
    async with (
        aiomqtt.Client(**alerts.client_options(), identifier="bench-alerts") as a,
        aiomqtt.Client(**vision.client_options(), identifier="bench-vision") as v,
    ):
        for i in range(first, n):
            if i % 500 == 0:
                try:
                    async with aiomqtt.Client(**anonymous.client_options(), identifier=f"bench-anon-{i}", timeout=5):
                        counts["anonymous_let_in"] += 1
                except aiomqtt.MqttError:
                    counts["anonymous_refused"] += 1
            if i % 2:
                await a.publish(ALERTS_IN_TOPIC, junk_mqtt(rng), qos=0)
            else:
                await v.publish(findings_topic(rng.choice(["xili", "shekou", "../x"])), junk_mqtt(rng), qos=0)
            counts["mqtt_sent"] += 1
            await asyncio.sleep(per)
    return n


def fuzzed_frames(rng: random.Random, heartbeat: bytes, stranger: bytes) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 280))
    if kind == 1:
        frame = bytearray(heartbeat)
        for _ in range(rng.randrange(1, 4)):
            frame[rng.randrange(len(frame))] ^= 1 << rng.randrange(8)
        return bytes(frame)
    if kind == 2:
        return stranger
    return heartbeat[: rng.randrange(1, len(heartbeat))]


async def fuzz_mavlink(world: Any, n: int, spread_s: float, counts: Counter[str]) -> None:
    from pymavlink.dialects.v20 import ardupilotmega as mavlink2

    rng = random.Random(9)
    stranger_mav = mavlink2.MAVLink(None, srcSystem=77, srcComponent=1)
    stranger = bytes(stranger_mav.heartbeat_encode(2, 3, 0, 0, 4).pack(stranger_mav))
    per = spread_s / max(1, n)
    vehicles = list(world.vehicles.values())
    for i in range(n):
        v = vehicles[i % len(vehicles)]
        own = mavlink2.MAVLink(None, srcSystem=v.endpoint.mav.srcSystem, srcComponent=1)
        heartbeat = bytes(own.heartbeat_encode(2, 3, 0, 0, 3).pack(own))
        peers = list(v.endpoint.peers)
        if v.endpoint.transport is not None and peers:
            v.endpoint.transport.sendto(fuzzed_frames(rng, heartbeat, stranger), peers[0])
            counts["mavlink_sent"] += 1
        await asyncio.sleep(per)


async def poll_api(url: str, token: str, stop: asyncio.Event, counts: Counter[str]) -> None:
    async with httpx.AsyncClient(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {token}"}) as api:
        while not stop.is_set():
            for path in ("/health", "/drones", "/alerts?limit=50", "/incidents", "/sorties?limit=50"):
                try:
                    r = await api.get(path, timeout=10)
                    counts["api_calls"] += 1
                    if r.status_code >= 500:
                        counts["api_5xx"] += 1
                except httpx.HTTPError:
                    counts["api_errors"] += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)


async def burst(url: str, token: str, counts: Counter[str]) -> None:
    points = [(22.5330, 113.9300), (22.5600, 113.9500), (22.5000, 113.9200), (22.5800, 113.9700), (22.5450, 113.9560)]
    async with httpx.AsyncClient(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {token}"}) as api:
        replies = await asyncio.gather(
            *(
                api.post("/alerts", json={"kind": "fire", "lat": lat, "lon": lon, "id": f"burst-{i}"}, timeout=30)
                for i, (lat, lon) in enumerate(points)
            )
        )
    for r in replies:
        counts[f"burst_{r.status_code}"] += 1


async def campaign(folder: Path) -> dict[str, Any]:
    scenario = load_scenario()
    start = scenario.day_start().replace(hour=9, minute=30)
    end = start.timestamp() + HOURS * 3600
    clock_box: dict[str, Any] = {}

    def webhook_down() -> bool:
        now = clock_box.get("now")
        return now is None or now().timestamp() < start.timestamp() + WEBHOOK_DOWN_S

    receiver = WebhookReceiver(refuse=webhook_down).start()
    hook = receiver.url
    users = demo_users()
    alerts = AlertSettings(webhooks=[WebhookTarget(url=hook, secret="bench-secret-0123456789")], retry_max_s=120)
    counts: Counter[str] = Counter()
    async with simulated_district(
        scenario,
        start,
        SPEEDUP,
        f"sqlite:///{folder / 'db.sqlite'}",
        folder,
        scheduler=SchedulerConfig(speedup=SPEEDUP, failsafes=sim_failsafes(scenario, SPEEDUP)),
        alerts=alerts,
        video=True,  # vision on the alert flights: findings, incidents, CAP, webhooks
    ) as district:
        svc, world = district.service, district.world
        clock_box["now"] = svc.clock
        api = ApiServer(svc, users, "127.0.0.1", 0)
        await api.start()
        operator = next(u.token for u in users if u.role == "operator")
        for aid in world.vehicles:
            world.apply(SimControl(aid, "packet_loss", LOSS, 0.0))
        stop = asyncio.Event()
        runner = asyncio.create_task(svc.run(stop))
        caller = SimAlertSystem(scenario.incidents.alerts, world.clock.now, district.bus(BusRole.ALERTS), start)
        storm_s = HOURS * 3600 / SPEEDUP * 0.6
        tasks = [
            asyncio.create_task(caller.run(stop)),
            asyncio.create_task(poll_api(api.url, operator, stop, counts)),
            asyncio.create_task(flood_mqtt(district, N_MQTT, storm_s, counts)),
            asyncio.create_task(fuzz_mavlink(world, N_MAVLINK, storm_s, counts)),
        ]
        burst_at = start.replace(hour=10, minute=30).timestamp()
        burst_done = False
        try:
            while svc.clock().timestamp() < end:
                if not burst_done and svc.clock().timestamp() >= burst_at:
                    tasks.append(asyncio.create_task(burst(api.url, operator, counts)))
                    burst_done = True
                await asyncio.sleep(0.5)
            # Every message of the flood and the fuzz is sent, however busy the machine was.
            await asyncio.wait(tasks[2:4], timeout=300)
            for aid in world.vehicles:  # the storm is over: deliveries and returns settle
                world.apply(SimControl(aid, "packet_loss", 0.0, 0.0))
            await asyncio.sleep(max(5.0, 600 / SPEEDUP))
            result = judge(svc, world, receiver, counts, caller)
        finally:
            stop.set()
            await runner
            for t in tasks:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            await api.stop()
            receiver.stop()
    return result


def judge(svc: Any, world: Any, receiver: WebhookReceiver, counts: Counter[str], caller: Any) -> dict[str, Any]:
    book = svc.store.alerts
    rows = book.alerts(limit=100_000)
    scripted = {c.id for c in caller.calls if c.at <= svc.clock()}
    taken = {a.external_id for a in rows}
    lost = sorted(scripted - taken)
    unserved = [a for a in rows if a.state == "unserved" and a.source != "api"]
    incidents = book.incidents(limit=100_000)
    # Deliveries: each key once past the receiver (the first arrival counts), in order per incident.
    got = [{"key": r.headers.get("idempotency-key"), **r.json} for r in receiver.received]
    first: dict[str, dict[str, Any]] = {}
    for body in got:
        first.setdefault(body["key"], body)
    per_incident: dict[str, list[datetime]] = defaultdict(list)
    for body in first.values():
        per_incident[body["incident"]["id"]].append(datetime.fromisoformat(body["at"]))
    out_of_order = [i for i, ats in per_incident.items() if ats != sorted(ats)]
    outbox = book.outbox_counts()
    armed_unwatched = []
    for aid, v in world.vehicles.items():
        if v.copter.armed:
            phase = svc.fleet.machines[aid].phase if aid in svc.fleet.machines else None
            if str(getattr(phase, "value", phase)) not in ("launching", "airborne", "returning", "landing"):
                armed_unwatched.append(f"{aid} ({phase})")
    health = svc.bus.status()
    invariants = {
        "every scripted alert taken": (not lost, f"{len(scripted)} sent, lost: {lost or 'none'}"),
        "no scripted alert unserved": (not unserved, f"{len(unserved)} unserved"),
        "no drone armed without a watcher": (not armed_unwatched, ", ".join(armed_unwatched) or "none"),
        "every incident delivered": (
            outbox["pending"] == 0 and len(per_incident) == len([i for i in incidents if i.published]),
            f"{len(incidents)} incidents, {len(first)} events delivered, {outbox['pending']} pending, "
            f"{receiver.refused} refused while down",
        ),
        "webhook order per incident kept": (not out_of_order, f"out of order: {out_of_order or 'none'}"),
        "no event delivered twice past its key": (
            len(first) == len({b["key"] for b in got}),
            f"{len(got)} POSTs for {len(first)} keys",
        ),
        "no 5xx": (counts["api_5xx"] == 0, f"{counts['api_calls']} calls, {counts['api_5xx']} 5xx"),
        "anonymous clients refused": (counts["anonymous_let_in"] == 0, f"{counts['anonymous_refused']} refused"),
        "the bus client alive": (bool(health["running"] and health["connected"]), json.dumps(health)[:160]),
    }
    links = {a: (link.ignored, link.received) for a, link in svc.links.items()}
    flown = [f"{a.external_id or a.id} {a.state}" for a in rows if a.state != "rejected"]
    return {
        "invariants": invariants,
        "counts": dict(counts),
        "links": links,
        "states": Counter(a.state for a in rows),
        "flown": flown,
    }


def main() -> None:
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(campaign(Path(tmp)))
    print(f"fault campaign at {SPEEDUP:g}x over {HOURS:g} simulated hours ({time.monotonic() - t0:.0f} s wall):")
    print(f"  {json.dumps(result['counts'])}")
    print(f"  alert states: {dict(result['states'])}; taken: {', '.join(result['flown'])}")
    held = 0
    for name, (ok, detail) in result["invariants"].items():
        held += ok
        print(f"  {'held  ' if ok else 'BROKEN'} {name}: {detail}")
    figures = {
        "invariants_held": held,
        "invariants": len(result["invariants"]),
        "invariants_broken": len(result["invariants"]) - held,
        "broken": [n for n, (ok, _) in result["invariants"].items() if not ok],
        "mqtt_junk": result["counts"].get("mqtt_sent", 0),
        "mavlink_fuzz": result["counts"].get("mavlink_sent", 0),
        "api_calls": result["counts"].get("api_calls", 0),
        "api_5xx": result["counts"].get("api_5xx", 0),
        "speedup": SPEEDUP,
    }
    print(json.dumps(figures))
    sys.exit(0 if held == len(result["invariants"]) else 1)


if __name__ == "__main__":
    main()
