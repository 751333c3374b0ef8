"""End to end against the simulator: its MJPEG video, through the shipped model and the
whole pipeline, to findings on the ground."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
import shapely

from missions.incidents import Confuser, FirePlan, NoParkingZone, VehiclePlan
from missions.scenario import Scenario
from sim.scene.render import Scene
from tests.simvideo import StreamingWorld
from vision.detector import DetectorConfig, OnnxDetector
from vision.ingest import StreamIngest
from vision.pipeline import VisionPipeline
from vision.train import DEFAULT_IMGSZ, DEFAULT_MODEL

pytestmark = pytest.mark.slow


def _pipeline(sc: Scenario, world: StreamingWorld, zones=()) -> VisionPipeline:  # type: ignore[no-untyped-def]
    det = OnnxDetector(DEFAULT_MODEL, DetectorConfig(imgsz=DEFAULT_IMGSZ))
    pipe = VisionPipeline(det, sc.frame, zones)
    pipe.add_stream(StreamIngest(world.airport, world.url), sortie="test-sortie")
    return pipe


def test_a_fire_is_reported_within_30_m_of_where_it_burns(scenario: Scenario) -> None:
    start = scenario.day_start().replace(hour=10)
    with StreamingWorld(scenario, start=start, speedup=5) as world:
        hx, hy = world.home_xy()
        fire_xy = (hx + 40.0, hy + 180.0)
        world.service.renderer.scene = Scene(fires=[FirePlan("f", fire_xy, start - timedelta(minutes=8), 0.6, 10)])
        world.take_off(to=(0.0, 60.0, 60.0), roi=(40.0, 180.0))
        pipe = _pipeline(scenario, world).start()
        try:
            # Its smoke may be confirmed first (it rises above the flames): wait for the fire itself.
            assert world.wait_until(lambda: any(f.kind == "fire" for f in pipe.findings), 60)
        finally:
            pipe.stop()
    fires = [f for f in pipe.findings if f.kind == "fire"]
    assert fires, [f.line() for f in pipe.findings]
    f = fires[0]
    x, y = scenario.frame.to_xy(f.lon, f.lat)
    assert math.dist((x, y), fire_xy) <= 30.0, f"fire reported {math.dist((x, y), fire_xy):.1f} m off"
    assert f.stream == "shekou" and f.sortie == "test-sortie" and 0 < f.confidence <= 1
    assert f.crop_jpeg[:2] == b"\xff\xd8" and f.frame_jpeg[:2] == b"\xff\xd8"
    assert f.first_seen <= f.last_seen and f.sigma_m > 0


def test_illegal_parking_only_for_the_car_that_stays_in_the_zone_past_the_dwell(scenario: Scenario) -> None:
    start = scenario.day_start().replace(hour=10)
    with StreamingWorld(scenario, start=start, speedup=20, fps=6) as world:
        hx, hy = world.home_xy()

        def at(dx: float, dy: float) -> tuple[float, float]:
            return (hx + dx, hy + dy)

        zone = NoParkingZone("test-lane", "test lane", shapely.box(hx - 25, hy + 60, hx + 25, hy + 140), dwell_s=120)
        cars = [
            VehiclePlan("stays", "car", (at(-10, 80),), 0.0, colour=(235, 235, 235)),
            VehiclePlan(
                "brief", "car", (at(12, 120),), 0.0, start, start + timedelta(seconds=60), colour=(40, 130, 210)
            ),
            VehiclePlan("outside", "car", (at(60, 100),), 0.0, colour=(60, 60, 180)),
            VehiclePlan("driving", "truck", (at(0, -400), at(0, 600)), 0.0, speed_ms=8.0, colour=(180, 120, 40)),
        ]
        world.service.renderer.scene = Scene(vehicles=cars)
        world.take_off(to=(0.0, 100.0, 70.0), roi=None)
        world.loop.call_soon_threadsafe(setattr, world.copter, "gimbal_pitch", -90.0)
        pipe = _pipeline(scenario, world)
        pipe.no_parking = [zone]
        pipe.start()
        try:
            # Watch for the dwell time and a bit more, in simulated time.
            t_end = world.world.clock.now() + timedelta(seconds=200)
            world.wait_until(lambda: world.world.clock.now() >= t_end, 60)
        finally:
            pipe.stop()
    parking = [f for f in pipe.findings if f.kind == "illegal_parking"]
    assert len(parking) == 1, [f.line() for f in pipe.findings]
    x, y = scenario.frame.to_xy(parking[0].lon, parking[0].lat)
    assert math.dist((x, y), at(-10, 80)) <= 8.0
    assert parking[0].zone == "test-lane" and parking[0].dwell_s is not None and parking[0].dwell_s >= 120


def test_look_alikes_raise_no_finding(scenario: Scenario) -> None:
    start = scenario.day_start().replace(hour=10)
    with StreamingWorld(scenario, start=start, speedup=5) as world:
        hx, hy = world.home_xy()
        confusers = [
            Confuser("roof", "red_roof", (hx - 30, hy + 150), 8),
            Confuser("tarp", "tarp", (hx + 30, hy + 170), 4),
            Confuser("steam", "steam", (hx, hy + 220), 10),
            Confuser("glare", "glare", (hx + 10, hy + 130), 5),
            Confuser("shadow", "shadow", (hx - 10, hy + 190), 8),
        ]
        world.service.renderer.scene = Scene(confusers=confusers)
        world.take_off(to=(0.0, 60.0, 60.0), roi=(0.0, 170.0))
        pipe = _pipeline(scenario, world).start()
        try:
            world.wait_until(lambda: pipe.stats.frames >= 60, 60)
        finally:
            pipe.stop()
    assert pipe.stats.frames >= 60
    assert [f for f in pipe.findings if f.kind in ("fire", "smoke")] == []
