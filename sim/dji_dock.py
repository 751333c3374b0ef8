"""A DJI dock and its aircraft as the Cloud API shows them, for tests and the simulated
district: it connects to the broker as a dock would, announces itself (`update_topo`),
sends its and its aircraft's OSD, answers `services` calls and flies waylines.

It checks what it is sent the way the notes on DJI's documentation describe a dock doing
it, and refuses with a result code (`missions.dji_cloud.TASK_ERRORS`): parameters out of
range, a task already under way, a KMZ it cannot download or whose MD5 differs from the
fingerprint, a wayline for another aircraft or outside WPML's ranges, an unknown
`flight_id`, an `execute_time` more than 30 s off, rain, wind, a low battery. A wayline is
flown point to point at its speeds, with the steps of a real task's progress before and
after (lid, download, upload, take-off; return, landing, lid), on a clock `speedup` times
faster than the wall's. The aircraft's heights are ellipsoidal, as a real one reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
import httpx

from missions import dji_cloud as dji
from missions.bus_access import BrokerAddress
from missions.formats import wpml
from missions.formats.wpml_read import read_kmz
from missions.geo import haversine_m

log = logging.getLogger("dronepatrol.sim.dji")

PREP_STEPS = (6, 7, 16, 17, 18, 20, 23, 24)
"""Work mode, lid, KMZ download and upload, parameters, home point, trigger (`current_step`)."""
HOME_STEPS = (26, 27, 28, 29)
CLIMB_MS = 5.0


@dataclass
class DjiDockEmulator:
    broker: BrokerAddress
    dock_sn: str
    aircraft_sn: str
    model: str
    lat: float
    lon: float
    amsl_m: float
    speedup: float = 1.0
    geoid_m: float = wpml.NANSHAN_GEOID_M
    rainfall: int = 0
    wind_ms: float = 3.0
    battery_pct: float = 92.0
    max_wind_ms: float = 12.0
    osd_interval_s: float = 2.0
    weather: Callable[[], tuple[float, float]] | None = None
    """(wind m/s, rain mm/h) at the dock now, from the simulated world's forecast: the
    dock's own station, reported in its OSD and checked before a flight."""
    calls: list[tuple[str, int]] = field(default_factory=list)
    """Every service call received, with the result it got."""
    prepared: dict[str, wpml.WaylineMission] = field(default_factory=dict)
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.air = {"lat": self.lat, "lon": self.lon, "height": self.amsl_m + self.geoid_m, "mode_code": 0}
        self.cover = 0
        self.in_dock = True
        self.task: asyncio.Task[None] | None = None
        self._go_home = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._execute_at: dict[str, Any] = {}
        self._last_progress: tuple[dict[str, Any]] | None = None
        """Sent again with each OSD while a task runs: a dock reports its task's progress
        steadily, not only at each step."""

    # ---- the connection -------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        async with aiomqtt.Client(**self.broker.client_options(), identifier=f"dji-{self.dock_sn}") as client:
            self._client = client
            await client.subscribe(dji.topic(self.dock_sn, dji.Channel.SERVICES), qos=1)
            await self._send(dji.Channel.STATUS, "update_topo", self._topo(), sn=self.dock_sn)
            self.connected.set()
            osd = asyncio.create_task(self._osd_loop(stop))
            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._listen(client, stop))
                    await stop.wait()
                    raise _Stop
            except* _Stop:
                pass
            finally:
                osd.cancel()
                if self.task is not None:
                    self.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await osd

    async def _listen(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        async for message in client.messages:
            try:
                body = json.loads(bytes(message.payload))
                await self._service(body)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("dock %s: unreadable call: %s", self.dock_sn, exc)

    def _topo(self) -> dict[str, Any]:
        d = wpml.DOCK_DRONES[self.model]
        aircraft = {"sn": self.aircraft_sn, "domain": 0, "type": d.drone_enum, "sub_type": d.drone_sub, "index": "A"}
        return {
            "domain": 3,
            "type": 2,
            "sub_type": 0,
            "nonce": "0",
            "thing_version": "1.2.0",
            "sub_devices": [aircraft],
        }

    async def _send(self, channel: dji.Channel, method: str | None, data: dict[str, Any], *, sn: str | None = None,
                    tid: str | None = None, bid: str | None = None, qos: int = 1) -> None:  # fmt: skip
        assert self._client is not None
        env = dji.Envelope(tid or uuid.uuid4().hex, bid or uuid.uuid4().hex, _wall_ms(), data, method, self.dock_sn)
        await self._client.publish(dji.topic(sn or self.dock_sn, channel), env.to_json(), qos=qos)

    async def _osd_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self.weather is not None:
                wind, rain = self.weather()
                self.wind_ms, self.rainfall = round(wind, 1), rain_class(rain)
            charge = {"state": int(self.in_dock), "capacity_percent": round(self.battery_pct)}
            dock = {"mode_code": 4 if self.task and not self.task.done() else 0, "cover_state": self.cover,
                    "drone_in_dock": int(self.in_dock), "rainfall": self.rainfall, "wind_speed": self.wind_ms,
                    "environment_temperature": 21.0, "latitude": self.lat, "longitude": self.lon,
                    "height": self.amsl_m + self.geoid_m, "drone_charge_state": charge}  # fmt: skip
            await self._send(dji.Channel.OSD, None, dock, qos=0)
            await self._air_osd()
            if self._last_progress is not None and self.task is not None and not self.task.done():
                await self._send(dji.Channel.EVENTS, "flighttask_progress", *self._last_progress)  # the task goes on
            await asyncio.sleep(self.osd_interval_s / self.speedup)

    async def _air_osd(self) -> None:
        data = {"mode_code": self.air["mode_code"], "latitude": self.air["lat"], "longitude": self.air["lon"],
                "height": round(self.air["height"], 2),
                "elevation": round(self.air["height"] - self.amsl_m - self.geoid_m, 2),
                "battery": {"capacity_percent": round(self.battery_pct)}}  # fmt: skip
        await self._send(dji.Channel.OSD, None, data, sn=self.aircraft_sn, qos=0)

    # ---- calls ----------------------------------------------------------------------------------
    async def _service(self, body: dict[str, Any]) -> None:
        method, data, tid, bid = body["method"], body.get("data") or {}, body["tid"], body["bid"]
        handler = {
            "flighttask_prepare": self._prepare,
            "flighttask_execute": self._execute,
            "return_home": self._return_home,
        }.get(method)
        result = await handler(data, bid) if handler else 314001
        self.calls.append((method, result))
        await self._send(dji.Channel.SERVICES_REPLY, method, {"result": result}, tid=tid, bid=bid)

    async def _prepare(self, data: dict[str, Any], bid: str) -> int:
        file = data.get("file") or {}
        fid, url, md5 = data.get("flight_id"), file.get("url"), file.get("fingerprint")
        rth = data.get("rth_altitude")
        if not (isinstance(fid, str) and fid and isinstance(url, str) and isinstance(md5, str)):
            return 314001
        if data.get("task_type") not in (0, 1, 2) or not isinstance(rth, int | float) or not 20 <= rth <= 1500:
            return 314001
        if self.task is not None and not self.task.done():
            return 314002
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                reply = await http.get(url)
                reply.raise_for_status()
                kmz = reply.content
        except httpx.HTTPError as exc:
            log.warning("dock %s: KMZ %s: %s", self.dock_sn, url, exc)
            return 314003
        if wpml.fingerprint(kmz) != md5:
            return 314004
        try:
            mission = read_kmz(kmz)
        except wpml.WpmlError as exc:
            log.warning("dock %s: KMZ %s: %s", self.dock_sn, url, exc)
            return 314005
        found = wpml.problems(mission, dock=True, drone=self.model)
        if found:
            log.warning("dock %s: KMZ %s: %s", self.dock_sn, url, "; ".join(found))
            return 314005
        self.prepared[fid] = mission
        self._execute_at[fid] = data.get("execute_time")
        return 0

    async def _execute(self, data: dict[str, Any], bid: str) -> int:
        fid = data.get("flight_id")
        if not isinstance(fid, str) or fid not in self.prepared:
            return 314006
        mission = self.prepared[fid]
        at = self._execute_at.pop(fid, None)
        if isinstance(at, int) and abs(at - _wall_ms()) > 30_000:  # an immediate task: the dock's NTP clock
            return 314007
        if self.rainfall >= 2:
            return 314008
        if self.wind_ms > self.max_wind_ms:
            return 314009
        if self.battery_pct < 30:
            return 314010
        if not self.in_dock:
            return 314011
        del self.prepared[fid]
        self._go_home.clear()
        self.task = asyncio.create_task(self._fly(fid, mission, bid), name=f"dji {self.dock_sn} {fid}")
        return 0

    async def _return_home(self, data: dict[str, Any], bid: str) -> int:
        if self.task is None or self.task.done():
            return 314001
        self._go_home.set()
        return 0

    # ---- flying ---------------------------------------------------------------------------------
    async def _progress(self, fid: str, bid: str, status: str, step: int, percent: float, index: int = 0,
                        reason: int = 0) -> None:  # fmt: skip
        ext: dict[str, Any] = {"flight_id": fid, "wayline_id": 0, "current_waypoint_index": index,
                               "wayline_mission_state": 6 if step == 25 else 2}  # fmt: skip
        if reason:
            ext["break_point"] = {"break_reason": reason, "index": index}
        out = {"status": status, "progress": {"current_step": step, "percent": round(percent)}, "ext": ext}
        data = {"result": 0, "output": out}
        self._last_progress = (data,)
        await self._send(dji.Channel.EVENTS, "flighttask_progress", data, bid=bid)

    async def _wait(self, sim_s: float) -> None:
        await asyncio.sleep(max(0.0, sim_s) / self.speedup)

    async def _fly(self, fid: str, mission: wpml.WaylineMission, bid: str) -> None:
        await self._progress(fid, bid, "sent", 5, 0)
        for step in PREP_STEPS:
            if step == 7:
                self.cover = 1
            await self._wait(3.0)
            await self._progress(fid, bid, "in_progress", step, 2)
        self.in_dock = False
        line = mission.waylines[0]
        self.air["mode_code"] = 4
        await self._move(self.lat, self.lon, self.amsl_m + self.geoid_m + mission.takeoff_security_height, CLIMB_MS)
        self.air["mode_code"] = 5
        total = len(line.waypoints)
        broke = False
        for p in line.waypoints:
            if self._go_home.is_set():
                broke = True
                break
            await self._move(p.lat, p.lon, self._ellipsoidal(p.height, line.height_mode), p.speed or line.speed)
            for g in p.groups:
                for a in g.actions:
                    if a.func == "hover":
                        await self._wait(float(dict(a.params).get("hoverTime", "0")))
            await self._progress(fid, bid, "in_progress", 25, 5 + 85 * (p.index + 1) / total, p.index)
        self.air["mode_code"] = 9
        rth = self.amsl_m + self.geoid_m + mission.rth_height
        await self._progress(fid, bid, "in_progress", 26, 92, total - 1)
        await self._move(self.air["lat"], self.air["lon"], max(self.air["height"], rth), CLIMB_MS)
        await self._move(self.lat, self.lon, max(self.air["height"], rth), mission.transitional_speed)
        self.air["mode_code"] = 10
        await self._progress(fid, bid, "in_progress", 27, 95, total - 1)
        await self._move(self.lat, self.lon, self.amsl_m + self.geoid_m, CLIMB_MS)
        self.air["mode_code"], self.in_dock = 0, True
        for step in HOME_STEPS[2:]:
            if step == 28:
                self.cover = 0
            await self._wait(3.0)
            await self._progress(fid, bid, "in_progress", step, 98, total - 1)
        await self._progress(fid, bid, "partially_done" if broke else "ok", 35, 100, total - 1)

    def _ellipsoidal(self, height: float, mode: str) -> float:
        return height if mode == "WGS84" else self.amsl_m + self.geoid_m + height

    async def _move(self, lat: float, lon: float, height: float, speed: float) -> None:
        """Straight there at `speed` (m/s, 3-D), reporting the position every simulated second."""
        lat0, lon0, h0 = self.air["lat"], self.air["lon"], self.air["height"]
        dist = math.hypot(haversine_m(lon0, lat0, lon, lat), height - h0)
        steps = max(1, int(dist / max(speed, 0.5)))
        for i in range(1, steps + 1):
            f = i / steps
            self.air.update(lat=lat0 + f * (lat - lat0), lon=lon0 + f * (lon - lon0), height=h0 + f * (height - h0))
            self.battery_pct = max(0.0, self.battery_pct - 0.01)
            await self._wait(dist / steps / max(speed, 0.5))


class _Stop(Exception):
    pass


def rain_class(mm_h: float) -> int:
    """A rate as the dock's `rainfall` enum: 0 none, 1 light, 2 moderate, 3 heavy (China's
    hourly classes: under 2.6, 2.6-8, 8.1-15.9, 16 and over)."""
    if mm_h <= 0:
        return 0
    return 1 if mm_h < 2.6 else 2 if mm_h < 8.1 else 3


def _wall_ms() -> int:
    return int(time.time() * 1000)
