"""Post-training int8 quantization for OpenVINO (NNCF), with the detection head in fp32.

The backbone and neck are quantized from calibration frames (the simulator's images);
the head's box decoding (the DFL and the arithmetic that turns distances into boxes) and
the class sigmoid stay in floating point: quantizing them costs accuracy for little
speed. Calibration uses the same letterbox as inference, at the input size it will run.

With `max_drop`, NNCF's accuracy control measures mAP50 on the dataset's validation
images and puts back into fp32, one by one, the layers that cost the most, until the
drop is within `max_drop` (minutes, not seconds). The shipped model was made so:
`dronepatrol vision quantize --data DIR --max-drop 0.01`.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from vision.detector import DetectorConfig, RawHeadDetector, _per_class_floor
from vision.letterbox import Letterbox

log = logging.getLogger("dronepatrol.vision")


def _head_index(node_names: Iterable[str]) -> int:
    found = [int(m.group(1)) for n in node_names if (m := re.search(r"/model\.(\d+)/", n))]
    if not found:
        raise ValueError("not an ultralytics YOLO graph (no /model.N/ nodes)")
    return max(found)


class _Compiled(RawHeadDetector):
    """A compiled OpenVINO model seen as a detector, for NNCF's validation function."""

    def __init__(self, compiled: Any, names: dict[int, str], imgsz: int) -> None:
        super().__init__()
        self.compiled = compiled
        self.classes = names
        self.config = DetectorConfig(imgsz=imgsz, conf=0.001)
        self.floor = _per_class_floor(names, self.config, len(names))
        self.dynamic_batch = False

    def _infer(self, tensor: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.compiled(tensor)[0]
        return out


def quantize_openvino(
    onnx_path: Path,
    images: list[np.ndarray],
    out_xml: Path,
    imgsz: int = 320,
    validation: Path | None = None,
    max_drop: float | None = None,
) -> Path:
    """Write an int8 OpenVINO model (out_xml and its .bin) calibrated on `images` (BGR);
    with `validation` (a YOLO folder) and `max_drop`, under accuracy control."""
    import nncf
    import openvino as ov

    from vision.classmap import names_from_metadata
    from vision.evaluate import evaluate

    core = ov.Core()
    model = core.read_model(str(onnx_path))
    head = _head_index(op.get_friendly_name() for op in model.get_ops())
    ignored = nncf.IgnoredScope(
        patterns=[rf".*/model\.{head}/(Add|Sub|Mul|Div)(_\d+)?$", rf".*/model\.{head}/dfl/.*"],
        types=["Sigmoid"],
        validate=False,
    )

    def prepare(img: np.ndarray) -> np.ndarray:
        lb = Letterbox.plan(img.shape[1], img.shape[0], imgsz)
        x = lb.apply(img)[..., ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        return np.ascontiguousarray(x)

    raw_names = _onnx_names(onnx_path)
    names = names_from_metadata(raw_names)
    calibration = nncf.Dataset(images, prepare)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if validation is not None and max_drop is not None:

            def validate(compiled: Any, _items: Iterable[Any]) -> float:
                return evaluate(_Compiled(compiled, names, imgsz), validation, names).map50

            quantized = nncf.quantize_with_accuracy_control(
                model,
                calibration,
                nncf.Dataset([0]),
                validation_fn=validate,
                max_drop=max_drop,
                drop_type=nncf.DropType.ABSOLUTE,
                preset=nncf.QuantizationPreset.MIXED,
                subset_size=min(300, len(images)),
                ignored_scope=ignored,
            )
        else:
            quantized = nncf.quantize(
                model,
                calibration,
                preset=nncf.QuantizationPreset.MIXED,
                subset_size=min(300, len(images)),
                ignored_scope=ignored,
            )
    if raw_names:
        quantized.set_rt_info(raw_names, ["model_info", "names"])  # the detector reads the class names here
    out_xml.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(out_xml), compress_to_fp16=False)
    return out_xml


def validation_folder(yaml_path: Path, into: Path) -> Path:
    """The dataset's val split as a folder `evaluate` reads (images/ and labels/)."""
    root = yaml_path.parent
    for sub in ("images", "labels"):
        (into / sub).mkdir(parents=True, exist_ok=True)
    for img in sorted((root / "images" / "val").glob("*")):
        (into / "images" / img.name).symlink_to(img.resolve())
        label = root / "labels" / "val" / f"{img.stem}.txt"
        if label.is_file():
            (into / "labels" / label.name).symlink_to(label.resolve())
    return into


def _onnx_names(onnx_path: Path) -> str | None:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    value = sess.get_modelmeta().custom_metadata_map.get("names")
    return str(value) if value is not None else None
