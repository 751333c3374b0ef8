"""Runs every drone's camera: renders at a wall-clock frame rate (off the event loop, in
one worker thread), encodes, hands frames to the MJPEG server and the metadata to a
publisher (the bus). A drone on its pad is rendered rarely; airborne ones at full rate."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from missions.scenario import Scenario
from sim.scene.render import Effects, Renderer, Scene
from sim.video.camera import DroneCamera, FrameMeta, camera_pose
from sim.video.mjpeg import Latest, MjpegServer
from sim.world import SimWorld

log = logging.getLogger("dronepatrol.sim.video")

GROUNDED_EVERY = 10
"""A drone on the ground gets one frame in this many ticks."""


def scene_of(scenario: Scenario) -> Scene:
    inc = scenario.incidents
    return Scene(list(inc.fires), list(inc.vehicles), list(inc.confusers))


class VideoService:
    def __init__(
        self,
        world: SimWorld,
        server: MjpegServer,
        fps: float = 5.0,
        width: int = 640,
        height: int = 360,
        publish_meta: Callable[[FrameMeta], Awaitable[None]] | None = None,
        seed: int = 0,
    ) -> None:
        self.world = world
        self.server = server
        self.fps = fps
        self.renderer = Renderer(world.scenario, scene_of(world.scenario), seed)
        self.cameras = {
            aid: DroneCamera(aid, world.scenario, self.renderer, v.copter, width, height)
            for aid, v in world.vehicles.items()
        }
        for aid in self.cameras:
            server.streams.setdefault(aid, Latest())
        self.publish_meta = publish_meta
        self.effects = Effects(noise_sigma=2.0)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="render")
        self.frames = 0
        self.active: set[str] | None = None
        """Render only these cameras (someone watches them); None: every one."""

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        tick = 0
        try:
            while not stop.is_set():
                t0 = loop.time()
                for aid, cam in self.cameras.items():
                    if self.active is not None and aid not in self.active:
                        continue
                    v = self.world.vehicles[aid]
                    if not v.copter.airborne and tick % GROUNDED_EVERY:
                        continue
                    await self._one(aid, cam, loop)
                tick += 1
                delay = max(0.0, 1.0 / self.fps - (loop.time() - t0))
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay or 0.001)
                except TimeoutError:
                    pass
        finally:
            self._pool.shutdown(wait=True)

    async def _one(self, aid: str, cam: DroneCamera, loop: asyncio.AbstractEventLoop) -> None:
        v = self.world.vehicles[aid]
        t = self.world.clock.now()
        pose = camera_pose(self.world.scenario, v.copter)  # read on the loop, render elsewhere
        wind = v.wind.vector

        def work() -> tuple[bytes, FrameMeta]:
            frame, meta = cam.capture(t, wind, self.effects, pose)
            return cam.encode(frame.image, meta), meta

        jpeg, meta = await loop.run_in_executor(self._pool, work)
        headers = {
            "X-Frame-Seq": str(meta.seq),
            "X-Capture-Time": meta.time,
            "X-Pose": f"{meta.lon:.7f},{meta.lat:.7f},{meta.alt_m:.2f},{meta.heading_deg:.2f},{meta.pitch_deg:.2f}",
        }
        await self.server.streams[aid].publish(jpeg, headers, meta.seq)
        self.frames += 1
        if self.publish_meta is not None:
            try:
                await self.publish_meta(meta)
            except Exception:  # the bus being away must not stop the cameras
                log.warning("frame metadata not published", exc_info=True)
