"""Alerts flown against the simulator: an alert sent over the API launches the drone with
the earliest arrival at once; it dashes out, orbits the spot with its camera on it, and
the fire the simulator burns there reaches the alert system as an incident (CAP and a
signed webhook). With every ready drone busy, a lower-priority patrol gives its drone up."""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from missions.dispatch import DroneState, DroneStatus, dispatch
from missions.incidents import FirePlan
from missions.response import ORBIT_RADIUS_M
from missions.scenario import Scenario
from missions.vocabulary import SimControl
from orchestrator.alerts.inbound import AlertIn
from orchestrator.alerts.outbox import SIGNATURE_HEADER, verify
from orchestrator.commands.demo import District, simulated_district
from orchestrator.commands.serve import ApiServer
from orchestrator.executor.orders import order_from_json
from orchestrator.scheduler.day import SchedulerConfig
from orchestrator.settings import AlertSettings, WebhookTarget
from sim.scene.render import Scene
from tests.apiserver import USERS, auth
from tests.conftest import free_udp_base
from tests.simbus import eventually
from tests.webhook import WebhookReceiver

pytestmark = pytest.mark.slow
SECRET = "district-alert-secret-0042"
SPEEDUP_VIDEO = 5
"""With cameras and the detector running beside the simulation: a simulated second is a
fifth of a wall second, so the service's own milliseconds stay well inside "1 s"."""
SPOT = {"lat": 22.5450, "lon": 113.9560}
"""Near Dashahe: yuehai's drone is closest, shahe's and nanshan's further."""


def _expected(scenario: Scenario, district: District, at: Any) -> str:
    """Dispatch's choice, worked out here from the simulator's own batteries."""
    states = {a: DroneState(a, DroneStatus.UNAVAILABLE, 0.0, note="not simulated") for a in scenario.airports}
    for a, v in district.world.vehicles.items():
        states[a] = DroneState(a, DroneStatus.READY, v.copter.body.soc)
    choice = dispatch(scenario, SPOT["lon"], SPOT["lat"], at, states).choice
    assert choice is not None
    return choice.airport_id


