"""DJI docks over the Cloud API: the service as the docks' "third-party cloud" on the bus.

Each dock (by serial number) is one of our airports. What the docks send is parsed by
`missions.dji_cloud` and refused with the reason when it is malformed, forged or from a
serial number we do not know (counted; nothing else changes). A sortie is a wayline: the
KMZ goes to storage the dock can download (`store_kmz`, object storage in a deployment),
then `flighttask_prepare` with its URL and MD5 and `flighttask_execute`; the dock's
`flighttask_progress` events are the sortie's states. Every call waits for its
`services_reply` with a timeout, on the service's clock; a refusal says the dock's code in
words.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from missions import dji_cloud as dji
from missions.formats import wpml
from orchestrator.bus.client import BusClient

log = logging.getLogger("dronepatrol.dji")

StoreKmz = Callable[[str, bytes], Awaitable[str]]
"""(name, bytes) -> a URL the dock can download them from."""


class DockRefused(Exception):
    """The dock answered a call with a non-zero result, or did not answer in time."""

    def __init__(self, airport: str, method: str, code: int | None, words: str) -> None:
        super().__init__(f"dock {airport}: {method} refused: {words}")
        self.airport, self.method, self.code = airport, method, code


@dataclass
class DockView:
    """What the service knows of one DJI dock and its aircraft."""

    airport: str
    sn: str
    online: bool = False
    aircraft_sn: str | None = None
    dock: dji.DockState | None = None
    aircraft: dict[str, Any] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    progress: dict[str, dji.TaskProgress] = field(default_factory=dict)
    """flight_id -> the last progress the dock reported."""
    heard: dict[str, int] = field(default_factory=dict)
    """flight_id -> how many progress events came: a dock that goes on reporting is alive."""


class DjiDocks:
    def __init__(
        self,
        bus: BusClient,
        docks: dict[str, str],
        store_kmz: StoreKmz,
        *,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        call_timeout_s: float = 10.0,
    ) -> None:
        self.bus = bus
        self.store_kmz = store_kmz
        self.clock_ms = clock_ms
        self.call_timeout_s = call_timeout_s
        self.views = {ap: DockView(ap, sn) for ap, sn in docks.items()}
        self._by_sn = {sn: ap for ap, sn in docks.items()}
        self.book = dji.CallBook()
        self._replies: dict[str, asyncio.Future[dji.Reply]] = {}
        self._changed = asyncio.Condition()
        self.refused: dict[str, int] = {}
        """Messages turned away, by reason (the first words): malformed, forged, unknown."""
        self.on_change: list[Callable[[str], None]] = []
        """Called with the airport after each message that changed what we know of it."""
        for pattern in dji.SUBSCRIPTIONS:
            bus.subscribe(pattern, self._on_message)

    # ---- calls ---------------------------------------------------------------------------
    async def call(self, airport: str, method: str, data: dict[str, Any] | None = None) -> dji.Reply:
        """Send a service call and wait for its reply; DockRefused on a non-zero result or
        silence past the timeout (then the call is given up, never resent with its tid)."""
        view = self.views[airport]
        env = dji.call(method, data, self.clock_ms())
        self.book.sent(view.sn, env, int(self.call_timeout_s * 1000))
        waiter: asyncio.Future[dji.Reply] = asyncio.get_running_loop().create_future()
        self._replies[env.tid] = waiter
        try:
            await self.bus.publish(dji.topic(view.sn, dji.Channel.SERVICES), env.to_json())
            reply = await asyncio.wait_for(waiter, self.call_timeout_s)
        except TimeoutError:
            self.book.expire(self.clock_ms() + int(self.call_timeout_s * 1000) + 1)
            raise DockRefused(airport, method, None, f"no reply in {self.call_timeout_s:g} s") from None
        finally:
            self._replies.pop(env.tid, None)
        if not reply.ok:
            raise DockRefused(airport, method, reply.result, dji.error_words(reply.result))
        return reply

    async def fly_wayline(self, airport: str, flight_id: str, kmz: bytes, rth_altitude_m: float) -> None:
        """Hand the dock a wayline and start it now: store the KMZ, prepare, execute."""
        url = await self.store_kmz(f"{flight_id}.kmz", kmz)
        now = self.clock_ms()
        data = dji.flighttask_prepare(flight_id, url, wpml.fingerprint(kmz), now, max(20.0, rth_altitude_m))
        await self.call(airport, "flighttask_prepare", data)
        await self.call(airport, "flighttask_execute", {"flight_id": flight_id})
        log.info("dock %s: flight %s executing (%s)", airport, flight_id, url)

    async def return_home(self, airport: str) -> None:
        await self.call(airport, "return_home")

    async def wait_progress(
        self, airport: str, flight_id: str, until: Callable[[dji.TaskProgress], bool], timeout_s: float
    ) -> dji.TaskProgress:
        """The first progress of `flight_id` for which `until` holds, however long the dock
        keeps reporting; TimeoutError once it has said nothing of the flight for `timeout_s`."""
        view = self.views[airport]
        while True:
            heard = view.heard.get(flight_id, 0)

            def news(heard: int = heard) -> bool:
                return view.heard.get(flight_id, 0) > heard

            p = view.progress.get(flight_id)
            if p is not None and until(p):
                return p
            await self.wait_for(news, timeout_s)

    async def wait_for(self, condition: Callable[[], bool], timeout_s: float) -> None:
        """Until `condition` holds over what the docks have said (TimeoutError after
        `timeout_s`): checked again after every message taken, no polling."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), timeout_s)

    # ---- what the docks send ---------------------------------------------------------------
    async def _on_message(self, topic_name: str, payload: bytes) -> None:
        try:
            msg = dji.parse_message(topic_name, payload)
            await self._take(msg)
        except dji.DjiProtocolError as exc:
            self._refuse(str(exc))

    def _refuse(self, why: str) -> None:
        key = why.split(":")[0] if why.startswith(("thing/", "sys/")) else why[:40]
        self.refused[key] = self.refused.get(key, 0) + 1
        log.warning("DJI message refused: %s", why)

    async def _take(self, msg: dji.Message) -> None:
        airport = self._airport_of(msg.sn, msg.envelope.gateway)
        if airport is None:
            raise dji.DjiProtocolError(f"{msg.channel.value} from {msg.sn}, a serial number we do not know")
        view = self.views[airport]
        env = msg.envelope
        if msg.channel is dji.Channel.SERVICES_REPLY:
            reply = self.book.reply(msg, self.clock_ms())
            waiter = self._replies.get(env.tid)
            if waiter is not None and not waiter.done():
                waiter.set_result(reply)
            return
        if msg.channel is dji.Channel.STATUS and env.method == "update_topo":
            subs = env.data.get("sub_devices")
            view.online = True
            view.aircraft_sn = None
            if isinstance(subs, list):
                for d in subs:
                    if isinstance(d, dict) and isinstance(d.get("sn"), str) and dji.SN_PATTERN.match(d["sn"]):
                        view.aircraft_sn = d["sn"]
                        self._by_sn[d["sn"]] = airport
            await self._answer(view.sn, dji.Channel.STATUS_REPLY, env, {"result": 0})
        elif msg.channel is dji.Channel.OSD:
            if msg.sn == view.sn:
                view.dock = dji.dock_state(env.data)
                view.online = True  # a dock that speaks is online, topology seen or not
            else:
                view.aircraft = dict(env.data)
        elif msg.channel is dji.Channel.EVENTS:
            if env.method == "flighttask_progress":
                p = dji.task_progress(msg)
                view.progress[p.flight_id] = p
                view.heard[p.flight_id] = view.heard.get(p.flight_id, 0) + 1
                if p.done:
                    log.info(
                        "dock %s: flight %s %s%s",
                        airport,
                        p.flight_id,
                        p.status,
                        f" ({p.break_reason})" if p.break_reason else "",
                    )
            elif env.method == "hms":
                view.faults = dji.hms_faults(msg)
            if env.need_reply:
                await self._answer(view.sn, dji.Channel.EVENTS_REPLY, env, {"result": 0})
        for hook in self.on_change:
            hook(airport)
        async with self._changed:
            self._changed.notify_all()

    def _airport_of(self, sn: str, gateway: str | None) -> str | None:
        """Our airport a message is about, or None. An aircraft is known from its dock's
        topology, or from a message its own dock relays (the gateway vouches for it: the
        cloud may have missed the topology while it was away)."""
        airport = self._by_sn.get(sn)
        if airport is not None:
            if gateway is not None and self.views[airport].sn not in (gateway, sn):
                return None  # an aircraft's message through another dock: not ours to believe
            return airport
        if gateway is not None and gateway in self._by_sn and self.views[self._by_sn[gateway]].sn == gateway:
            airport = self._by_sn[gateway]
            self.views[airport].aircraft_sn = sn
            self._by_sn[sn] = airport
            log.info("dock %s: aircraft %s learned from its dock's messages", airport, sn)
            return airport
        return None

    async def _answer(self, sn: str, channel: dji.Channel, env: dji.Envelope, data: dict[str, Any]) -> None:
        reply = dji.Envelope(env.tid, env.bid, self.clock_ms(), data, env.method)
        await self.bus.publish(dji.topic(sn, channel), reply.to_json())
