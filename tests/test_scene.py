"""The simulated world and camera: projection, ground truth, determinism, datasets."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from missions.incidents import FirePlan, VehiclePlan
from missions.optics import Intrinsics, Pose, ground_homography, pixel_to_ground, project
from missions.scenario import Scenario
from sim.scene.render import MAX_RANGE_M, Renderer, Scene

INTR = Intrinsics(1280, 720, 82.0)


def test_a_known_ground_point_lands_on_the_expected_pixel() -> None:
    pose = Pose(100.0, 200.0, 80.0, 90.0, -45.0)  # looking east, 45 degrees down
    uv, front = project(INTR, pose, np.array([[180.0, 200.0, 0.0]]))  # 80 m east: on the optical axis
    assert front[0] and np.allclose(uv[0], [640.0, 360.0], atol=1.0)
    nadir = Pose(0.0, 0.0, 100.0, 0.0, -90.0)
    uv, _ = project(INTR, nadir, np.array([[10.0, 0.0, 0.0], [0.0, 10.0, 0.0]]))
    f = INTR.fx
    assert np.allclose(uv[0], [640 + f * 10 / 100, 360], atol=1.0), "east is to the right"
    assert np.allclose(uv[1], [640, 360 - f * 10 / 100], atol=1.0), "heading (north) is up"


@settings(max_examples=60, deadline=None)
@given(st.floats(20, 150), st.floats(0, 360), st.floats(-90, -15), st.floats(0, 1279), st.floats(0, 719))
def test_pixel_ground_pixel_round_trips(alt: float, heading: float, pitch: float, u: float, v: float) -> None:
    pose = Pose(0.0, 0.0, alt, heading, pitch)
    ground, ok = pixel_to_ground(INTR, pose, np.array([[u, v]]))
    if not ok[0]:
        return
    uv, front = project(INTR, pose, np.array([[ground[0, 0], ground[0, 1], 0.0]]))
    assert front[0] and np.allclose(uv[0], [u, v], atol=1e-3)
    h = ground_homography(INTR, pose) @ np.array([ground[0, 0], ground[0, 1], 1.0])
    assert np.allclose(h[:2] / h[2], [u, v], atol=1e-3)


def _scene_renderer(scenario: Scenario) -> tuple[Renderer, Pose]:
    x, y = scenario.to_xy(113.9480, 22.5400)
    scene = Scene(
        fires=[FirePlan("fire-a", (x + 20.0, y + 60.0), scenario.day_start(), 0.5, 12.0)],
        vehicles=[
            VehiclePlan("car-a", "car", ((x - 15.0, y + 40.0),), 30.0, colour=(255, 0, 255)),
            VehiclePlan("truck-far", "truck", ((x + 3000.0, y),), 0.0),
            VehiclePlan("car-behind", "car", ((x, y - 200.0),), 0.0),
        ],
    )
    return Renderer(scenario, scene, seed=3), Pose(x, y, 60.0, 0.0, -50.0)


def test_ground_truth_matches_what_was_drawn(scenario: Scenario) -> None:
    renderer, pose = _scene_renderer(scenario)
    frame = renderer.render(INTR, pose, scenario.day_start() + timedelta(minutes=30), (2.0, 1.0))
    by_id = {t.id: t for t in frame.truths}
    assert set(by_id) == {"fire-a", "fire-a-smoke", "car-a"}, "out of view and out of range are not labelled"
    x1, y1, x2, y2 = (round(v) for v in by_id["car-a"].box)
    magenta = np.all(frame.image == (255, 0, 255), axis=2)
    ys, xs = np.nonzero(magenta)
    assert len(xs) > 20
    assert x1 <= xs.min() and xs.max() < x2 + 1 and y1 <= ys.min() and ys.max() < y2 + 1, "the box holds the car"
    assert (xs.max() - xs.min()) > 0.6 * (x2 - x1), "and the car fills its box"
    fx1, fy1, fx2, fy2 = (round(v) for v in by_id["fire-a"].box)
    patch = frame.image[fy1:fy2, fx1:fx2].astype(int)
    assert ((patch[..., 2] > 200) & (patch[..., 0] < 120)).mean() > 0.3, "the fire box is mostly fire"
    car = by_id["car-a"]
    lon, lat = scenario.frame.to_lonlat(*car.xy)
    assert (car.lon, car.lat) == pytest.approx((lon, lat))


def test_same_seed_same_frame(scenario: Scenario) -> None:
    t = scenario.day_start() + timedelta(minutes=30)
    a, pose = _scene_renderer(scenario)
    b, _ = _scene_renderer(scenario)
    fa, fb = a.render(INTR, pose, t), b.render(INTR, pose, t)
    assert np.array_equal(fa.image, fb.image) and fa.truths == fb.truths
    other = Renderer(scenario, a.scene, seed=4).render(INTR, pose, t)
    assert not np.array_equal(fa.image, other.image)


def test_far_ground_fades_and_the_sky_is_sky(scenario: Scenario) -> None:
    renderer, pose = _scene_renderer(scenario)
    level = Pose(pose.x, pose.y, 60.0, 0.0, -2.0)
    img = renderer.render(INTR, level, scenario.day_start()).image
    top, bottom = img[:40].astype(float), img[-40:].astype(float)
    assert top.std() < bottom.std(), "sky and haze are smoother than near ground"
    assert MAX_RANGE_M > 1000


def test_dataset_export_writes_yolo_labels(scenario: Scenario, tmp_path: Path) -> None:
    from sim.scene.dataset import CLASSES, write_dataset

    counts = write_dataset(scenario, 12, tmp_path, seed=5, progress=False)
    assert sum(counts.values()) > 0
    data = (tmp_path / "data.yaml").read_text()
    assert all(f"{i}: {c}" in data for i, c in enumerate(CLASSES))
    images = sorted((tmp_path / "images").rglob("*.jpg"))
    assert len(images) == 12
    for img in images:
        label = Path(str(img).replace("/images/", "/labels/")).with_suffix(".txt")
        rows = [r.split() for r in label.read_text().splitlines()]
        for c, *box in rows:
            assert int(c) in range(len(CLASSES)) and all(0 <= float(v) <= 1 for v in box)
        assert cv2.imread(str(img)).shape == (384, 640, 3)
    again = tmp_path / "again"
    write_dataset(scenario, 3, again, seed=5, progress=False)
    first = sorted((again / "labels").rglob("*.txt"))[0].read_text()
    assert first == sorted((tmp_path / "labels").rglob("*.txt"))[0].read_text(), "seeded: reproducible"
