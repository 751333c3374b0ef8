"""Ultralytics with nothing fetched: no weights, fonts, settings sync or pip installs.

Ultralytics reaches out to the network in several places (hub weights for names like
``yolo11n.pt``, the Arial font for plots, settings sync, ``pip install`` of missing
extras, the AMP check). This module is imported before ultralytics, points its config
folder at a private directory holding a font we ship ourselves (matplotlib's DejaVu,
under the name ultralytics looks for), and switches every download off.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import ModuleType

_done = False


def config_dir() -> Path:
    base = os.environ.get("DRONEPATROL_DATA_DIR") or os.path.join(
        os.path.expanduser("~"), ".local", "share", "dronepatrol"
    )
    return Path(base) / "ultralytics"


def ensure_offline() -> None:
    """Set the environment ultralytics reads at import; safe to call many times."""
    global _done
    if _done:
        return
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "0"
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("YOLO_VERBOSE", "0")
    os.environ["ULTRALYTICS_SKIP_REQUIREMENTS_CHECKS"] = "1"
    cfg = Path(os.environ.setdefault("YOLO_CONFIG_DIR", str(config_dir())))
    font_dir = cfg / "Ultralytics"
    font_dir.mkdir(parents=True, exist_ok=True)
    import matplotlib

    dejavu = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        if not (font_dir / name).exists():
            shutil.copyfile(dejavu, font_dir / name)
    _done = True


def ultralytics() -> ModuleType:
    """The ultralytics package, imported offline, or a clear error when the extra is missing."""
    ensure_offline()
    try:
        import ultralytics as ul
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "the ultralytics backend needs the training extra: pip install 'dronepatrol[train]'"
        ) from exc
    from ultralytics.utils import SETTINGS

    if SETTINGS.get("sync", False):
        SETTINGS.update({"sync": False})  # type: ignore[no-untyped-call]
    return ul
