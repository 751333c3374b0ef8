"""Detectors: letterbox arithmetic, NMS, class maps, model errors, and the two backends agreeing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vision.classmap import ClassMapError, parse_class_map, resolve
from vision.detector import DetectorConfig, ModelError, OnnxDetector, load_detector
from vision.letterbox import Letterbox
from vision.nms import decode, greedy_nms, iou_one_to_many
from vision.train import DEFAULT_IMGSZ, DEFAULT_MODEL, DEFAULT_WEIGHTS


def test_a_16_9_frame_gets_a_16_9_input_not_a_padded_square() -> None:
    lb = Letterbox.plan(1280, 720, 320)
    assert (lb.in_w, lb.in_h) == (320, 192)
    assert (lb.new_w, lb.new_h) == (320, 180) and lb.pad_y == 6 and lb.pad_x == 0
    sq = Letterbox.plan(1280, 720, 320, rect=False)
    assert (sq.in_w, sq.in_h) == (320, 320)


@given(w=st.integers(64, 2000), h=st.integers(64, 2000), s=st.sampled_from([160, 320, 640]))
@settings(max_examples=60, deadline=None)
def test_boxes_map_back_onto_the_frame(w: int, h: int, s: int) -> None:
    lb = Letterbox.plan(w, h, s)
    frame_box = np.array([[0.1 * w, 0.2 * h, 0.6 * w, 0.9 * h]])
    scale_x, scale_y = lb.new_w / w, lb.new_h / h
    in_box = frame_box * [scale_x, scale_y, scale_x, scale_y] + [lb.pad_x, lb.pad_y, lb.pad_x, lb.pad_y]
    np.testing.assert_allclose(lb.unmap(in_box), frame_box, atol=1e-6)
    assert lb.in_w % 32 == 0 and lb.in_h % 32 == 0 and max(lb.new_w, lb.new_h) == s


def test_letterbox_pads_with_grey_around_the_resized_frame() -> None:
    img = np.zeros((720, 1280, 3), np.uint8)
    out = Letterbox.plan(1280, 720, 320).apply(img)
    assert out.shape == (192, 320, 3)
    assert (out[:6] == 114).all() and (out[-6:] == 114).all() and (out[6:186] == 0).all()


def _brute_nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep: list[int] = []
    for i in order:
        if all(iou_one_to_many(boxes[i], boxes[[k]])[0] <= iou for k in keep):
            keep.append(i)
    return keep


@given(
    st.lists(
        st.tuples(st.floats(0, 90), st.floats(0, 90), st.floats(2, 40), st.floats(2, 40), st.floats(0.01, 1)),
        min_size=1,
        max_size=30,
    )
)
@settings(max_examples=80, deadline=None)
def test_greedy_nms_keeps_what_the_textbook_algorithm_keeps(rows: list[tuple[float, ...]]) -> None:
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h, _ in rows])
    scores = np.array([s for *_, s in rows]) + np.arange(len(rows)) * 1e-6  # no ties
    assert sorted(greedy_nms(boxes, scores, 0.5, 300).tolist()) == sorted(_brute_nms(boxes, scores, 0.5))


def test_decode_suppresses_within_a_class_only_and_applies_class_floors() -> None:
    # Two overlapping boxes of class 0, one of class 1 on the same spot; layout (4 + nc, anchors).
    raw = np.zeros((4 + 2, 3), np.float32)
    raw[:4, 0] = [50, 50, 20, 20]
    raw[:4, 1] = [51, 50, 20, 20]
    raw[:4, 2] = [50, 50, 20, 20]
    raw[4, 0], raw[4, 1], raw[5, 2] = 0.9, 0.8, 0.5
    _, scores, ids = decode(raw, 0.25, 0.7)
    assert sorted(zip(ids.tolist(), [round(float(s), 2) for s in scores], strict=True)) == [(0, 0.9), (1, 0.5)]
    _, _, ids = decode(raw, 0.25, 0.7, min_conf=np.array([0.25, 0.6], np.float32))
    assert ids.tolist() == [0]


def test_class_maps_parse_fold_and_refuse_with_reasons() -> None:
    assert parse_class_map("0:smoke, 1:fire") == {0: "smoke", 1: "fire"}
    assert parse_class_map("0:vehicle,1:vehicle,3:vehicle") == {0: "vehicle", 1: "vehicle", 3: "vehicle"}
    for bad, why in [("0smoke", "ID:NAME"), ("x:fire", "ID:NAME"), ("0:a,0:b", "twice"), ("", "empty")]:
        with pytest.raises(ClassMapError, match=why):
            parse_class_map(bad)
    assert resolve({0: "fire", 1: "smoke", 2: "vehicle", 3: "boat"}, None) == {0: "fire", 1: "smoke", 2: "vehicle"}
    with pytest.raises(ClassMapError, match="none of"):
        resolve({0: "cat", 1: "dog"}, None)
    with pytest.raises(ClassMapError, match=r"ids \[7\]"):
        resolve({0: "cat", 1: "dog"}, {7: "fire"})


def test_model_files_that_are_missing_corrupt_or_foreign_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        OnnxDetector(tmp_path / "nope.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07not a model at all" * 10)
    with pytest.raises(ModelError, match="cannot be loaded"):
        OnnxDetector(bad)
    import onnx

    model = onnx.load(str(DEFAULT_MODEL))
    for prop in model.metadata_props:
        if prop.key == "names":
            prop.value = "{0: 'cat', 1: 'dog', 2: 'bird'}"
    foreign = tmp_path / "foreign.onnx"
    onnx.save(model, str(foreign))
    with pytest.raises(ModelError, match="include none of"):
        OnnxDetector(foreign)
    det = OnnxDetector(foreign, class_map={0: "fire", 2: "vehicle"})  # an operator's own mapping works
    assert det.classes == {0: "fire", 2: "vehicle"}


def test_the_shipped_model_is_small_and_names_our_classes() -> None:
    assert DEFAULT_MODEL.stat().st_size < 12e6 and DEFAULT_WEIGHTS.stat().st_size < 7e6
    det = OnnxDetector(DEFAULT_MODEL)
    assert sorted(det.classes.values()) == ["fire", "smoke", "vehicle"]


def _sim_frames(n: int = 6) -> list[np.ndarray]:
    from missions.scenario import load_scenario
    from sim.scene.dataset import samples

    return [s.frame.image for s in samples(load_scenario(None), n, seed=42, width=640, height=360)]


@pytest.mark.slow
@pytest.mark.parametrize("imgsz", [320, 640])
def test_onnx_and_ultralytics_backends_give_the_same_boxes(imgsz: int) -> None:
    frames = _sim_frames()
    cfg = DetectorConfig(imgsz=imgsz, conf=0.2)
    a = load_detector(DEFAULT_MODEL, cfg).detect(frames)
    b = load_detector(DEFAULT_WEIGHTS, cfg).detect(frames)
    n = sum(len(x) for x in b)
    assert n >= 3, "the frames should hold something to detect"
    for ours, theirs in zip(a, b, strict=True):
        strong_ours = [d for d in ours if d.score >= 0.25]
        strong_theirs = [d for d in theirs if d.score >= 0.25]
        assert len(strong_ours) == len(strong_theirs)
        for d in strong_theirs:
            match = [o for o in ours if o.cls == d.cls and abs(o.score - d.score) < 2e-3]
            assert match, d
            assert iou_one_to_many(np.array(d.box), np.array([m.box for m in match])).max() > 0.99


def test_frames_of_different_sizes_in_one_batch_each_get_their_own_boxes() -> None:
    frames = _sim_frames(2)
    det = OnnxDetector(DEFAULT_MODEL, DetectorConfig(imgsz=DEFAULT_IMGSZ))
    small = cv2.resize(frames[0], (320, 180))
    together = det.detect([frames[0], small, frames[1]])
    alone = [det.detect([frames[0]])[0], det.detect([small])[0], det.detect([frames[1]])[0]]
    for t, a in zip(together, alone, strict=True):
        assert [(d.cls, round(d.score, 3)) for d in t] == [(d.cls, round(d.score, 3)) for d in a]
        for d in t:
            assert 0 <= d.box[0] <= d.box[2] and 0 <= d.box[1] <= d.box[3]