def test_an_alert_launches_the_earliest_drone_which_orbits_the_spot_and_reports_the_fire(
    scenario: Scenario, tmp_path: Path, cap_schema: etree.XMLSchema
) -> None:
    start = scenario.day_start().replace(hour=11, minute=30)
    airports = ["yuehai", "shahe", "nanshan"]
    hook = WebhookReceiver().start()
    alerts = AlertSettings(webhooks=[WebhookTarget(url=hook.url, secret=SECRET)])

    async def run() -> dict[str, Any]:
        async with simulated_district(
            scenario, start, SPEEDUP_VIDEO, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path,
            base_port=free_udp_base(3), airports=airports, alerts=alerts, video=True,
        ) as district:  # fmt: skip
            svc, world, cameras = district.service, district.world, district.cameras
            assert cameras is not None and cameras.active is not None
            spot_xy = scenario.to_xy(SPOT["lon"], SPOT["lat"])
            cameras.renderer.scene = Scene(
                fires=[FirePlan("alert-fire", spot_xy, start - timedelta(minutes=10), 0.6, 12)]
            )
            stop = asyncio.Event()
            tasks = [asyncio.create_task(svc.run(stop))]
            api = ApiServer(svc, USERS, "127.0.0.1", 0)
            await api.start()
            watched: set[str] = set()
            try:
                expected = _expected(scenario, district, svc.clock())
                async with httpx.AsyncClient(base_url=api.url + "/api/v1", headers=auth("integration")) as client:
                    r = await client.post("/alerts", json={"kind": "fire", **SPOT, "note": "smoke sensor T-17"})
                    assert r.status_code == 201, r.text
                    alert = r.json()
                    # The service itself runs vision on the answering drone's video.

                    def seen() -> bool:
                        assert svc.alert_watch is not None
                        watched.update(svc.alert_watch.watching)
                        row = svc.store.alerts.alert(alert["id"])
                        return row is not None and row.on_scene_at is not None and row.first_finding_at is not None

                    assert await eventually(seen, 90), svc.store.alerts.alert(alert["id"])
                    copter = world.vehicles[alert["airport"]].copter
                    roi, pos = copter.roi, (copter.body.x, copter.body.y)
                    spot_local = copter.xy_of(SPOT["lon"], SPOT["lat"])  # the vehicle's own frame
                    assert await eventually(lambda: any(h.json["event"] == "opened" for h in hook.received), 20)
                    assert await eventually(lambda: svc.store.alerts.alert(alert["id"]).evidence_path, 20)
                    evidence = await client.get(f"/alerts/{alert['id']}/evidence")
                    final = (await client.get(f"/alerts/{alert['id']}")).json()
                    sortie = (await client.get(f"/sorties/{alert['sortie_id']}")).json()
                    incidents = (await client.get("/incidents")).json()
                    return {
                        "alert": alert, "final": final, "sortie": sortie, "incidents": incidents,
                        "expected": expected, "roi": roi, "pos": pos, "spot": spot_local, "evidence": evidence,
                        "watched": set(watched), "rendered": set(cameras.active),
                    }  # fmt: skip
            finally:
                stop.set()
                await asyncio.gather(*tasks)
                await api.stop()

    try:
        got = asyncio.run(run())
    finally:
        hook.stop()
    alert, final = got["alert"], got["final"]
    assert alert["state"] == "dispatched" and alert["airport"] == got["expected"] == "yuehai", alert
    assert "launched" in alert["decision"] and "arrives first" in alert["decision"]
    assert final["seconds"]["launch_ordered"] is not None and final["seconds"]["launch_ordered"] <= 1.0, final
    assert final["seconds"]["airborne"] < final["seconds"]["on_scene"] < 300, final["seconds"]
    assert got["sortie"]["alert_id"] == alert["id"] and got["sortie"]["airport"] == "yuehai"
    assert got["watched"] == {"yuehai"} and got["rendered"] == {"yuehai"}, "only the answering drone is watched"
    assert got["roi"] is not None and math.dist(got["roi"], got["spot"]) < 1.0, "the camera is held on the spot"
    assert math.dist(got["pos"], got["spot"]) < ORBIT_RADIUS_M + 30
    fire = [i for i in got["incidents"] if i["kind"] in ("fire", "smoke")]
    assert fire and all(i["alert_id"] == alert["id"] for i in fire), got["incidents"]
    assert final["state"] == "seen" and final["incident_id"] in {i["id"] for i in fire}, final
    ev = got["evidence"]
    assert ev.status_code == 200 and ev.content[:2] == b"\xff\xd8", "a frame from over the spot"
    assert final["evidence"] == f"/api/v1/alerts/{alert['id']}/evidence"
    opened = next(h for h in hook.received if h.json["event"] == "opened")
    assert verify(SECRET, opened.body, opened.headers[SIGNATURE_HEADER.lower()])
    cap_schema.assertValid(etree.fromstring(opened.json["cap"]["xml"].encode()))


