"""Live video of one drone for the dashboard, with the detector's boxes drawn: the drone's
stream read, every frame shown run through the detector, re-encoded, and served as
MJPEG (multipart/x-mixed-replace, what an <img> plays).

Only while someone watches: the stream is opened for the first viewer and closed with
the last, and `on_watch` tells a simulator which camera to render. The detector is the
shipped model (or the settings' one), loaded on first use and shared by all viewers.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import cv2
import numpy as np

from vision.detector import Detector, DetectorConfig, load_detector
from vision.evidence import draw_boxes, jpeg
from vision.ingest import StreamIngest

log = logging.getLogger("dronepatrol.video")

BOUNDARY = "frame"


class LiveView:
    def __init__(
        self,
        urls: dict[str, str],
        *,
        model: Path | None = None,
        fps: float = 4.0,
        on_watch: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.urls = dict(urls)
        """Drone id -> its video stream (MJPEG or anything OpenCV opens)."""
        self.model = model
        self.fps = fps
        self.on_watch = on_watch
        self._detector: Detector | None = None
        self._lock = threading.Lock()
        self.viewers: dict[str, int] = {}

    def detector(self) -> Detector:
        with self._lock:
            if self._detector is None:
                from vision.train import DEFAULT_MODEL

                self._detector = load_detector(self.model or DEFAULT_MODEL, DetectorConfig(imgsz=320))
            return self._detector

    def annotate(self, image: np.ndarray) -> bytes:
        boxes = self.detector().detect([image])[0]
        return jpeg(draw_boxes(image, boxes), quality=80)

    async def frames(self, drone: str) -> AsyncIterator[bytes]:
        """Multipart chunks for `drone` until the viewer goes away. KeyError: no video."""
        url = self.urls[drone]
        self.viewers[drone] = self.viewers.get(drone, 0) + 1
        if self.on_watch is not None and self.viewers[drone] == 1:
            self.on_watch(drone, True)
        ingest = StreamIngest(drone, url).start()
        loop = asyncio.get_running_loop()
        try:
            while True:
                t0 = loop.time()
                raw = await asyncio.to_thread(ingest.take, 1.0)
                if raw is None:
                    continue
                image = raw.image
                if image is None and raw.jpeg is not None:
                    image = cv2.imdecode(np.frombuffer(raw.jpeg, np.uint8), cv2.IMREAD_COLOR)
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
            ingest.stop()
            self.viewers[drone] -= 1
            if self.on_watch is not None and self.viewers[drone] == 0:
                self.on_watch(drone, False)
