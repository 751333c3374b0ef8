"""A COCO-pretrained start for training, from a YOLOv5 checkpoint, without the YOLOv5 code.

A classic YOLOv5 `.pt` is a pickle of the YOLOv5 repository's own classes. Rather than
installing that code, the pickle is read with an unpickler that turns every class from
the YOLOv5 code into an inert record of its state (and refuses every other class that is
not a tensor or a container), and the tensors are taken from the records by module path.
Ultralytics' `yolov5n.yaml` (YOLOv5u) has the same backbone and neck as YOLOv5 v6, with
the same parameter names (`model.0.conv.weight` ... `model.23...`); only the detection
head differs (anchor-free), so every tensor but the head's carries over and the head
starts fresh for our three classes.
"""

from __future__ import annotations

import pickle
import types
from pathlib import Path
from typing import Any

_ALLOWED_MODULES = ("torch", "collections", "numpy", "_codecs", "builtins", "__builtin__", "copyreg", "pathlib")
_YOLOV5_MODULES = ("models", "utils")


class _Record:
    """Stands in for a YOLOv5 class: keeps whatever state the pickle gives it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__["_args"] = args

    def __setstate__(self, state: Any) -> None:
        self.__dict__["_state"] = state


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        root = module.split(".")[0]
        if root in _YOLOV5_MODULES:
            return type(name, (_Record,), {})
        if root in _ALLOWED_MODULES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"checkpoint refers to {module}.{name}: not a YOLOv5 checkpoint")


def _pickle_module() -> types.ModuleType:
    mod = types.ModuleType("yolov5_pickle")
    mod.Unpickler = _Unpickler  # type: ignore[attr-defined]
    mod.load = pickle.load  # type: ignore[attr-defined]
    mod.__name__ = "pickle"
    return mod


def _tensors(obj: Any, prefix: str, out: dict[str, Any]) -> None:
    import torch

    state = obj.__dict__ if isinstance(obj, torch.nn.Module) else obj.__dict__.get("_state", obj.__dict__)
    if not isinstance(state, dict):
        return
    for table in ("_parameters", "_buffers"):
        for key, value in (state.get(table) or {}).items():
            if value is not None:
                out[prefix + key] = value
    for key, child in (state.get("_modules") or {}).items():
        if child is not None:
            _tensors(child, prefix + key + ".", out)


def yolov5_state(path: Path) -> dict[str, Any]:
    """Parameter name -> tensor (float32) of a YOLOv5 checkpoint's model (its EMA when kept)."""
    import torch

    ckpt = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_pickle_module())
    if not isinstance(ckpt, dict) or not (ckpt.get("ema") or ckpt.get("model")):
        raise ValueError(f"{path}: no model in this checkpoint")
    out: dict[str, Any] = {}
    _tensors(ckpt.get("ema") or ckpt["model"], "", out)
    if not out:
        raise ValueError(f"{path}: no tensors found")
    return {k: v.float() if v.is_floating_point() else v for k, v in out.items()}


def start_checkpoint(weights: Path, arch: str, out: Path) -> tuple[Path, int, int]:
    """An ultralytics checkpoint of `arch` holding every tensor of `weights` whose name and
    shape match; returns it with (tensors carried over, tensors of the new model)."""
    import torch

    from vision.offline import ultralytics

    ul = ultralytics()
    model = ul.YOLO(arch).model
    target = model.state_dict()
    source = yolov5_state(weights)
    carried = {k: v for k, v in source.items() if k in target and target[k].shape == v.shape}
    if not carried:
        raise ValueError(f"{weights}: no tensor fits {arch}")
    model.load_state_dict(carried, strict=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model, "train_args": {}, "epoch": -1, "date": None}, out)
    return out, len(carried), len(target)
