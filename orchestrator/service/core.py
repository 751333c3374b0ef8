"""The service: one object that owns the store, the bus, the drones' links, the fleet
tracker and the day's scheduler, and that the API reads and commands.

Order of writes: the store first, then the event stream and the bus, so anything a
client has been told about survives a crash. Vision's findings arrive over MQTT and are
stored with their evidence images written next to the database.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from missions.bus_access import BrokerAddress
from missions.cap import Issuer
from missions.identifiers import check_identifier
from missions.scenario import Scenario
from missions.vocabulary import SortieEvent, drone_topic, sortie_topic
from orchestrator.alerts.bus_inbound import BusAlerts
from orchestrator.alerts.desk import AlertDesk
from orchestrator.alerts.dispatcher import AlertDispatcher
from orchestrator.alerts.incidents import IncidentDesk
from orchestrator.alerts.outbox import Outbox
from orchestrator.alerts.watch import AlertWatch
from orchestrator.bus.client import BusClient
from orchestrator.bus.dji_docks import DjiDocks
from orchestrator.bus.docks import DockClient
from orchestrator.bus.gate import BusGate
from orchestrator.fleet.machine import Transition
from orchestrator.fleet.tracker import FleetTracker
from orchestrator.links.mavlink_link import MavlinkLink
from orchestrator.scheduler.day import DayScheduler, SchedulerConfig
from orchestrator.service.events import EventHub
from orchestrator.settings import AlertSettings, DjiDockSettings, VisionSettings
from orchestrator.store import FindingRecord, SortieRow, Store, TransitionRecord
from orchestrator.timestamps import iso
from orchestrator.video.live_view import LiveView
from orchestrator.video.vision_config import ServiceVision

log = logging.getLogger("dronepatrol.service")

FINDINGS_PATTERN = "dronepatrol/v1/vision/+/findings"


def sortie_json(row: SortieRow, tz: tzinfo | None = None) -> dict[str, Any]:
    """The API's and the event stream's view; times in the district's zone when given."""
    return {
        "id": row.id,
        "airport": row.airport,
        "land_airport": row.land_airport,
        "patrol": row.patrol,
        "drone": row.drone,
        "alert_id": row.alert_id,
        "state": row.state,
        "reason": row.reason,
        "planned_launch": iso(row.planned_launch, tz),
        "planned_land": iso(row.planned_land, tz),
        "started_at": iso(row.started_at, tz),
        "ended_at": iso(row.ended_at, tz),
        "updated_at": iso(row.updated_at, tz),
    }


