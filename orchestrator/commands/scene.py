"""`dronepatrol sim snapshot` and `dronepatrol sim dataset`: look at the simulated world,
and make training data from it."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import cv2

from missions.errors import PlanningError
from missions.optics import Intrinsics, Pose
from missions.scenario import Scenario
from sim.scene.render import Frame, Renderer
from sim.video.service import scene_of

BOX_COLOURS = {"fire": (0, 0, 255), "smoke": (220, 220, 220), "vehicle": (0, 220, 0)}


def snapshot_pose(sc: Scenario, airport: str, target: tuple[float, float] | None, alt: float = 80.0) -> Pose:
    """Hover over the airport at `alt`; camera 45 degrees down, or looking at a target."""
    ap = sc.airport(airport)
    if target is None:
        return Pose(ap.xy[0], ap.xy[1], alt, 0.0, -45.0)
    tx, ty = sc.to_xy(target[1], target[0])
    dx, dy = tx - ap.xy[0], ty - ap.xy[1]
    dist = math.hypot(dx, dy)
    if dist > 3000:
        raise PlanningError(f"the target is {dist / 1000:.1f} km from {airport}: too far to see (3 km at most)")
    heading = math.degrees(math.atan2(dx, dy)) % 360 if dist > 1 else 0.0
    pitch = -math.degrees(math.atan2(alt, dist)) if dist > 1 else -90.0
    return Pose(ap.xy[0], ap.xy[1], alt, heading, pitch)


def draw_truths(frame: Frame) -> None:
    for tr in frame.truths:
        x1, y1, x2, y2 = (round(v) for v in tr.box)
        colour = BOX_COLOURS.get(tr.cls, (255, 255, 0))
        cv2.rectangle(frame.image, (x1, y1), (x2, y2), colour, 2)
        cv2.putText(
            frame.image,
            f"{tr.cls} {tr.id}",
            (x1, max(12, y1 - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            colour,
            1,
            cv2.LINE_AA,
        )


def snapshot(
    sc: Scenario,
    airport: str,
    at: datetime,
    target: tuple[float, float] | None,
    out: Path,
    width: int = 1280,
    height: int = 720,
    seed: int = 0,
) -> Frame:
    pose = snapshot_pose(sc, airport, target)
    renderer = Renderer(sc, scene_of(sc), seed)
    intr = Intrinsics(width, height, sc.airport(airport).drone.camera.hfov_deg)
    weather = sc.weather.forecast(at, at).at(at)
    frame = renderer.render(intr, pose, at, weather.wind)
    draw_truths(frame)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), frame.image):
        raise PlanningError(f"cannot write {out}")
    return frame
