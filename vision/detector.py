"""Detectors: one interface, two backends that return the same boxes.

`OnnxDetector` runs an exported model under ONNX Runtime (the service's runtime needs
nothing else); `UltralyticsDetector` runs a ``.pt`` with ultralytics (the training extra).
Both letterbox to a rectangle of the frame's aspect, keep the same NMS, and map the
model's class ids onto fire/smoke/vehicle through a class map. Frames of the same size
from several streams go through the network as one batch.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from vision.classmap import ClassMapError, names_from_metadata, resolve
from vision.letterbox import Letterbox
from vision.nms import decode
from vision.types import Detection

log = logging.getLogger("dronepatrol.vision")


class ModelError(RuntimeError):
    """The model file is missing, unreadable or not a detector we can use."""


@dataclass(frozen=True)
class DetectorConfig:
    imgsz: int = 320
    """Long side of the network input."""
    rect: bool = True
    """Keep the frame's aspect (less padding, less work) instead of a square input."""
    conf: float = 0.25
    """Lowest score kept before NMS; per-class thresholds apply after."""
    iou: float = 0.7
    max_det: int = 300
    class_conf: Mapping[str, float] = field(default_factory=dict)
    """Per-class minimum score, e.g. {"smoke": 0.4}."""
    threads: int = 0
    """Intra-op threads; 0 means one per core."""


class Detector(Protocol):
    classes: dict[int, str]
    config: DetectorConfig

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Boxes for each BGR frame, in that frame's pixels."""
        ...


def _per_class_floor(classes: Mapping[int, str], cfg: DetectorConfig, n_model: int) -> np.ndarray:
    floor = np.full(n_model, np.inf, np.float32)  # ids outside the class map are dropped
    for cid, name in classes.items():
        if cid < n_model:
            floor[cid] = max(cfg.conf, cfg.class_conf.get(name, cfg.conf))
    return floor


def _to_detections(
    boxes: np.ndarray, scores: np.ndarray, ids: np.ndarray, classes: Mapping[int, str]
) -> list[Detection]:
    return [
        Detection(classes[int(c)], float(s), (float(b[0]), float(b[1]), float(b[2]), float(b[3])))
        for b, s, c in zip(boxes, scores, ids, strict=True)
    ]


