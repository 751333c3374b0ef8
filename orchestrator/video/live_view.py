"""Live video of one drone for the dashboard, with the detector's boxes drawn: the drone's
stream read, every frame shown run through the detector, re-encoded, and served as
MJPEG (multipart/x-mixed-replace, what an <img> plays).

Only while someone watches: the stream is opened for the first viewer and closed with
the last, and `on_watch` tells a simulator which camera to render. The detector is the
service's one (`vision_config.py`: the settings' model and thresholds), loaded on first
use and shared by all viewers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import cv2
import numpy as np

from orchestrator.video.vision_config import ServiceVision
from vision.evidence import draw_boxes, jpeg
from vision.ingest import StreamIngest

log = logging.getLogger("dronepatrol.video")

BOUNDARY = "frame"


class LiveView:
    def __init__(
        self,
        urls: dict[str, str],
        *,
        vision: ServiceVision | None = None,
        fps: float = 4.0,
        on_watch: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.urls = dict(urls)
        """Drone id -> its video stream (MJPEG or anything OpenCV opens)."""
        self.vision = vision or ServiceVision()
        self.fps = fps
        self.on_watch = on_watch
        self.viewers: dict[str, int] = {}

    def annotate(self, image: np.ndarray) -> bytes:
        boxes = self.vision.detector().detect([image])[0]
        return jpeg(draw_boxes(image, boxes), quality=80)

    async def snapshot(self, drone: str, wait_s: float = 10.0) -> bytes | None:
        """One frame of `drone`'s video with the detector's boxes, as JPEG; None when it
        has no video or none came within `wait_s` (the evidence of a look that found nothing)."""
        url = self.urls.get(drone)
        if url is None:
            return None
        self.watch(drone, +1)
        ingest = StreamIngest(drone, url).start()
        try:
            raw = await asyncio.to_thread(ingest.take, wait_s)
            image = None if raw is None else _decoded(raw.image, raw.jpeg)
            return None if image is None else await asyncio.to_thread(self.annotate, image)
        finally:
            ingest.stop(wait=False)  # the loop may be serving this very stream
            self.watch(drone, -1)

    def watch(self, drone: str, step: int) -> None:
        """One watcher more (+1) or fewer (-1): the camera renders while anyone watches."""
        before = self.viewers.get(drone, 0)
        self.viewers[drone] = before + step
        if self.on_watch is not None and (before == 0) != (self.viewers[drone] == 0):
            self.on_watch(drone, self.viewers[drone] > 0)

    async def frames(self, drone: str) -> AsyncIterator[bytes]:
        """Multipart chunks for `drone` until the viewer goes away. KeyError: no video."""
        url = self.urls[drone]
        self.watch(drone, +1)
        ingest = StreamIngest(drone, url).start()
        loop = asyncio.get_running_loop()
        try:
            while True:
                t0 = loop.time()
                raw = await asyncio.to_thread(ingest.take, 1.0)
                if raw is None:
                    continue
                image = _decoded(raw.image, raw.jpeg)
                if image is None:
                    continue
                data = await asyncio.to_thread(self.annotate, image)
                yield (
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                    + data
                    + b"\r\n"
                )
                await asyncio.sleep(max(0.0, 1.0 / self.fps - (loop.time() - t0)))
        finally:
            ingest.stop(wait=False)  # the loop may be serving this very stream
            self.watch(drone, -1)


def _decoded(image: np.ndarray | None, data: bytes | None) -> np.ndarray | None:
    if image is None and data is not None:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return image