def test_with_every_ready_drone_busy_a_lower_priority_patrol_gives_way(scenario: Scenario, tmp_path: Path) -> None:
    """yuehai's drone is on the dasha-river patrol (priority 3) at 09:00; a fire next to it
    diverts it rather than waiting for a drone to launch elsewhere."""
    start = scenario.day_start().replace(hour=8, minute=58)
    config = SchedulerConfig(speedup=100, launch_window_s=600)  # the 08:11 sortie has expired

    async def run() -> dict[str, Any]:
        async with simulated_district(
            scenario, start, 100, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path,
            base_port=free_udp_base(1), airports=["yuehai"], scheduler=config,
        ) as district:  # fmt: skip
            svc = district.service
            stop = asyncio.Event()
            runner = asyncio.create_task(svc.run(stop))
            try:
                flying = lambda: [r for r in svc.store.sorties(state=["airborne"]) if r.patrol == "dasha-river"]  # noqa: E731
                assert await eventually(lambda: flying() and svc.fleet.snapshot("yuehai").alt_m > 40, 60)
                patrol = flying()[0]
                await asyncio.sleep(0.5)
                snap = svc.fleet.snapshot("yuehai")
                assert snap.lat is not None and snap.lon is not None
                lat, lon = snap.lat + 0.002, snap.lon  # 220 m north of it
                row = await svc.alerts.receive(AlertIn(kind="fire", lat=lat, lon=lon), "api", "test")
                assert await eventually(lambda: svc.store.alerts.alert(row.id).on_scene_at is not None, 30)
                done = await eventually(lambda: svc.store.alerts.alert(row.id).state == "nothing_seen", 30)
                params = district.world.vehicles["yuehai"].copter.params.values
                return {
                    "held": {k: params[k] for k in ("RTL_ALT", "FENCE_ALT_MAX")},
                    "row": row, "patrol": patrol, "final": svc.store.alerts.alert(row.id), "done": done,
                    "sortie": svc.store.sortie(patrol.id), "transitions": svc.store.transitions("sortie", patrol.id),
                    "commands": [c.command for c in svc.store.commands(patrol.id)],
                }  # fmt: skip
            finally:
                stop.set()
                await runner

    got = asyncio.run(run())
    row, final = got["row"], got["final"]
    assert row.state == "dispatched" and row.sortie_id == got["patrol"].id, row
    assert "diverted" in row.decision and "airborne, diverts" in row.decision, row.decision
    assert got["sortie"].alert_id == row.id
    assert any("diverted for alert" in t.reason for t in got["transitions"]), got["transitions"]
    assert got["commands"][-4:] == ["set_mode", "upload_mission", "set_current", "set_mode"], got["commands"]
    limits = order_from_json(got["sortie"].order).flight_params
    assert limits and got["held"] == {k: pytest.approx(v) for k, v in limits.items()}, (got["held"], limits)
    assert final.launch_ordered_at == final.airborne_at and final.on_scene_at is not None
    assert (final.on_scene_at - final.received_at).total_seconds() < 120
    assert got["done"] and "nothing seen" in final.outcome, final


def test_an_alert_whose_dock_cannot_launch_goes_to_the_next_drone(scenario: Scenario, tmp_path: Path) -> None:
    """yuehai is the earliest, but its lid jams as the launch begins: the launch fails, the
    airport goes out of service, and the alert is sent again to the next drone (shahe).
    (A dock already reporting a fault is never chosen: dispatch leaves it out.)"""
    start = scenario.day_start().replace(hour=11, minute=30)

    async def run() -> dict[str, Any]:
        async with simulated_district(
            scenario, start, 100, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path,
            base_port=free_udp_base(2), airports=["yuehai", "shahe"],
        ) as district:  # fmt: skip
            svc = district.service
            stop = asyncio.Event()
            runner = asyncio.create_task(svc.run(stop))
            try:
                await asyncio.sleep(0.5)
                row = await svc.alerts.receive(AlertIn(kind="fire", lat=SPOT["lat"], lon=SPOT["lon"]), "api", "t")
                district.world.apply(SimControl("yuehai", "lid_jam", 1, 0))  # as the lid starts to open
                reached = await eventually(lambda: svc.store.alerts.alert(row.id).on_scene_at is not None, 40)
                return {"row": row, "final": svc.store.alerts.alert(row.id), "reached": reached,
                        "sorties": svc.store.sorties(), "out": dict(svc.scheduler.status.out_of_service)}  # fmt: skip
            finally:
                stop.set()
                await runner

    got = asyncio.run(run())
    assert got["row"].airport == "yuehai", got["row"].decision
    assert got["reached"], got["final"]
    final = got["final"]
    assert final.airport == "shahe" and final.sortie_id == f"alert.{final.id}.2", final
    first = next(s for s in got["sorties"] if s.id == f"alert.{final.id}")
    assert first.state in ("failed", "held") and "lid" in first.reason, first
    assert "yuehai" in got["out"]