class RawHeadDetector:
    """What the ONNX Runtime and OpenVINO backends share: letterbox, batch frames of one
    size together, run the raw YOLO head, decode with our NMS, map back to the frame."""

    classes: dict[int, str]
    config: DetectorConfig
    floor: np.ndarray
    dynamic_batch: bool = True

    def __init__(self) -> None:
        self._plans: dict[tuple[int, int], Letterbox] = {}

    def _plan(self, w: int, h: int) -> Letterbox:
        plan = self._plans.get((w, h))
        if plan is None:
            plan = self._plans[(w, h)] = self._make_plan(w, h)
        return plan

    def _make_plan(self, w: int, h: int) -> Letterbox:
        return Letterbox.plan(w, h, self.config.imgsz, self.config.rect)

    def _infer(self, tensor: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        results: list[list[Detection]] = [[] for _ in images]
        groups: dict[tuple[int, int], list[int]] = {}
        for i, img in enumerate(images):
            groups.setdefault((img.shape[1], img.shape[0]), []).append(i)
        for (w, h), idx in groups.items():
            plan = self._plan(w, h)
            for chunk in [idx] if self.dynamic_batch else [[i] for i in idx]:
                batch = np.full((len(chunk), plan.in_h, plan.in_w, 3), 114, np.uint8)
                for j, i in enumerate(chunk):
                    plan.apply(images[i], batch[j])
                tensor = np.ascontiguousarray(batch[..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32)
                tensor *= 1 / 255.0
                raw = self._infer(tensor)
                for j, i in enumerate(chunk):
                    boxes, scores, ids = decode(
                        raw[j], self.config.conf, self.config.iou, self.config.max_det, self.floor
                    )
                    results[i] = _to_detections(plan.unmap(boxes), scores, ids, self.classes)
        return results


class OnnxDetector(RawHeadDetector):
    """An ultralytics-exported YOLO ONNX model (raw head, no NMS inside) under ONNX Runtime."""

    def __init__(
        self, path: Path, config: DetectorConfig = DetectorConfig(), class_map: Mapping[int, str] | None = None
    ) -> None:
        import onnxruntime as ort

        if not path.is_file():
            raise ModelError(f"model {path} not found")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = config.threads or (os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"model {path} cannot be loaded: {str(exc).splitlines()[0][:200]}") from exc
        meta = self.session.get_modelmeta().custom_metadata_map
        inp = self.session.get_inputs()[0]
        out = self.session.get_outputs()[0]
        if len(inp.shape) != 4 or len(out.shape) != 3:
            raise ModelError(f"model {path} is not a YOLO detector (input {inp.shape}, output {out.shape})")
        try:
            model_names = names_from_metadata(meta.get("names"))
            self.classes = resolve(model_names, class_map)
        except ClassMapError as exc:
            raise ModelError(f"model {path}: {exc}") from exc
        self.n_model = len(model_names) if model_names else (out.shape[1] - 4 if isinstance(out.shape[1], int) else 0)
        if self.n_model <= 0:
            raise ModelError(f"model {path}: cannot tell how many classes it has")
        self.fixed = all(isinstance(d, int) for d in inp.shape[2:])
        self.fixed_hw = (int(inp.shape[2]), int(inp.shape[3])) if self.fixed else None
        self.dynamic_batch = not isinstance(inp.shape[0], int)
        self.input_name = inp.name
        self.config = config
        self.floor = _per_class_floor(self.classes, config, self.n_model)
        self.path = path
        super().__init__()

    def _make_plan(self, w: int, h: int) -> Letterbox:
        if self.fixed_hw is None:
            return super()._make_plan(w, h)
        ih, iw = self.fixed_hw  # a model exported with a fixed input: fit the frame into it
        gain = min(ih / h, iw / w)
        nw, nh = round(w * gain), round(h * gain)
        return Letterbox(w, h, iw, ih, gain, round((iw - nw) / 2 - 0.1), round((ih - nh) / 2 - 0.1), nw, nh)

    def _infer(self, tensor: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.session.run(None, {self.input_name: tensor})[0]
        return out


class OpenVinoDetector(RawHeadDetector):
    """An OpenVINO model (``.xml`` beside its ``.bin``; the int8 one from `vision.quantize`),
    compiled once per input shape. Optional: needs the ``openvino`` package."""

    def __init__(
        self, path: Path, config: DetectorConfig = DetectorConfig(), class_map: Mapping[int, str] | None = None
    ) -> None:
        try:
            import openvino as ov
        except ImportError as exc:
            raise ModelError(f"model {path} needs OpenVINO: pip install 'dronepatrol[openvino]'") from exc
        if not path.is_file() or not path.with_suffix(".bin").is_file():
            raise ModelError(f"model {path} not found (an OpenVINO model is an .xml with its .bin)")
        self.core = ov.Core()
        try:
            self.model = self.core.read_model(str(path))
            raw_names = self.model.get_rt_info(["model_info", "names"]).astype(str)
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses of its own
            raise ModelError(f"model {path} cannot be loaded: {str(exc).splitlines()[0][:200]}") from exc
        try:
            model_names = names_from_metadata(raw_names)
            self.classes = resolve(model_names, class_map)
        except ClassMapError as exc:
            raise ModelError(f"model {path}: {exc}") from exc
        self.n_model = len(model_names)
        self.config = config
        self.floor = _per_class_floor(self.classes, config, self.n_model)
        self.path = path
        self._compiled: dict[tuple[int, int, int], object] = {}
        super().__init__()

    def _request(self, n: int, h: int, w: int):  # type: ignore[no-untyped-def]
        key = (n, h, w)
        req = self._compiled.get(key)
        if req is None:
            model = self.model.clone()
            model.reshape({model.inputs[0].any_name: [n, 3, h, w]})
            threads = self.config.threads or (os.cpu_count() or 1)
            compiled = self.core.compile_model(
                model, "CPU", {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
            )
            req = compiled.create_infer_request()
            self._compiled[key] = req
        return req

    def _infer(self, tensor: np.ndarray) -> np.ndarray:
        n, _, h, w = tensor.shape
        out: np.ndarray = self._request(n, h, w).infer({0: tensor})[0]
        return out


class UltralyticsDetector:
    """A ``.pt`` (or anything ultralytics loads) through ultralytics' own predict."""

    def __init__(
        self, path: Path, config: DetectorConfig = DetectorConfig(), class_map: Mapping[int, str] | None = None
    ) -> None:
        from vision.offline import ultralytics

        if not path.is_file():
            raise ModelError(f"model {path} not found")
        ul = ultralytics()
        try:
            self.model = ul.YOLO(str(path), task="detect")
        except Exception as exc:  # ultralytics raises many kinds
            raise ModelError(f"model {path} cannot be loaded: {str(exc).splitlines()[0][:200]}") from exc
        try:
            self.classes = resolve(names_from_metadata(self.model.names), class_map)
        except ClassMapError as exc:
            raise ModelError(f"model {path}: {exc}") from exc
        if config.threads:
            import torch

            torch.set_num_threads(config.threads)
        self.config = config
        self.floor = _per_class_floor(self.classes, config, len(self.model.names))

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        out: list[list[Detection]] = []
        results = self.model.predict(
            list(images),
            imgsz=self.config.imgsz,
            conf=self.config.conf,
            iou=self.config.iou,
            max_det=self.config.max_det,
            rect=self.config.rect,
            device="cpu",
            verbose=False,
        )
        for r in results:
            boxes = r.boxes.xyxy.numpy()
            scores = r.boxes.conf.numpy()
            ids = r.boxes.cls.numpy().astype(np.int64)
            ok = scores >= self.floor[ids]
            out.append(_to_detections(boxes[ok], scores[ok], ids[ok], self.classes))
        return out


def load_detector(
    path: Path, config: DetectorConfig = DetectorConfig(), class_map: Mapping[int, str] | None = None
) -> Detector:
    """The backend by file type: .onnx under ONNX Runtime, .xml under OpenVINO, anything
    else through ultralytics."""
    if path.suffix.lower() == ".onnx":
        return OnnxDetector(path, config, class_map)
    if path.suffix.lower() == ".xml":
        return OpenVinoDetector(path, config, class_map)
    return UltralyticsDetector(path, config, class_map)
