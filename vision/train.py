"""Train the detector, then export it to ONNX (and int8).

Reproducible on a CPU, offline: the network is built from ultralytics' YAML, started from
weights found on disk (a COCO-pretrained YOLOv5 checkpoint, `vision.pretrained`) or from
scratch, never fetched; the AMP check is off. Data: several labelled folders of real and
rendered images merged and split by group (`vision.datasets`), or one YOLO folder (the
command line renders one with the simulator when given none). Training resumes from its last checkpoint, epoch by
epoch. The exported ONNX takes any input size (dynamic axes), so the pipeline can feed a
16:9 rectangle instead of a padded square.
"""

from __future__ import annotations

import logging
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

from vision.datasets import Source
from vision.datasets import build as build_dataset
from vision.offline import ultralytics

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL = MODELS_DIR / "dronepatrol-detector.onnx"
DEFAULT_WEIGHTS = MODELS_DIR / "dronepatrol-detector.pt"
DEFAULT_INT8 = MODELS_DIR / "dronepatrol-detector-int8.xml"
DEFAULT_IMGSZ = 416
"""The shipped model's input size: chosen by measurement (docs/model-card.md): at 416 it
finds more than at 320 on every set, real and rendered, for about 1.7x the compute."""


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 40
    imgsz: int = 320
    batch: int = 16
    threads: int = 2
    arch: str = "yolo11n.yaml"
    seed: int = 0
    start: Path | None = None
    """Starting weights: a YOLOv5 checkpoint (COCO-pretrained: its backbone and neck carry
    over, see `vision.pretrained`) or an ultralytics `.pt`; None trains from scratch."""
    val_share: float = 0.2
    workers: int = 2


def data_yaml(data: Path) -> Path:
    """Accept a data.yaml or a folder holding one."""
    path = data / "data.yaml" if data.is_dir() else data
    if not path.is_file():
        raise FileNotFoundError(f"{data}: no data.yaml (a YOLO dataset folder with images/ and labels/)")
    return path


def last_checkpoint(work: Path) -> Path:
    return work / "run" / "weights" / "last.pt"


def train(
    cfg: TrainConfig,
    work: Path,
    data: Path | list[Source],
    install_to: Path | None = None,
    resume: bool | Path = False,
) -> Path:
    """Train, export, and return the ONNX path (copied into `install_to` when given).

    `data` is a YOLO dataset (a data.yaml or its folder), or several labelled sources
    merged into `work/dataset` split by group (`vision.datasets`); rendered images are
    one more source (`dronepatrol sim dataset` writes them).
    `resume` goes on from `work`'s last checkpoint (or from the checkpoint given, copied
    there first): the epoch, optimiser and schedule carry on where they stopped, so a
    training spans as many runs as the machine needs."""
    ul = ultralytics()
    import torch

    torch.set_num_threads(cfg.threads)
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    if isinstance(data, list):
        yaml_path = build_dataset(data, work / "dataset", val_share=cfg.val_share, seed=cfg.seed)
    else:
        yaml_path = data_yaml(data)
    last = last_checkpoint(work)
    if isinstance(resume, Path):
        last.parent.mkdir(parents=True, exist_ok=True)
        if resume.resolve() != last:
            shutil.copyfile(resume, last)
    if resume:
        if not last.is_file():
            raise FileNotFoundError(f"{last}: no checkpoint to resume from")
        log.info("resuming from %s", last)
        ul.YOLO(str(last)).train(resume=True, workers=cfg.workers)
    else:
        model = ul.YOLO(str(_start(cfg, work)) if cfg.start is not None else cfg.arch)
        model.train(
            data=str(yaml_path),
            epochs=cfg.epochs,
            imgsz=cfg.imgsz,
            batch=cfg.batch,
            device="cpu",
            workers=cfg.workers,
            pretrained=cfg.start is not None,
            amp=False,
            seed=cfg.seed,
            deterministic=True,
            project=str(work),
            name="run",
            exist_ok=True,
            plots=False,
            verbose=True,
        )
    return export_model(work / "run" / "weights" / "best.pt", yaml_path, cfg.imgsz, install_to)


