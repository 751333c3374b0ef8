"""`dronepatrol vision ...`: train, evaluate, try the detector on images, run it on a stream."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.settings import Settings

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


class VisionUsageError(Exception):
    """Bad input to a vision command; the message says what."""


def add_parser(sub: argparse._SubParsersAction, scenario_arg: Callable[[argparse.ArgumentParser], None]) -> None:  # type: ignore[type-arg]
    vp = sub.add_parser("vision", help="the detector: train, evaluate, detect on images, run on a stream")
    vsub = vp.add_subparsers(dest="vision_command", required=True)

    def model_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", type=Path, help="ONNX or ultralytics .pt model (default: the shipped one)")
        p.add_argument("--classes", help="class map for a model trained elsewhere, e.g. '0:smoke,1:fire'")
        p.add_argument("--imgsz", type=int, help="long side of the network input (default from settings: 416)")
        p.add_argument("--conf", type=float, help="lowest score kept")

    tp = vsub.add_parser("train", help="train the detector on labelled folders and rendered images (CPU, offline)")
    scenario_arg(tp)
    tp.add_argument(
        "--data",
        action="append",
        metavar="DIR[=MAP]",
        help="a labelled YOLO folder, with its class map when its ids are not ours (e.g. "
        "real/fire_smoke/x=0:smoke,1:fire); repeat for several, merged and split by group. "
        "One folder with a data.yaml and train/val of its own is used as it is. Default: render one",
    )
    tp.add_argument("--images", type=int, default=600, help="images to render when no --data (default 600)")
    tp.add_argument("--epochs", type=int, default=40)
    tp.add_argument("--imgsz", type=int, default=320)
    tp.add_argument("--batch", type=int, default=16)
    tp.add_argument("--seed", type=int, default=0)
    tp.add_argument("--arch", default="yolo11n.yaml", help="network (ultralytics YAML), e.g. yolov5n.yaml")
    tp.add_argument("--start", type=Path, help="starting weights: a YOLOv5 checkpoint (COCO) or an ultralytics .pt")
    tp.add_argument("--val-share", type=float, default=0.2, help="share of each folder's groups kept for validation")
    tp.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads")
    tp.add_argument("--workers", type=int, default=2, help="data loader processes")
    tp.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        type=Path,
        metavar="CHECKPOINT",
        help="go on from the work folder's last checkpoint (or from CHECKPOINT, copied there first)",
    )
    tp.add_argument("--out", type=Path, help="work folder (default: <data_dir>/vision-train)")
    tp.add_argument("--install", type=Path, help="copy the .pt and .onnx into this folder when done")

    ep = vsub.add_parser(
        "export", help="the service's model files from a training checkpoint (stripped .pt, ONNX, int8)"
    )
    ep.add_argument("weights", type=Path, help="a checkpoint of `vision train` (its run/weights/best.pt)")
    ep.add_argument("--data", type=Path, required=True, help="the training's dataset folder (int8 calibration)")
    ep.add_argument("--imgsz", type=int, default=416, help="the input size to export for (default 416)")
    ep.add_argument("--install", type=Path, help="copy the files here under the shipped names (vision/models)")

    qp = vsub.add_parser("quantize", help="an int8 OpenVINO model from an ONNX one, calibrated on a YOLO dataset")
    qp.add_argument("--model", type=Path, help="the ONNX model (default: the shipped one)")
    qp.add_argument("--data", type=Path, required=True, help="a YOLO dataset folder (its images/train calibrate)")
    qp.add_argument("--imgsz", type=int, default=320)
    qp.add_argument("--out", type=Path, required=True, help="the .xml to write (its .bin beside it)")
    qp.add_argument(
        "--max-drop",
        type=float,
        help="accuracy control: keep layers in fp32 until mAP50 on the val split drops by at most this (e.g. 0.01)",
    )

    ep = vsub.add_parser("eval", help="precision, recall and mAP50 per class on a YOLO folder (images/, labels/)")
    ep.add_argument("dir", type=Path)
    model_args(ep)
    ep.add_argument("--labels", help="label id -> class, e.g. '0:smoke,1:fire' (default: the model's names)")
    ep.add_argument("--json", action="store_true")

    dp = vsub.add_parser("detect", help="draw the detector's boxes on images")
    dp.add_argument("path", type=Path, help="an image or a folder of images")
    model_args(dp)
    dp.add_argument("--out", type=Path, help="write annotated PNGs here")
    dp.add_argument("--json", action="store_true")

    rp = vsub.add_parser("run", help="run the whole pipeline on one stream and print findings")
    scenario_arg(rp)
    rp.add_argument("url", help="http MJPEG, rtsp://, udp://, or a video file")
    model_args(rp)
    rp.add_argument("--name", default="cam", help="stream name (the airport id for a drone)")
    rp.add_argument(
        "--pose-from",
        default="stream",
        help="'stream' (per-frame metadata, as the sim sends), 'mavlink:URL' (the drone's telemetry, e.g. "
        "mavlink:udpout:127.0.0.1:14560), or 'fixed:LON,LAT,ALT,HEADING,PITCH[,HFOV]' (a mast camera)",
    )
    rp.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: until Ctrl-C)")
    rp.add_argument(
        "--first-frame-wait",
        type=float,
        default=30.0,
        help="give up (exit 2) when the stream has sent no frame in this many seconds (default 30); "
        "once it has, a dropped stream is retried until stopped",
    )
    rp.add_argument("--mqtt", help="also publish findings to this broker (mqtt://host:port)")
    rp.add_argument("--evidence", type=Path, help="write each finding's crop and frame here")
    rp.add_argument("--json", action="store_true", help="print findings as JSON lines")


def detector_from(args: argparse.Namespace, settings: Settings, floor: float | None = None):  # type: ignore[no-untyped-def]
    """The detector the settings' `vision:` section asks for, as the service loads it,
    with the command line's --model/--classes/--imgsz/--conf over it; `floor` overrides
    the lowest score kept (evaluation draws the whole precision-recall curve, from 0.001)."""
    from orchestrator.video.vision_config import ServiceVision
    from vision.classmap import ClassMapError, parse_class_map

    vs = settings.vision
    text = args.classes or vs.classes
    try:
        if text:
            parse_class_map(text)
    except ClassMapError as exc:
        raise VisionUsageError(str(exc)) from None
    imgsz = args.imgsz or vs.imgsz
    if imgsz % 32 or imgsz < 64:
        raise VisionUsageError(f"--imgsz {imgsz}: must be a multiple of 32, at least 64")
    conf = args.conf if args.conf is not None else vs.conf
    if not 0 < conf < 1:
        raise VisionUsageError(f"--conf {conf}: must be between 0 and 1")
    chosen = vs.model_copy(update={"model": args.model or vs.model, "classes": text, "imgsz": imgsz, "conf": conf})
    return ServiceVision(chosen).load(floor)


def cmd_vision(args: argparse.Namespace, settings: Settings) -> int:
    from vision.detector import ModelError
    from vision.evaluate import DatasetError

    try:
        command = {
            "train": _train,
            "quantize": _quantize,
            "export": _export,
            "eval": _eval,
            "detect": _detect,
            "run": _run,
        }
        return command[args.vision_command](args, settings)
    except (ModelError, DatasetError, VisionUsageError) as exc:
        print(f"dronepatrol: error: {exc}", file=sys.stderr)
        return 2


def _train(args: argparse.Namespace, settings: Settings) -> int:
    os.environ["YOLO_VERBOSE"] = "1"  # the training progress bar
    try:
        from vision.datasets import DatasetError, Source
        from vision.train import TrainConfig, train
    except ImportError as exc:
        raise VisionUsageError(f"training needs the train extra: pip install 'dronepatrol[train]' ({exc})") from None
    from vision.classmap import ClassMapError

    if args.epochs <= 0 or args.images <= 1:
        raise VisionUsageError("--epochs and --images must be positive (at least 2 images)")
    if args.imgsz % 32:
        raise VisionUsageError(f"--imgsz {args.imgsz}: a multiple of 32")
    if not 0 < args.val_share < 1:
        raise VisionUsageError(f"--val-share {args.val_share}: a share between 0 and 1")
    if args.start is not None and not args.start.is_file():
        raise VisionUsageError(f"--start {args.start}: no such file")
    if isinstance(args.resume, Path) and not args.resume.is_file():
        raise VisionUsageError(f"--resume {args.resume}: no such file")
    data: Path | list[Source] | None = None
    given = args.data or []
    try:
        if len(given) == 1 and "=" not in given[0] and (Path(given[0]) / "images" / "train").is_dir():
            data = Path(given[0])
        elif given:
            data = [Source.parse(text) for text in given]
    except (DatasetError, ClassMapError) as exc:
        raise VisionUsageError(str(exc)) from None
    out = args.out or settings.data_dir / "vision-train"
    if data is None and not args.resume:
        data = _render(args, settings, out / "rendered")
    cfg = TrainConfig(
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        seed=args.seed,
        arch=args.arch,
        start=args.start,
        val_share=args.val_share,
        threads=args.threads,
        workers=args.workers,
    )
    try:
        path = train(cfg, out, data or out / "dataset", args.install, resume=args.resume)
    except (DatasetError, FileNotFoundError) as exc:
        raise VisionUsageError(str(exc)) from None
    print(f"model: {path}")
    return 0


def _render(args: argparse.Namespace, settings: Settings, folder: Path) -> Path:
    """The simulator's images, labelled, when no data folder is given (the composition root
    joins the two: vision itself never imports the simulator)."""
    from missions.scenario import load_scenario
    from sim.scene.dataset import write_dataset

    write_dataset(load_scenario(args.scenario or settings.scenario), args.images, folder, seed=args.seed)
    return folder


def _export(args: argparse.Namespace, settings: Settings) -> int:
    try:
        from vision.train import data_yaml, export_model
    except ImportError as exc:
        raise VisionUsageError(f"export needs the train extra: pip install 'dronepatrol[train]' ({exc})") from None
    if not args.weights.is_file():
        raise VisionUsageError(f"{args.weights}: no such checkpoint")
    if args.imgsz % 32 or args.imgsz < 64:
        raise VisionUsageError(f"--imgsz {args.imgsz}: a multiple of 32, at least 64")
    try:
        yaml_path = data_yaml(args.data)
    except FileNotFoundError as exc:
        raise VisionUsageError(str(exc)) from None
    print(f"model: {export_model(args.weights, yaml_path, args.imgsz, args.install)}")
    return 0


def _quantize(args: argparse.Namespace, settings: Settings) -> int:
    from vision.train import DEFAULT_MODEL, data_yaml, quantize

    try:
        yaml_path = data_yaml(args.data)
    except FileNotFoundError as exc:
        raise VisionUsageError(str(exc)) from None
    model = args.model or DEFAULT_MODEL
    if model.suffix.lower() != ".onnx" or not model.is_file():
        raise VisionUsageError(f"--model {model}: an existing .onnx model is needed")
    if args.out.suffix.lower() != ".xml":
        raise VisionUsageError(f"--out {args.out}: an OpenVINO model is written as .xml")
    if args.max_drop is not None and not 0 < args.max_drop < 1:
        raise VisionUsageError(f"--max-drop {args.max_drop}: a share of mAP50 between 0 and 1")
    out = quantize(model, yaml_path, args.out, args.imgsz, args.max_drop)
    if out is None:
        raise VisionUsageError("quantization needs OpenVINO and NNCF: pip install 'dronepatrol[train]'")
    print(f"int8 model: {out}")
    return 0


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from vision.classmap import ClassMapError, parse_class_map
    from vision.evaluate import evaluate

    if not args.dir.is_dir():
        raise VisionUsageError(f"{args.dir}: not a folder")
    try:
        given = parse_class_map(args.labels) if args.labels else None
    except ClassMapError as exc:
        raise VisionUsageError(f"--labels: {exc}") from None
    det = detector_from(args, settings, floor=0.001)
    operating = args.conf if args.conf is not None else settings.vision.conf
    labels = given if given is not None else dict(det.classes)
    unknown = sorted(set(labels.values()) - set(det.classes.values()))
    if unknown:
        raise VisionUsageError(
            f"--labels names {unknown}, which the model does not detect ({sorted(set(det.classes.values()))})"
        )
    result = evaluate(det, args.dir, labels, operating)
    print(json.dumps(result.to_json()) if args.json else result.text())
    return 0


def _images(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if found:
            return found
        raise VisionUsageError(f"{path}: no images")
    raise VisionUsageError(f"{path}: no such file or folder")


def _detect(args: argparse.Namespace, settings: Settings) -> int:
    import cv2

    from vision.evidence import draw_boxes

    det = detector_from(args, settings)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for p in _images(args.path):
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            print(f"{p}: not an image, skipped", file=sys.stderr)
            continue
        boxes = det.detect([img])[0]
        if args.out:
            cv2.imwrite(str(args.out / f"{p.stem}.png"), draw_boxes(img, boxes))
        rows.append(
            {
                "image": str(p),
                "detections": [
                    {"class": d.cls, "score": round(d.score, 3), "box": [round(v, 1) for v in d.box]} for d in boxes
                ],
            }
        )
        if not args.json:
            summary = ", ".join(f"{d.cls} {d.score:.2f}" for d in boxes) or "nothing"
            print(f"{p.name}: {summary}")
    if args.json:
        print(json.dumps(rows))
    return 0


def _fixed_pose(text: str):  # type: ignore[no-untyped-def]
    from vision.frames import CameraPose

    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise VisionUsageError(f"--pose-from fixed:{text}: not numbers") from None
    if len(values) not in (5, 6):
        raise VisionUsageError("--pose-from fixed: expects LON,LAT,ALT,HEADING,PITCH[,HFOV]")
    pose = CameraPose(*values)
    if not pose.valid():
        raise VisionUsageError(f"--pose-from fixed:{text}: out of range (altitude > 0, pitch -90..30)")
    return pose


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from missions.scenario import load_scenario
    from vision.ingest import StreamIngest
    from vision.pipeline import PipelineConfig, VisionPipeline, VisionZone
    from vision.pose import FixedPose, PoseHistory
    from vision.rules import ConfirmRule
    from vision.telemetry import MavlinkPoseFeed

    poses: FixedPose | PoseHistory | None = None
    feed = None
    if args.pose_from.startswith("fixed:"):
        poses = FixedPose(_fixed_pose(args.pose_from[len("fixed:") :]))
    elif args.pose_from.startswith("mavlink:"):
        poses = PoseHistory()
        feed = MavlinkPoseFeed(args.pose_from[len("mavlink:") :], poses)
    elif args.pose_from != "stream":
        raise VisionUsageError(
            f"--pose-from {args.pose_from!r}: use 'stream', 'fixed:LON,LAT,ALT,HEADING,PITCH' or 'mavlink:URL'"
        )
    det = detector_from(args, settings)
    sc = load_scenario(args.scenario or settings.scenario)
    publisher = _Publisher(args.mqtt) if args.mqtt else None
    if args.evidence:
        args.evidence.mkdir(parents=True, exist_ok=True)

    def on_finding(report) -> None:  # type: ignore[no-untyped-def]
        print(report.to_json(evidence=False) if args.json else report.line(), flush=True)
        if args.evidence:
            (args.evidence / f"{report.id}-crop.jpg").write_bytes(report.crop_jpeg)
            (args.evidence / f"{report.id}-frame.jpg").write_bytes(report.frame_jpeg)
        if publisher is not None:
            publisher.publish(report)

    vs = settings.vision
    config = PipelineConfig(confirm=ConfirmRule(vs.confirm_k, vs.confirm_n, vs.confirm_span_s))
    zones = [VisionZone.from_scenario(z) for z in sc.incidents.detection_zones]
    pipe = VisionPipeline(det, sc.frame, sc.incidents.no_parking, zones, config=config, on_finding=on_finding)
    ingest = StreamIngest(args.name, args.url)
    pipe.add_stream(ingest, poses=poses)
    if feed is not None:
        feed.start()
    pipe.start()
    started = time.monotonic()
    try:
        while not args.duration or time.monotonic() - started < args.duration:
            time.sleep(0.2)
            if not ingest.stats.received and time.monotonic() - started > args.first_frame_wait:
                why = ingest.stats.last_error or "nothing received"
                raise VisionUsageError(
                    f"stream {args.name} ({args.url}): no frame in {args.first_frame_wait:g} s ({why})"
                )
    except KeyboardInterrupt:
        pass
    finally:
        pipe.stop()
        if feed is not None:
            feed.stop()
        if publisher is not None:
            publisher.close()
    st, ist = pipe.stats, ingest.stats
    print(
        f"{st.frames} frames processed, {ist.dropped_stale} dropped as stale, {st.no_pose} without pose, "
        f"{st.corrupt + ist.corrupt} corrupt, {ist.failures} stream failures, {st.findings} findings",
        file=sys.stderr,
    )
    return 0


class _Publisher:
    """Findings onto MQTT from the pipeline's thread, through a private event loop."""

    def __init__(self, url: str) -> None:
        import asyncio

        from orchestrator.bus.findings import FindingPublisher

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="findings-mqtt", daemon=True)
        self.thread.start()
        self.pub = FindingPublisher(url)
        asyncio.run_coroutine_threadsafe(self.pub.start(), self.loop).result(10)

    def publish(self, report) -> None:  # type: ignore[no-untyped-def]
        import asyncio

        asyncio.run_coroutine_threadsafe(self.pub.publish(report), self.loop)

    def close(self) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self.pub.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
