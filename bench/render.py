"""Render benchmark: frames per second of the drone camera, and stream latency.

fps at 640x360 and 1280x720 over a flight path (cached tiles, as in a patrol), against the
target of 60 fps at 640x360 on one core (the baseline is the target's frame time).
stream_latency_ms: from a frame published to the MJPEG server to OpenCV's
VideoCapture.read() returning it, measured by the frame's sequence number drawn into
the image's corner as bits and read back from the decoded frame.

Last line: one JSON object with fps_640x360, fps_1280x720, stream_latency_ms.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from missions.optics import Intrinsics, Pose
from missions.scenario import load_scenario
from sim.scene.render import Effects, Renderer
from sim.video.mjpeg import Latest, MjpegServer
from sim.video.service import scene_of

cv2.setNumThreads(1)  # one core, as the target says


def fps(renderer: Renderer, w: int, h: int, start: tuple[float, float], n: int = 120) -> float:
    intr = Intrinsics(w, h, 82.0)
    t = renderer.scenario.day_start().replace(hour=10)
    poses = [Pose(start[0] + 12.0 * k / 5, start[1] + 4.0 * k / 5, 80.0, 70.0, -45.0) for k in range(n)]
    for p in poses[:10]:
        renderer.render(intr, p, t)  # warm the tile cache, as a patrol does
    t0 = time.perf_counter()
    for p in poses:
        renderer.render(intr, p, t, (2.0, 1.0), Effects(noise_sigma=2.0))
    return n / (time.perf_counter() - t0)


def stream_latency(frames: int = 40) -> float:
    server = MjpegServer()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    published: dict[int, float] = {}
    stop = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)

        async def main() -> None:
            await server.start()
            server.streams["bench"] = Latest()
            ready.set()
            seq = 0
            while not stop.is_set():
                seq += 1
                img = np.full((360, 640, 3), 90, np.uint8)
                for bit in range(16):  # the sequence number, one 20-pixel square per bit
                    if seq >> bit & 1:
                        img[0:20, bit * 20 : bit * 20 + 20] = 255
                    else:
                        img[0:20, bit * 20 : bit * 20 + 20] = 0
                ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
                if not ok:
                    raise RuntimeError("JPEG encoding failed")
                published[seq] = time.perf_counter()
                await server.streams["bench"].publish(buf.tobytes(), {"X-Frame-Seq": str(seq)}, seq)
                await asyncio.sleep(0.1)
            await server.stop()

        loop.run_until_complete(main())

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    ready.wait(5)
    cap = cv2.VideoCapture(server.url("bench"), cv2.CAP_FFMPEG)
    lat = []
    try:
        for _ in range(frames):
            ok, img = cap.read()
            now = time.perf_counter()
            if not ok:
                continue
            seq = sum(1 << bit for bit in range(16) if img[10, bit * 20 + 10].mean() > 128)
            if seq in published:
                lat.append((now - published[seq]) * 1000)
    finally:
        cap.release()
        stop.set()
        th.join(5)
    return statistics.median(lat) if lat else float("nan")


def main() -> None:
    sc = load_scenario()
    renderer = Renderer(sc, scene_of(sc))
    ap = sc.airports["yuehai"]
    f640 = fps(renderer, 640, 360, ap.xy)
    f720 = fps(renderer, 1280, 720, ap.xy)
    print(f"render: {f640:.0f} fps at 640x360, {f720:.0f} fps at 1280x720 (one thread); target 60 fps at 640x360")
    latency = stream_latency()
    print(f"stream: {latency:.0f} ms median from publish to VideoCapture.read() (10 fps MJPEG over HTTP)")
    print(
        json.dumps(
            {
                "fps_640x360": round(f640, 1),
                "fps_1280x720": round(f720, 1),
                "stream_latency_ms": round(latency, 1),
                "baseline_fps": 60.0,
                "ratio_vs_target": round(f640 / 60.0, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