class Service:
    def __init__(
        self,
        scenario: Scenario,
        store: Store,
        *,
        mqtt_url: str | BrokerAddress,
        drones: dict[str, str],
        clock: Callable[[], datetime],
        speedup: float = 1.0,
        data_dir: Path = Path("var"),
        signing_key: bytes | None = None,
        scheduler: SchedulerConfig | None = None,
        client_id: str = "dronepatrol-orchestrator",
        alerts: AlertSettings | None = None,
        video: dict[str, str] | None = None,
        video_watch: Callable[[str, bool], None] | None = None,
        vision: VisionSettings | None = None,
        dji_docks: dict[str, DjiDockSettings] | None = None,
        kmz_url: str | None = None,
    ) -> None:
        # The service's own copy of what operators change at run time (patrols created or
        # edited through the API): a scenario shared with others (a simulator in the same
        # process, the next test) is never changed by this service.
        self.scenario = scenario = dataclasses.replace(scenario, patrols=dict(scenario.patrols))
        self.store = store
        self.clock = clock
        self.speedup = speedup
        self.data_dir = data_dir
        self.hub = EventHub()
        # A fixed id: the broker keeps our session while we restart, and hands over what
        # was published to us meanwhile.
        self.bus = BusClient(mqtt_url, client_id)
        self.docks = DockClient(bus=self.bus)
        self.broker_gate: BusGate | None = None
        """The embedded broker's gate, when this process runs the broker (for /health)."""
        self.bus.subscribe(FINDINGS_PATTERN, self._finding)
        link_timeout = max(0.5, 3.0 / speedup)
        self.links = {
            d: MavlinkLink(
                url, name=d, heartbeat_hz=max(1.0, speedup), link_timeout_s=link_timeout, signing_key=signing_key
            )
            for d, url in drones.items()
        }
        dji_docks = dji_docks or {}
        self.kmz_dir = data_dir / "kmz"
        """Waylines for DJI docks, served at /dji/kmz/ for them to download."""
        self.kmz_url = (kmz_url or "").rstrip("/")
        self.dji = (
            DjiDocks(self.bus, {ap: d.dock_sn for ap, d in dji_docks.items()}, self._store_kmz) if dji_docks else None
        )
        locations = {d: d for d in [*drones, *dji_docks]}
        locations.update({d: a for d, a in store.drone_airports().items() if d in locations})
        self.fleet = FleetTracker(
            self.links,
            locations,
            self.docks,
            clock,
            on_transition=self._drone_transition,
            speedup=speedup,
            dji=self.dji,
            dji_models={ap: d.model for ap, d in dji_docks.items()},
        )
        self.scheduler = DayScheduler(
            scenario,
            store,
            self.fleet,
            self.docks,
            clock,
            scheduler or SchedulerConfig(speedup=speedup),
            announce=self._sortie_changed,
        )
        alerts = alerts or AlertSettings()
        self.outbox = Outbox(
            store.alerts,
            self.bus,
            clock,
            {w.url: w.secret for w in alerts.webhooks},
            retry_max_s=alerts.retry_max_s,
        )
        self.incidents = IncidentDesk(
            store.alerts,
            clock,
            issuer=Issuer(organisation=alerts.issuer_organisation, unit=alerts.issuer_unit),
            webhooks=[w.url for w in alerts.webhooks],
            public_url=alerts.public_url,
            data_dir=data_dir,
            announce=self.hub.publish,
            queued=self.outbox.wake,
        )
        self.dispatcher = AlertDispatcher(scenario, store, self.fleet, self.scheduler, clock)
        self.alerts = AlertDesk(
            store,
            self.dispatcher,
            clock,
            policy=dict(alerts.policy),
            flood_per_min=alerts.flood_per_min,
            announce=self.hub.publish,
        )
        self.bus_alerts = BusAlerts(self.alerts, self.bus)
        self.vision = ServiceVision(vision)
        """The settings' detector and thresholds, one model shared by the live view and the watch."""
        self.live = LiveView(video or {}, vision=self.vision, on_watch=video_watch)
        self.alerts.has_video = lambda drone: drone in self.live.urls or not self.live.urls
        if self.live.urls:
            self.alerts.snapshot = self.live.snapshot
            self.alerts.evidence_dir = data_dir / "evidence"
        self.alert_watch = (
            AlertWatch(scenario, store, self.scheduler, self.live, self.bus, self.vision) if alerts.vision else None
        )
        self.started = asyncio.Event()

    async def _store_kmz(self, name: str, data: bytes) -> str:
        """Keep a wayline where a DJI dock can download it: under a name no one can guess."""
        if not self.kmz_url:
            raise ValueError("no dji_kmz_url: a DJI dock cannot be given its wayline")
        self.kmz_dir.mkdir(parents=True, exist_ok=True)
        filename = f"{secrets.token_hex(16)}-{name}"
        await asyncio.to_thread((self.kmz_dir / filename).write_bytes, data)
        return f"{self.kmz_url}/{filename}"

    # ---- lifecycle ----------------------------------------------------------------------
    async def start(self, day_start: datetime | None = None, hours: float = 24.0, docks_wait_s: float = 0.0) -> None:
        """Connect, then plan the day (by default the one the clock is in). With
        `docks_wait_s`, wait that long for the docks' first states (a clock that follows
        them needs one to know the day)."""
        await self.bus.start()
        if docks_wait_s > 0:
            try:
                await self.docks.wait_any(docks_wait_s)
            except TimeoutError:
                log.warning("no dock state within %.0f s; planning by the service's own clock", docks_wait_s)
        for link in self.links.values():
            await link.open()
        await self.fleet.start()
        if day_start is None:
            day_start = self.clock().astimezone(self.scenario.tz).replace(hour=0, minute=0, second=0, microsecond=0)
        await self.scheduler.load_day_async(day_start, hours)
        self.started.set()

    async def run(self, stop: asyncio.Event) -> None:
        loops = [self.scheduler.run(stop), self.outbox.run(stop), self.alerts.follow(stop)]
        if self.alert_watch is not None:
            loops.append(self.alert_watch.run(stop))
        await asyncio.gather(*loops)

    async def stop(self) -> None:
        await self.fleet.stop()
        for link in self.links.values():
            with contextlib.suppress(Exception):
                await link.close()
        await self.bus.stop()

    # ---- what happened --------------------------------------------------------------------
    def _sortie_changed(self, row: SortieRow) -> None:
        data = sortie_json(row, self.scenario.tz)
        self.hub.publish("sortie", data)
        event = SortieEvent(
            row.id,
            row.airport,
            row.state,
            row.reason,
            row.updated_at.astimezone(self.scenario.tz).isoformat(),
            row.patrol,
            row.drone,
            row.alert_id,
        )
        self.bus.publish_soon(sortie_topic(row.airport), event.to_json(), qos=1)
        self.alerts.on_sortie(row)

    def _drone_transition(self, drone: str, t: Transition) -> None:
        self.store.add_transition(TransitionRecord("drone", drone, t.at, t.old.value, t.new.value, t.reason))
        snap = self.drone_json(drone)
        self.hub.publish("drone", snap)
        self.bus.publish_soon(drone_topic(drone), json.dumps(snap), qos=1, retain=True)

    def drone_json(self, drone: str) -> dict[str, Any]:
        s = self.fleet.snapshot(drone)
        data = asdict(s)
        data["id"] = drone
        data["home_airport"] = drone
        data["at_airport"] = self.fleet.location.get(drone)
        data["phase"] = s.phase.value
        data["since"] = s.since.isoformat()
        del data["airport"]
        return data

    async def _finding(self, topic: str, payload: bytes) -> None:
        try:
            msg = json.loads(payload)
            if not isinstance(msg, dict) or msg.get("type") != "finding":
                raise ValueError("not a finding message")
            fid = check_identifier(msg["id"], "finding id")
            check_identifier(msg["kind"], "finding kind")
            evidence = msg.pop("evidence", None) or {}
            first = datetime.fromisoformat(msg["first_seen"])
            last = datetime.fromisoformat(msg["last_seen"])
            path = self._save_evidence(fid, evidence)
            rec = FindingRecord(
                fid,
                str(msg["kind"]),
                self._finding_airport(msg, topic),
                msg.get("sortie"),
                float(msg["lat"]),
                float(msg["lon"]),
                float(msg["confidence"]),
                first,
                last,
                self.clock(),
                msg,
                path,
            )
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            log.warning("finding on %s refused: %s", topic, exc)
            return
        new = self.store.add_finding(rec)
        if new:
            log.info("finding %s: %s at %.6f,%.6f (conf %.2f)", fid, rec.kind, rec.lat, rec.lon, rec.confidence)
            self.hub.publish("finding", {k: v for k, v in msg.items()})
        alert_id = self.alerts.on_finding(rec)
        incident = self.incidents.on_finding(rec, alert_id)
        if alert_id is not None and incident is not None:
            self.alerts.link_incident(alert_id, incident.id)

    @staticmethod
    def _finding_airport(msg: dict[str, Any], topic: str) -> str:
        """The airport (or camera) a finding names, else its topic's: an identifier either way."""
        return check_identifier(msg.get("airport") or topic.split("/")[-2], "finding airport")

    def _save_evidence(self, fid: str, evidence: dict[str, Any]) -> str | None:
        frame = evidence.get("frame_jpeg_b64") or evidence.get("crop_jpeg_b64")
        if not frame:
            return None
        folder = self.data_dir / "evidence"
        folder.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in fid)
        for key, suffix in (("frame_jpeg_b64", ".jpg"), ("crop_jpeg_b64", "-crop.jpg")):
            if evidence.get(key):
                (folder / f"{safe}{suffix}").write_bytes(base64.b64decode(evidence[key], validate=True))
        return str(folder / f"{safe}.jpg")
