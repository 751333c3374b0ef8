"""The settings' `vision:` section turned into what the detector and the pipeline take,
in one place: the service (the dashboard's live view, the watch on drones answering
alerts) and `dronepatrol vision run/eval/detect` read it through this, so a threshold
set in the settings file means the same everywhere.

The detector is loaded on first use (not at start: a service without video never needs
it) and shared by everything in the process that runs it: one model in memory.
"""

from __future__ import annotations

import threading
from pathlib import Path

from orchestrator.settings import VisionSettings
from vision.classmap import parse_class_map
from vision.detector import Detector, DetectorConfig, load_detector
from vision.pipeline import PipelineConfig
from vision.rules import ConfirmRule


class ServiceVision:
    def __init__(self, settings: VisionSettings | None = None) -> None:
        self.settings = settings or VisionSettings()
        self._detector: Detector | None = None
        self._lock = threading.Lock()

    @property
    def model_path(self) -> Path:
        from vision.train import DEFAULT_MODEL

        return self.settings.model or DEFAULT_MODEL

    def detector_config(self, floor: float | None = None) -> DetectorConfig:
        """`floor` replaces the lowest score kept and drops the per-class ones (an
        evaluation draws the whole precision-recall curve)."""
        vs = self.settings
        return DetectorConfig(
            imgsz=vs.imgsz,
            conf=vs.conf if floor is None else floor,
            class_conf={} if floor is not None else {str(k): v for k, v in vs.class_conf.items()},
            threads=vs.threads,
        )

    def load(self, floor: float | None = None) -> Detector:
        """A detector of its own (ModelError, ClassMapError when the settings are wrong)."""
        cmap = parse_class_map(self.settings.classes) if self.settings.classes else None
        return load_detector(self.model_path, self.detector_config(floor), cmap)

    def detector(self) -> Detector:
        """The process's shared detector, loaded on first use (from any thread)."""
        with self._lock:
            if self._detector is None:
                self._detector = self.load()
            return self._detector

    def pipeline_config(self) -> PipelineConfig:
        vs = self.settings
        return PipelineConfig(confirm=ConfirmRule(vs.confirm_k, vs.confirm_n, vs.confirm_span_s))
