"""Vision's ground side: geo-projection, tracking on the ground, and the rules."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from shapely.geometry import box

from missions.incidents import FirePlan, NoParkingZone, VehiclePlan
from missions.optics import Intrinsics, Pose, project, visible_ground
from missions.scenario import Scenario
from sim.scene.render import Renderer, Scene
from vision.geoproject import to_ground
from vision.rules import ConfirmRule, confirm_fire_smoke, illegal_parking
from vision.tracking import GroundTracker
from vision.types import Detection, GroundDetection

T0 = datetime(2026, 12, 2, 9, tzinfo=timezone(timedelta(hours=8)))
INTR = Intrinsics(640, 360, 82.0)


def _det_at(pose: Pose, xy: tuple[float, float], cls: str = "vehicle", half: float = 6.0) -> Detection:
    uv, _ = project(INTR, pose, np.array([[xy[0], xy[1], 0.0]]))
    u, v = uv[0]
    top = v - 2 * half * 0.75  # reference point of a vehicle is 3/4 down its box
    return Detection(cls, 0.8, (u - half, top, u + half, top + 2 * half))


def test_geo_projection_finds_the_point_and_its_uncertainty_grows_with_range() -> None:
    near_pose = Pose(0.0, 0.0, 80.0, 0.0, -80.0)
    far_pose = Pose(0.0, 0.0, 80.0, 0.0, -15.0)
    target = (5.0, 40.0)
    near = to_ground(INTR, near_pose, _det_at(near_pose, target), T0)
    target_far = (5.0, 300.0)
    far = to_ground(INTR, far_pose, _det_at(far_pose, target_far), T0)
    assert near is not None and far is not None
    assert math.dist(near.xy, target) < 0.5 and math.dist(far.xy, target_far) < 2.0
    assert far.sigma_m > 3 * near.sigma_m
    sky = Detection("vehicle", 0.9, (300, 0, 340, 2))
    assert to_ground(INTR, Pose(0, 0, 80, 0, 5.0), sky, T0) is None, "a ray above the horizon has no ground"


def test_a_moving_drone_keeps_one_track_per_object() -> None:
    tracker = GroundTracker()
    objects = [(0.0, 50.0), (30.0, 50.0)]
    for k in range(20):
        pose = Pose(2.0 * k, 0.0, 70.0, 0.0 + k, -50.0)  # flying east, turning slowly
        t = T0 + timedelta(seconds=k * 0.5)
        dets = [g for g in (to_ground(INTR, pose, _det_at(pose, xy), t) for xy in objects) if g]
        tracker.update(t, dets)
    assert len(tracker.tracks) == 2
    for tr, xy in zip(sorted(tracker.tracks, key=lambda tr: tr.xy[0]), objects, strict=True):
        assert math.dist(tr.xy, xy) < 1.0 and len(tr.obs) == 20 and tr.speed_ms() < 0.3


def _fire_track(hits: list[bool], dt: float = 0.5):  # type: ignore[no-untyped-def]
    tracker = GroundTracker()
    view = box(-100, -100, 100, 100)
    for k, seen in enumerate(hits):
        t = T0 + timedelta(seconds=k * dt)
        dets = [GroundDetection("fire", 0.7, (10.0 + 0.5 * (k % 2), 20.0), 3.0, t, (0, 0, 1, 1))] if seen else []
        tracker.update(t, dets, view)
    return tracker.tracks


def test_fire_needs_k_of_n_frames_over_time_not_one_frame() -> None:
    assert confirm_fire_smoke(_fire_track([True])[0]) is None
    assert confirm_fire_smoke(_fire_track([True, False, False, False, False, False])[0]) is None
    assert confirm_fire_smoke(_fire_track([True, True, True], dt=0.2)[0]) is None, "three frames in 0.4 s is too quick"
    found = confirm_fire_smoke(_fire_track([True, False, True, True, False, True])[0], ConfirmRule(k=3, n=6))
    assert found is not None and found.kind == "fire"
    assert math.dist(found.xy, (10.25, 20.0)) < 0.3, "the location is averaged over the track"


ZONE = NoParkingZone("np", "no parking", box(0, 0, 40, 20), dwell_s=300)


def _vehicle_track(positions: list[tuple[float, tuple[float, float]]]):  # type: ignore[no-untyped-def]
    tracker = GroundTracker()
    for secs, xy in positions:
        t = T0 + timedelta(seconds=secs)
        tracker.update(t, [GroundDetection("vehicle", 0.8, xy, 1.5, t, (0, 0, 1, 1))])
    return tracker.tracks


def test_parking_longer_than_the_dwell_inside_the_zone_is_reported() -> None:
    # Frames dropped on purpose: few, irregular observations; only the timestamps count.
    obs = [(s, (10.0 + 0.2 * (s % 3), 10.0)) for s in (0, 7, 95, 96, 240, 331)]
    found = illegal_parking(_vehicle_track(obs)[0], [ZONE])
    assert found is not None and found.zone == "np" and found.dwell_s == pytest.approx(331)


def test_brief_outside_or_moving_vehicles_are_not_reported() -> None:
    brief = [(s, (10.0, 10.0)) for s in range(0, 200, 10)]
    outside = [(s, (80.0, 10.0)) for s in range(0, 400, 10)]
    assert illegal_parking(_vehicle_track(brief)[0], [ZONE]) is None
    assert illegal_parking(_vehicle_track(outside)[0], [ZONE]) is None
    driving = [(s, (1.0 + 3.0 * s, 10.0)) for s in range(0, 13)]  # 3 m/s through the zone
    tracks = _vehicle_track(driving)
    assert all(illegal_parking(tr, [ZONE]) is None for tr in tracks)


def test_parking_is_measured_across_two_passes() -> None:
    first_pass = [(s, (12.0, 8.0)) for s in range(0, 60, 5)]
    second_pass = [(600 + s, (12.3, 8.1)) for s in range(0, 40, 5)]
    found = illegal_parking(_vehicle_track(first_pass + second_pass)[0], [ZONE])
    assert found is not None and found.dwell_s == pytest.approx(635)


def test_end_to_end_with_a_perfect_detector_over_the_simulated_world(scenario: Scenario) -> None:
    """The renderer's ground truth stands in for the detector: a fire placed at a known
    point is confirmed within 30 m of it as the drone flies past; a car is not a fire."""
    fx, fy = scenario.to_xy(113.995, 22.584)
    scene = Scene(
        fires=[FirePlan("f", (fx, fy), T0 - timedelta(minutes=10), 0.6, 15.0)],
        vehicles=[VehiclePlan("c", "car", ((fx + 60.0, fy - 40.0),), 0.0)],
    )
    renderer = Renderer(scenario, scene)
    tracker = GroundTracker()
    findings = []
    for k in range(24):
        t = T0 + timedelta(seconds=k * 0.5)
        pose = Pose(fx - 150.0 + 6.0 * k, fy - 200.0, 90.0, 20.0, -40.0)
        frame = renderer.render(INTR, pose, t, (2.0, 1.0))
        dets = [Detection(tr.cls, 0.9, tr.box) for tr in frame.truths]
        ground = [g for g in (to_ground(INTR, pose, d, t) for d in dets) if g]
        from shapely.geometry import Polygon

        tracker.update(t, ground, Polygon(visible_ground(INTR, pose, 1500.0)))
        findings = [f for f in (confirm_fire_smoke(tr) for tr in tracker.tracks) if f]
    fires = [f for f in findings if f.kind == "fire"]
    assert fires and math.dist(fires[0].xy, (fx, fy)) < 30.0
    assert all(f.kind in ("fire", "smoke") for f in findings)


class _Unused:
    """A detector these tests never run: they feed the pipeline's ground side directly."""

    def __init__(self) -> None:
        from vision.detector import DetectorConfig

        self.classes = {0: "fire", 1: "smoke"}
        self.config = DetectorConfig()

    def detect(self, images):  # type: ignore[no-untyped-def]
        raise AssertionError("not used")


