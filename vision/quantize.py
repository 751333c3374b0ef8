"""Post-training int8 quantization for OpenVINO (NNCF), with the detection head kept in fp32.

The backbone and neck are quantized from calibration frames (the simulator's images);
the head's box decoding (the DFL and the arithmetic that turns distances into boxes) and
the class sigmoid stay in floating point, as quantizing them costs accuracy for little
speed. Calibration uses the same letterbox as inference, at the input size it will run.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from vision.letterbox import Letterbox

log = logging.getLogger("dronepatrol.vision")


def _head_index(node_names: Iterable[str]) -> int:
    found = [int(m.group(1)) for n in node_names if (m := re.search(r"/model\.(\d+)/", n))]
    if not found:
        raise ValueError("not an ultralytics YOLO graph (no /model.N/ nodes)")
    return max(found)


def quantize_openvino(onnx_path: Path, images: list[np.ndarray], out_xml: Path, imgsz: int = 320) -> Path:
    """Write an int8 OpenVINO model (out_xml and its .bin) calibrated on `images` (BGR)."""
    import nncf
    import openvino as ov

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

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantized = nncf.quantize(
            model,
            nncf.Dataset(images, prepare),
            preset=nncf.QuantizationPreset.MIXED,
            subset_size=min(300, len(images)),
            ignored_scope=ignored,
        )
    # Keep the class names: the detector reads them from the model's runtime info.
    names = _onnx_names(onnx_path)
    if names:
        quantized.set_rt_info(names, ["model_info", "names"])
    out_xml.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(out_xml), compress_to_fp16=False)
    return out_xml


def _onnx_names(onnx_path: Path) -> str | None:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    value = sess.get_modelmeta().custom_metadata_map.get("names")
    return str(value) if value is not None else None
