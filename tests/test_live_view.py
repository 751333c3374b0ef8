"""The dashboard's live view: the detector's boxes drawn on the drone's frames."""

from __future__ import annotations

import cv2
import numpy as np

from missions.scenario import load_scenario
from orchestrator.video.live_view import LiveView
from sim.scene.dataset import samples
from vision.detector import DetectorConfig, OnnxDetector
from vision.train import DEFAULT_IMGSZ, DEFAULT_MODEL


def test_frames_come_back_with_the_detections_boxed() -> None:
    frames = [s.frame.image for s in samples(load_scenario(None), 6, seed=42, width=640, height=360)]
    det = OnnxDetector(DEFAULT_MODEL, DetectorConfig(imgsz=DEFAULT_IMGSZ))
    frame = next(f for f in frames if det.detect([f])[0])
    view = LiveView({})
    out = cv2.imdecode(np.frombuffer(view.annotate(frame), np.uint8), cv2.IMREAD_COLOR)
    assert out.shape == frame.shape
    box = view.vision.detector().detect([frame])[0][0].box
    x0, y0 = int(box[0]), int(box[1])
    edge = out[max(0, y0 - 1) : y0 + 2, x0 : x0 + 20].astype(int)
    plain = frame[max(0, y0 - 1) : y0 + 2, x0 : x0 + 20].astype(int)
    assert np.abs(edge - plain).mean() > 25, "the box's edge is drawn over the frame"
    assert np.abs(out.astype(int) - frame.astype(int)).mean() < 12, "and the rest is the frame"