def test_a_terrain_model_places_a_box_on_the_hill_not_on_the_flat_under_it(scenario: Scenario) -> None:
    from vision.pipeline import PipelineConfig, VisionPipeline

    pose = Pose(0.0, 0.0, 120.0, 0.0, -30.0)
    hill = (0.0, 150.0, 40.0)  # a point on a slope 40 m above the take-off pad

    def terrain(x: float, y: float) -> float:
        return float(np.clip((y - 110.0), 0.0, 80.0))  # rises 1 m per metre north of y = 110

    uv, _ = project(INTR, pose, np.array([hill]))
    u, v = uv[0]
    det = Detection("fire", 0.9, (u - 4, v - 6, u + 4, v + 4))  # its reference pixel (60 % down) is (u, v)

    flat = VisionPipeline(_Unused(), scenario.frame)._place(INTR, pose, det, T0)
    hilly = VisionPipeline(_Unused(), scenario.frame, config=PipelineConfig(terrain=terrain))._place(
        INTR, pose, det, T0
    )
    assert flat is not None and hilly is not None
    assert math.dist(flat.xy, hill[:2]) > 30, "flat ground puts it far beyond the hill"
    assert math.dist(hilly.xy, hill[:2]) < 2.0


def test_a_zone_with_a_stricter_smoke_threshold_drops_weak_smoke_there_only(scenario: Scenario) -> None:
    from vision.frames import CameraPose, RawFrame
    from vision.pipeline import VisionPipeline, VisionZone

    zone = scenario.incidents.detection_zones[0]
    assert zone.id == "mawan-stacks" and zone.class_conf["smoke"] == 0.6
    vz = VisionZone.from_scenario(zone)
    assert vz.confirm is not None and (vz.confirm.k, vz.confirm.n) == (5, 8)
    inside = zone.area.representative_point()
    outside = (inside.x + 2000.0, inside.y)

    pipe = VisionPipeline(_Unused(), scenario.frame, zones=[vz])
    for where, expect in [((inside.x, inside.y), 0), (outside, 1)]:
        pose = Pose(where[0], where[1] - 10, 80.0, 0.0, -90.0)
        weak = Detection("smoke", 0.45, _det_at(pose, where, "smoke").box)
        lon, lat = scenario.frame.to_lonlat(pose.x, pose.y)
        cam = CameraPose(lon, lat, pose.alt, pose.heading_deg, pose.pitch_deg, INTR.hfov_deg)
        raw = RawFrame("s", 1, None, np.zeros((INTR.height, INTR.width, 3), np.uint8), T0, cam, 0.0)
        before = len(pipe.streams["s"].tracker.tracks) if "s" in pipe.streams else 0
        pipe._frame(raw, cam, T0, raw.image, [weak])  # type: ignore[arg-type]
        after = len(pipe.streams["s"].tracker.tracks)
        assert after - before == expect, where
