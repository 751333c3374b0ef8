"""A running sim world with its cameras streaming MJPEG, and a drone put where a test wants it."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
from datetime import datetime

from missions.scenario import Scenario
from sim.scene.render import Scene
from sim.video.mjpeg import Latest, MjpegServer
from sim.video.service import VideoService
from sim.world import SimWorld
from tests.conftest import RunningWorld, free_udp_base


def wait_until(pred, timeout: float = 5.0, every: float = 0.01) -> bool:  # type: ignore[no-untyped-def]
    """Poll `pred` until it holds or `timeout` seconds pass; whether it held."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(every)
    return False


class StreamingWorld(RunningWorld):
    """One airport's drone airborne, its camera streaming over MJPEG."""

    def __init__(
        self,
        scenario: Scenario,
        airport: str = "shekou",
        start: datetime | None = None,
        speedup: float = 10,
        fps: float = 8,
        scene: Scene | None = None,
    ) -> None:
        super().__init__(
            SimWorld(
                scenario,
                start or scenario.day_start().replace(hour=10),
                speedup=speedup,
                airports=[airport],
                open_docks=True,
                base_port=free_udp_base(1),
            )
        )
        self.airport = airport
        self.fps = fps
        self.scene = scene
        self.server = MjpegServer()

    async def start_services(self) -> list:  # type: ignore[type-arg]
        await self.server.start()
        self.service = VideoService(self.world, self.server, fps=self.fps)
        if self.scene is not None:
            self.service.renderer.scene = self.scene
        return [self.service.run]

    async def stop_services(self) -> None:
        await self.server.stop()

    @property
    def copter(self):  # type: ignore[no-untyped-def]
        return self.world.vehicles[self.airport].copter

    @property
    def url(self) -> str:
        return self.server.url(self.airport)

    def home_xy(self) -> tuple[float, float]:
        ap = self.world.scenario.airports[self.airport]
        return self.world.scenario.to_xy(ap.lon, ap.lat)

    def take_off(self, to: tuple[float, float, float] = (300.0, 300.0, 70.0), roi: tuple[float, float] | None = None):  # type: ignore[no-untyped-def]
        """Arm and fly to `to` (metres east, north of home, and up), looking at `roi` if given."""
        c = self.copter
        deadline = time.time() + 10
        while c.t < 3 and time.time() < deadline:  # the autopilot refuses to arm while booting
            time.sleep(0.05)

        def go() -> None:
            c.set_mode(4, c.t)
            c.arm(c.t)
            c.guided = to
            c.roi = roi

        self.loop.call_soon_threadsafe(go)
        while not c.airborne and time.time() < deadline:
            time.sleep(0.05)
        assert c.airborne
        deadline = time.time() + 20
        while time.time() < deadline:  # wait for the first frame
            try:
                with urllib.request.urlopen(self.url.replace(".mjpg", ".jpg"), timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError("no video frame")

    def wait_until(self, pred, timeout: float) -> bool:  # type: ignore[no-untyped-def]
        return wait_until(pred, timeout, every=0.1)

    def __enter__(self) -> StreamingWorld:
        self.start()
        return self


class Publisher:
    """An MJPEG server in its own loop that a test feeds frame by frame."""

    def __init__(self, port: int = 0, token: str | None = None) -> None:
        self.server = MjpegServer(port=port, token=token)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.seq = 0

    def start(self, *names: str) -> Publisher:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(5)
        for n in names:
            self.server.streams[n] = Latest()
        return self

    def url(self, name: str) -> str:
        return self.server.url(name)

    def publish(self, name: str, jpeg: bytes, headers: dict[str, str] | None = None) -> None:
        self.seq += 1
        coro = self.server.streams[name].publish(jpeg, headers or {}, self.seq)
        asyncio.run_coroutine_threadsafe(coro, self.loop).result(5)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
