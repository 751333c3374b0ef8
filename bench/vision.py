"""Vision benchmark: our pipeline against a plain ultralytics predict loop, on the same
frames and the same model, then 8 live streams at once, then capture -> finding latency.

- fps_ours_S / fps_ultralytics_S (S = 640, 320): 1280x720 JPEG frames rendered by the
  sim (fires, smoke, vehicles). Ours: decode -> detect (ONNX Runtime, 16:9 input) ->
  project -> track -> rules. Baseline: cv2.imdecode + ``YOLO(pt).predict(frame,
  imgsz=S)``, ultralytics as shipped. `agree_S` is the share of baseline boxes that ours
  reproduces (same class, IoU >= 0.9, score within 0.01).
- fps_int8_S, speedup_int8_S: the int8 OpenVINO model (same pipeline) against the same
  baseline; map50_fp32 / map50_int8 on 200 held-out rendered images (a seed not used in
  training), so the quantization's cost is in the same table.
- real_*: precision, recall and mAP50 of the shipped model on the real photographs in
  ../shared/data/eval (evaluation only, never trained on), when that folder is present.
- streams8_fps_each: 8 MJPEG streams served over HTTP at 8 fps each (640x360, with pose
  headers), one pipeline reading all of them for 20 s; frames processed per stream per second.
- capture_to_finding p50/p95: capture timestamp (wall clock, in the stream's headers) of
  the frame that confirmed a finding -> the finding reported; trackers are reset every
  few seconds so findings keep coming.

Last line: one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from missions.incidents import FirePlan, VehiclePlan
from missions.optics import Intrinsics, Pose
from missions.scenario import load_scenario
from sim.scene.render import Effects, Renderer, Scene
from sim.video.mjpeg import Latest, MjpegServer
from vision.detector import DetectorConfig, OnnxDetector
from vision.frames import RawFrame
from vision.ingest import StreamIngest
from vision.pipeline import VisionPipeline
from vision.rules import ConfirmRule
from vision.train import DEFAULT_MODEL, DEFAULT_WEIGHTS

N_FRAMES = 40
SPOTS = [(-2600.0, 3300.0), (-3100.0, 800.0), (1200.0, -600.0), (-400.0, 2200.0)]


def _scene_for(sc, centre: tuple[float, float], t: datetime) -> Scene:  # type: ignore[no-untyped-def]
    x, y = centre
    return Scene(
        fires=[FirePlan("f1", (x + 20, y + 60), t - timedelta(minutes=10), 0.8, 12)],
        vehicles=[VehiclePlan(f"v{k}", "car", ((x - 30 + 9 * k, y + 20 - 4 * k),), 90.0 + 20 * k) for k in range(4)],
    )


def render_frames(sc, w: int, h: int, n: int) -> list[tuple[bytes, Pose, datetime]]:  # type: ignore[no-untyped-def]
    t0 = sc.day_start().replace(hour=11)
    renderer = Renderer(sc, Scene(), 0)
    out = []
    intr = Intrinsics(w, h, 82.0)
    for k in range(n):
        cx, cy = SPOTS[k % len(SPOTS)]
        renderer.scene = _scene_for(sc, (cx, cy), t0)
        pose = Pose(cx + 2.0 * k, cy - 60, 70.0, 10.0 * (k % 5), -50.0)
        frame = renderer.render(intr, pose, t0 + timedelta(seconds=k), (2.0, 1.0), Effects(noise_sigma=2.0))
        ok, buf = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        assert ok
        out.append((buf.tobytes(), pose, t0 + timedelta(seconds=k)))
    return out


def _raw(sc, k: int, jpeg: bytes, pose: Pose, t: datetime, hfov: float):  # type: ignore[no-untyped-def]
    from vision.frames import CameraPose

    lon, lat = sc.frame.to_lonlat(pose.x, pose.y)
    cam = CameraPose(lon, lat, pose.alt, pose.heading_deg, pose.pitch_deg, hfov)
    return RawFrame("bench", k, jpeg, None, t, cam, time.monotonic())


def agreement(ours: list, base: list) -> float:  # type: ignore[type-arg]
    from vision.nms import iou_one_to_many

    total = matched = 0
    for a, b in zip(ours, base, strict=True):
        for d in b:
            total += 1
            same = [o for o in a if o.cls == d.cls and abs(o.score - d.score) <= 0.01]
            if same and iou_one_to_many(np.array(d.box), np.array([o.box for o in same])).max() >= 0.9:
                matched += 1
    return matched / total if total else 1.0


def single_stream(sc, frames, imgsz: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    cfg = DetectorConfig(imgsz=imgsz)
    ours = OnnxDetector(DEFAULT_MODEL, cfg)
    pipe = VisionPipeline(ours, sc.frame)
    from vision.offline import ultralytics

    model = ultralytics().YOLO(str(DEFAULT_WEIGHTS), task="detect")
    jpegs = [f[0] for f in frames]
    # Warm both (first calls allocate).
    for j in jpegs[:3]:
        model.predict(cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR), imgsz=imgsz, verbose=False)
        ours.detect([cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR)])
    t0 = time.perf_counter()
    base_results = []
    for j in jpegs:
        r = model.predict(cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR), imgsz=imgsz, verbose=False)[0]
        base_results.append(r)
    t_base = time.perf_counter() - t0
    t0 = time.perf_counter()
    for k, (j, pose, t) in enumerate(frames):
        pipe.process([_raw(sc, k, j, pose, t, 82.0)])
    t_ours = time.perf_counter() - t0
    names = model.names
    base = [
        [
            type("D", (), {"cls": names[int(c)], "score": float(s), "box": tuple(float(v) for v in b)})()
            for b, s, c in zip(r.boxes.xyxy.numpy(), r.boxes.conf.numpy(), r.boxes.cls.numpy(), strict=True)
        ]
        for r in base_results
    ]
    mine = ours.detect([cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR) for j in jpegs])
    n = len(frames)
    return {
        f"fps_ours_{imgsz}": round(n / t_ours, 2),
        f"fps_ultralytics_{imgsz}": round(n / t_base, 2),
        f"speedup_{imgsz}": round(t_base / t_ours, 2),
        f"agree_{imgsz}": round(agreement(mine, base), 4),
        f"boxes_{imgsz}": sum(len(b) for b in base),
    }


def int8_figures(sc, frames) -> dict[str, float]:  # type: ignore[no-untyped-def]
    import tempfile

    from sim.scene.dataset import write_dataset
    from vision.detector import OpenVinoDetector
    from vision.evaluate import evaluate
    from vision.train import DEFAULT_INT8

    out: dict[str, float] = {}
    jpegs = [f[0] for f in frames]
    for s in (640, 320):
        det = OpenVinoDetector(DEFAULT_INT8, DetectorConfig(imgsz=s))
        pipe = VisionPipeline(det, sc.frame)
        for j in jpegs[:3]:
            det.detect([cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR)])
        t0 = time.perf_counter()
        for k, (j, pose, t) in enumerate(frames):
            pipe.process([_raw(sc, k, j, pose, t, 82.0)])
        out[f"fps_int8_{s}"] = round(len(frames) / (time.perf_counter() - t0), 2)
    with tempfile.TemporaryDirectory() as tmp:
        write_dataset(sc, 200, Path(tmp), seed=999, progress=False)
        names = {0: "fire", 1: "smoke", 2: "vehicle"}
        fp32 = evaluate(OnnxDetector(DEFAULT_MODEL, DetectorConfig(imgsz=320, conf=0.001)), Path(tmp), names)
        int8 = evaluate(OpenVinoDetector(DEFAULT_INT8, DetectorConfig(imgsz=320, conf=0.001)), Path(tmp), names)
    out["map50_fp32"] = fp32.map50
    out["map50_int8"] = int8.map50
    out["map50_int8_loss_points"] = round(100 * (fp32.map50 - int8.map50), 2)
    return out


REAL_SETS = {
    "fire_smoke": {0: "smoke", 1: "fire"},
    "vehicles": {0: "vehicle", 1: "vehicle", 2: "vehicle", 3: "vehicle"},
}


def real_photographs() -> dict[str, float]:
    from vision.evaluate import evaluate

    root = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "eval"
    out: dict[str, float] = {}
    if not root.is_dir():
        print(f"real photographs: {root} not found, skipped", flush=True)
        return out
    for imgsz in (320, 640):
        det = OnnxDetector(DEFAULT_MODEL, DetectorConfig(imgsz=imgsz, conf=0.001))
        for folder, labels in REAL_SETS.items():
            res = evaluate(det, root / folder, labels, operating_conf=0.25)
            print(f"real {folder} at {imgsz}:\n{res.text()}", flush=True)
            for name, r in res.classes.items():
                out[f"real_{name}_map50_{imgsz}"] = r.map50
                out[f"real_{name}_recall_{imgsz}"] = r.recall
                out[f"real_{name}_precision_{imgsz}"] = r.precision
    return out


def streams8(sc, seconds: float = 20.0, fps: float = 8.0) -> dict[str, float]:  # type: ignore[no-untyped-def]
    frames = render_frames(sc, 640, 360, 8)
    server = MjpegServer()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = threading.Event()
    names = [f"s{i}" for i in range(8)]

    def serve() -> None:
        asyncio.set_event_loop(loop)

        async def main() -> None:
            await server.start()
            for n in names:
                server.streams[n] = Latest()
            ready.set()
            seq = 0
            while not stop.is_set():
                seq += 1
                now = datetime.now(UTC)
                for i, n in enumerate(names):
                    jpeg, pose, _ = frames[i]
                    lon, lat = sc.frame.to_lonlat(pose.x, pose.y)
                    headers = {
                        "X-Frame-Seq": str(seq),
                        "X-Capture-Time": now.isoformat(),
                        "X-Pose": f"{lon:.7f},{lat:.7f},{pose.alt:.2f},{pose.heading_deg:.2f},{pose.pitch_deg:.2f}",
                    }
                    await server.streams[n].publish(jpeg, headers, seq)
                await asyncio.sleep(1 / fps)
            await server.stop()

        loop.run_until_complete(main())

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    ready.wait(10)
    from vision.pipeline import PipelineConfig

    det = OnnxDetector(DEFAULT_MODEL, DetectorConfig(imgsz=320))
    pipe = VisionPipeline(
        det, sc.frame, config=PipelineConfig(default_hfov_deg=82.0, confirm=ConfirmRule(k=3, n=6, min_span_s=0.5))
    )
    for n in names:
        pipe.add_stream(StreamIngest(n, server.url(n)))
    pipe.start()
    time.sleep(2.0)  # connect and warm up
    start_counts = dict(pipe.stats.per_stream)
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        time.sleep(3.0)
        for st in pipe.streams.values():  # forget what was found, so findings keep coming
            st.tracker.tracks.clear()
            st.reported.clear()
    elapsed = time.monotonic() - t0
    counts = {n: pipe.stats.per_stream.get(n, 0) - start_counts.get(n, 0) for n in names}
    lat = sorted(pipe.stats.finding_latency_s)
    frame_lat = sorted(pipe.stats.latency_s)
    pipe.stop()
    stop.set()
    th.join(10)
    each = [c / elapsed for c in counts.values()]
    dropped = sum(s.ingest.stats.dropped_stale for s in pipe.streams.values() if s.ingest is not None)
    return {
        "streams8_fps_each": round(min(each), 2),
        "streams8_fps_mean": round(statistics.mean(each), 2),
        "streams8_offered_fps": fps,
        "streams8_dropped_stale": dropped,
        "capture_to_finding_p50_s": round(lat[len(lat) // 2], 3) if lat else None,
        "capture_to_finding_p95_s": round(lat[int(len(lat) * 0.95)], 3) if lat else None,
        "findings": len(lat),
        "receipt_to_processed_p95_s": round(frame_lat[int(len(frame_lat) * 0.95)], 3) if frame_lat else None,
    }


def main() -> None:
    sc = load_scenario(None)
    frames = render_frames(sc, 1280, 720, N_FRAMES)
    result: dict[str, object] = {"frames": N_FRAMES, "frame_size": "1280x720"}
    for s in (640, 320):
        r = single_stream(sc, frames, s)
        print(f"imgsz {s}: {r}", flush=True)
        result.update(r)
    q = int8_figures(sc, frames)
    for s in (640, 320):
        q[f"speedup_int8_{s}"] = round(q[f"fps_int8_{s}"] / float(result[f"fps_ultralytics_{s}"]), 2)  # type: ignore[arg-type]
    print(f"int8: {q}", flush=True)
    result.update(q)
    result.update(real_photographs())
    r8 = streams8(sc)
    print(f"8 streams: {r8}", flush=True)
    result.update(r8)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