def export_model(best: Path, yaml_path: Path, imgsz: int, install_to: Path | None = None) -> Path:
    """What the service runs, from a training's best checkpoint: the weights without the
    optimiser's state, their ONNX export and (with OpenVINO) the int8 model calibrated on
    the dataset's training images; copied into `install_to` under the shipped names."""
    ultralytics()
    from ultralytics.utils.torch_utils import strip_optimizer

    export_dir = best.parent / "export"
    export_dir.mkdir(parents=True, exist_ok=True)
    weights = export_dir / DEFAULT_WEIGHTS.name
    shutil.copyfile(best, weights)
    strip_optimizer(str(weights))  # about a third of the size, same predictions
    onnx_path = export_onnx(weights, imgsz)
    int8 = quantize(onnx_path, yaml_path, onnx_path.with_name(DEFAULT_INT8.name), imgsz)
    if install_to is None:
        return onnx_path
    install_to.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(weights, install_to / DEFAULT_WEIGHTS.name)
    shutil.copyfile(onnx_path, install_to / DEFAULT_MODEL.name)
    if int8 is not None:
        shutil.copyfile(int8, install_to / DEFAULT_INT8.name)
        shutil.copyfile(int8.with_suffix(".bin"), (install_to / DEFAULT_INT8.name).with_suffix(".bin"))
    return install_to / DEFAULT_MODEL.name


def _start(cfg: TrainConfig, work: Path) -> Path:
    """The checkpoint training starts from: an ultralytics `.pt` as it is, a YOLOv5 one
    carried into `cfg.arch` (backbone and neck)."""
    from vision.pretrained import start_checkpoint, yolov5_state

    assert cfg.start is not None
    try:
        yolov5_state(cfg.start)
    except Exception:  # not a YOLOv5 pickle: an ultralytics checkpoint, used as it is
        return cfg.start
    out, carried, total = start_checkpoint(cfg.start, cfg.arch, work / "start.pt")
    log.info("start: %d of %d tensors of %s from %s", carried, total, cfg.arch, cfg.start)
    return out


def calibration_images(yaml_path: Path, n: int = 200) -> list:  # type: ignore[type-arg]
    """Training images for calibration (never the evaluation photographs)."""
    import cv2

    root = yaml_path.parent / "images" / "train"
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:n]
    return [img for p in paths if (img := cv2.imread(str(p))) is not None]


def quantize(onnx_path: Path, yaml_path: Path, out_xml: Path, imgsz: int, max_drop: float | None = None) -> Path | None:
    """The int8 OpenVINO model beside the ONNX one, when OpenVINO and NNCF are installed;
    with `max_drop`, under accuracy control on the dataset's val split."""
    try:
        import nncf  # noqa: F401
        import openvino  # noqa: F401
    except ImportError:
        log.warning("OpenVINO/NNCF not installed: no int8 model")
        return None
    import tempfile

    from vision.quantize import quantize_openvino, validation_folder

    images = calibration_images(yaml_path)
    if max_drop is None:
        return quantize_openvino(onnx_path, images, out_xml, imgsz)
    with tempfile.TemporaryDirectory() as tmp:
        val = validation_folder(yaml_path, Path(tmp))
        return quantize_openvino(onnx_path, images, out_xml, imgsz, validation=val, max_drop=max_drop)


def export_onnx(weights: Path, imgsz: int = 320) -> Path:
    """ONNX with dynamic input size, no NMS inside (ours runs on the raw head)."""
    ul = ultralytics()
    model = ul.YOLO(str(weights))
    with warnings.catch_warnings():
        # torch's notice that its TorchScript-based exporter is the older of two; it is the one ultralytics uses.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        out = model.export(format="onnx", imgsz=imgsz, dynamic=True, simplify=True, opset=17, device="cpu")
    return Path(out)
