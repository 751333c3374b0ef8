"""The drone camera's view: the textured ground warped through the camera, then fires,
smoke, vehicles and look-alikes drawn where they are, with ground truth for each.

The ground is one perspective warp of a mosaic of cached tiles (the ground plane maps to
the image by a homography), so a frame costs a few milliseconds. Objects are drawn from
their projected footprints; every labelled box is where the object was drawn.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from datetime import datetime

import cv2
import numpy as np

from missions.geo import XY
from missions.incidents import Confuser, FirePlan, VehiclePlan
from missions.optics import Intrinsics, Pose, ground_homography, pixel_rays, project
from missions.scenario import Scenario
from sim.scene.landcover import Landcover
from sim.scene.tiles import BASE_RES, LEVELS, TILE, TileCache, resolution

MAX_RANGE_M = 1500.0
"""Ground beyond this is lost in haze."""
MAX_MOSAIC_TILES = 48
HAZE = np.array([200, 196, 188], np.float32)
SKY_TOP = np.array([220, 170, 120], np.float32)
VEHICLE_SIZE = {"car": (4.6, 1.8), "van": (5.3, 2.0), "truck": (9.5, 2.5)}
MIN_VISIBLE_SHARE = 0.35
MIN_BOX_PX = 3.0
"""Smaller than this on either side, an object is not labelled (nor detectable)."""
SMOKE_VISIBLE_ALPHA = 0.2
"""Smoke thinner than this is not part of its label."""
"""An object less than this share inside the frame is not labelled."""


@dataclass(frozen=True)
class Truth:
    """One object as drawn in a frame."""

    cls: str
    """fire, smoke or vehicle."""
    id: str
    box: tuple[float, float, float, float]
    """x1, y1, x2, y2 in pixels."""
    xy: XY
    lon: float
    lat: float


@dataclass
class Effects:
    """Sensor effects; all zero/None gives a clean frame."""

    noise_sigma: float = 2.0
    motion_blur_px: float = 0.0
    exposure: float = 1.0
    jpeg_quality: int | None = None


@dataclass
class Frame:
    image: np.ndarray
    truths: list[Truth]
    pose: Pose
    time: datetime


@dataclass
class Scene:
    """What is on the ground: planned incidents plus look-alikes."""

    fires: list[FirePlan] = field(default_factory=list)
    vehicles: list[VehiclePlan] = field(default_factory=list)
    confusers: list[Confuser] = field(default_factory=list)


def _colour_of(key: str) -> tuple[int, int, int]:
    palette = [
        (40, 40, 40),
        (230, 230, 230),
        (60, 60, 170),
        (170, 120, 40),
        (180, 180, 190),
        (40, 120, 200),
        (90, 90, 90),
        (30, 150, 60),
        (200, 200, 60),
    ]
    return palette[zlib.crc32(key.encode()) % len(palette)]


class Renderer:
    """Renders camera frames of a scenario's district."""

    def __init__(self, scenario: Scenario, scene: Scene | None = None, seed: int = 0) -> None:
        self.scenario = scenario
        self.scene = scene or Scene()
        self.landcover = Landcover(scenario, seed)
        self.tiles = TileCache(self.landcover, seed)
        self.seed = seed
        self._noise_bank: dict[tuple[object, ...], list[tuple[np.ndarray, np.ndarray]]] = {}
        self._noise_i = 0

    # ---- ground -------------------------------------------------------------------

    def _level(self, intr: Intrinsics, pose: Pose) -> int:
        centre = pixel_rays(intr, pose, np.array([[intr.width / 2, intr.height * 0.6]]))[0]
        slant = pose.alt / max(-centre[2], 0.05)
        gsd = min(slant, MAX_RANGE_M) / intr.fx
        return int(np.clip(math.floor(math.log2(max(gsd, BASE_RES) / BASE_RES)), 0, LEVELS - 1))

    def _atmosphere(self, intr: Intrinsics, pose: Pose) -> tuple[np.ndarray, np.ndarray]:
        """(fade weight of the haze, float32 HxW; haze-and-sky colours, uint8 HxWx3), computed
        on a coarse grid and smoothly upsampled: both vary slowly across the image."""
        w, h = intr.width, intr.height
        gw, gh = 64, max(8, round(64 * h / w))
        us, vs = np.meshgrid((np.arange(gw) + 0.5) * w / gw, (np.arange(gh) + 0.5) * h / gh)
        f = intr.fx
        r = pose.rotation()
        dirs = (us[..., None] - w / 2) / f * r[0] + (vs[..., None] - h / 2) / f * r[1] + r[2]
        dz = dirs[..., 2] / np.linalg.norm(dirs, axis=2)
        with np.errstate(divide="ignore"):
            dist = np.where(dz < -1e-6, pose.alt / -dz, np.inf)
        fade = np.clip(np.where(dist <= MAX_RANGE_M, dist / MAX_RANGE_M, 1.0), 0.0, 1.0) ** 1.5
        up = np.clip(dz, 0.0, 1.0)[..., None]
        sky = SKY_TOP * up + HAZE * (1 - up)
        fade_full = cv2.resize(fade.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        sky_full = cv2.resize(sky.astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR)
        return fade_full, sky_full

    def ground(self, intr: Intrinsics, pose: Pose) -> np.ndarray:
        w, h = intr.width, intr.height
        pts = []
        for uu, vv in ((0, 0), (w, 0), (w, h), (0, h), (w / 2, 0), (w / 2, h), (0, h / 2), (w, h / 2)):
            d = pixel_rays(intr, pose, np.array([[uu, vv]]))[0]
            horiz = math.hypot(d[0], d[1])
            if d[2] < -1e-6 and pose.alt / -d[2] * horiz <= MAX_RANGE_M:
                t = pose.alt / -d[2]
                pts.append((pose.x + d[0] * t, pose.y + d[1] * t))
            elif horiz > 1e-9:
                pts.append((pose.x + d[0] / horiz * MAX_RANGE_M, pose.y + d[1] / horiz * MAX_RANGE_M))
        pts.append((pose.x, pose.y))
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        level = self._level(intr, pose)
        while True:
            span = TILE * resolution(level)
            n = (math.floor(max(xs) / span) - math.floor(min(xs) / span) + 1) * (
                math.floor(max(ys) / span) - math.floor(min(ys) / span) + 1
            )
            if n <= MAX_MOSAIC_TILES or level == LEVELS - 1:
                break
            level += 1
        mosaic, mx, my = self.tiles.mosaic(level, min(xs), min(ys), max(xs), max(ys))
        res = resolution(level)
        a = np.array([[res, 0.0, mx], [0.0, -res, my], [0.0, 0.0, 1.0]])
        hm = ground_homography(intr, pose) @ a
        img = cv2.warpPerspective(mosaic, hm, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        fade, sky = self._atmosphere(intr, pose)
        return cv2.blendLinear(img, sky, 1.0 - fade, fade)

    # ---- objects ------------------------------------------------------------------

    def render(
        self, intr: Intrinsics, pose: Pose, t: datetime, wind: XY = (0.0, 0.0), effects: Effects | None = None
    ) -> Frame:
        img = self.ground(intr, pose)
        truths: list[Truth] = []

        def near(xy: XY) -> bool:  # beyond the haze range nothing shows
            return math.hypot(xy[0] - pose.x, xy[1] - pose.y) <= MAX_RANGE_M

        for c in self.scene.confusers:
            if near(c.xy):
                self._confuser(img, intr, pose, c, t)
        for v in self.scene.vehicles:
            if v.present(t) and near(self._vehicle_xy(v, t)[0]):
                tr = self._vehicle(img, intr, pose, v, t)
                if tr:
                    truths.append(tr)
        for fire in self.scene.fires:
            radius = fire.radius(t)
            if radius > 0 and near(fire.xy):
                truths += self._fire(img, intr, pose, fire, radius, t, wind)
        out = self._effects(img, effects or Effects(), pose)
        return Frame(out, truths, pose, t)

    def _truth(self, cls: str, oid: str, px: np.ndarray, front: np.ndarray, xy: XY, intr: Intrinsics) -> Truth | None:
        if not front.all():
            return None
        x1, y1 = px.min(axis=0)
        x2, y2 = px.max(axis=0)
        area = max((x2 - x1) * (y2 - y1), 1e-6)
        cx1, cy1 = max(x1, 0), max(y1, 0)
        cx2, cy2 = min(x2, intr.width), min(y2, intr.height)
        if cx2 - cx1 < MIN_BOX_PX or cy2 - cy1 < MIN_BOX_PX or (cx2 - cx1) * (cy2 - cy1) / area < MIN_VISIBLE_SHARE:
            return None
        lon, lat = self.scenario.frame.to_lonlat(*xy)
        return Truth(cls, oid, (float(cx1), float(cy1), float(cx2), float(cy2)), xy, lon, lat)

    def _vehicle_xy(self, v: VehiclePlan, t: datetime) -> tuple[XY, float]:
        if len(v.path) == 1 or v.start is None:
            return v.path[0], v.heading_deg
        legs = list(zip(v.path, v.path[1:], strict=False))
        total = sum(math.dist(a, b) for a, b in legs)
        s = ((t - v.start).total_seconds() * v.speed_ms) % (2 * total) if total > 0 else 0.0
        backwards = s > total
        s = 2 * total - s if backwards else s
        for a, b in legs:
            d = math.dist(a, b)
            if s <= d or (a, b) == legs[-1]:
                f = s / d if d else 0.0
                heading = math.degrees(math.atan2(b[0] - a[0], b[1] - a[1])) + (180 if backwards else 0)
                return (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f), heading
            s -= d
        return v.path[-1], v.heading_deg

    def _vehicle(self, img: np.ndarray, intr: Intrinsics, pose: Pose, v: VehiclePlan, t: datetime) -> Truth | None:
        (x, y), heading = self._vehicle_xy(v, t)
        length, width = VEHICLE_SIZE.get(v.kind, VEHICLE_SIZE["car"])
        h = math.radians(heading)
        fwd, right = np.array([math.sin(h), math.cos(h)]), np.array([math.cos(h), -math.sin(h)])

        def corners(lf: float, lb: float, wr: float) -> np.ndarray:
            c = np.array([[x, y]]) + np.array(
                [fwd * lf + right * wr, fwd * lf - right * wr, -fwd * lb - right * wr, -fwd * lb + right * wr]
            )
            return np.column_stack([c, np.zeros(4)])

        body = corners(length / 2, length / 2, width / 2)
        px, front = project(intr, pose, body)
        if not front.all():
            return None
        shadow, sf = project(intr, pose, body + np.array([0.8, -0.8, 0.0]))
        if sf.all():
            cv2.fillConvexPoly(img, np.round(shadow * 4).astype(np.int32), (38, 40, 42), cv2.LINE_AA, 2)
        colour = v.colour or _colour_of(v.id)
        cv2.fillConvexPoly(img, np.round(px * 4).astype(np.int32), colour, cv2.LINE_AA, 2)
        glass, gf = project(intr, pose, corners(length * 0.32, -length * 0.08, width * 0.42))
        if gf.all():
            cv2.fillConvexPoly(img, np.round(glass * 4).astype(np.int32), (35, 30, 28), cv2.LINE_AA, 2)
        return self._truth("vehicle", v.id, px, front, (x, y), intr)

    def _fire(
        self, img: np.ndarray, intr: Intrinsics, pose: Pose, fire: FirePlan, radius: float, t: datetime, wind: XY
    ) -> list[Truth]:
        out: list[Truth] = []
        phase = t.timestamp() * 7.0
        angles = np.linspace(0, 2 * math.pi, 14, endpoint=False)
        seed = zlib.crc32(fire.id.encode())
        wobble = 0.7 + 0.3 * np.sin(angles * 3 + seed % 7 + phase) * np.cos(angles * 2 + phase * 0.7)
        ring = np.column_stack(
            [
                fire.xy[0] + radius * wobble * np.cos(angles),
                fire.xy[1] + radius * wobble * np.sin(angles),
                np.zeros(len(angles)),
            ]
        )
        px, front = project(intr, pose, ring)
        # Smoke first (it rises from the fire and drifts downwind, over and beyond it).
        out += self._smoke(img, intr, pose, fire, radius, t, wind)
        if front.all():
            k = max(3, int(abs(px[:, 0].max() - px[:, 0].min()) / 3) | 1)
            roi = _roi(px, k, img.shape)
            if roi is not None:
                x0, y0, x1, y1 = roi
                glow = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
                local = np.round((px - (x0, y0)) * 4).astype(np.int32)
                cv2.fillPoly(glow, [local], (40, 120, 255), cv2.LINE_AA, 2)
                glow = cv2.GaussianBlur(glow, (k, k), 0)
                img[y0:y1, x0:x1] = cv2.addWeighted(img[y0:y1, x0:x1], 1.0, glow, 0.35, 0.0)
            cv2.fillPoly(img, [np.round(px * 4).astype(np.int32)], (20, 90, 235), cv2.LINE_AA, 2)
            core = ring.copy()
            core[:, :2] = fire.xy + (ring[:, :2] - fire.xy) * 0.5
            cpx, cf = project(intr, pose, core)
            if cf.all():
                flicker = 200 + 55 * math.sin(phase * 3.1)
                cv2.fillPoly(img, [np.round(cpx * 4).astype(np.int32)], (80, flicker, 255), cv2.LINE_AA, 2)
            tr = self._truth("fire", fire.id, px, front, fire.xy, intr)
            if tr:
                out.append(tr)
        return out

    def _smoke(
        self, img: np.ndarray, intr: Intrinsics, pose: Pose, fire: FirePlan, radius: float, t: datetime, wind: XY
    ) -> list[Truth]:
        speed = math.hypot(*wind)
        down = np.array(wind) / speed if speed > 0.3 else np.array([0.0, 1.0])
        age = (t - fire.ignite).total_seconds()
        blobs = []
        for i in range(6):
            d = radius * 0.5 + (i + 0.5) * (radius * 1.2 + 4) * (0.6 + min(speed, 8) / 8)
            r = radius * 0.8 + 3 + i * (radius * 0.45 + 2)
            wob = math.sin(age * 0.3 + i * 1.7) * r * 0.25
            c = np.array(fire.xy) + down * d + np.array([-down[1], down[0]]) * wob
            blobs.append((c, r, 0.55 * (1 - i / 7)))
        all_px = []
        rings = []
        for c, r, alpha in blobs:
            ring = np.column_stack(
                [
                    c[0] + r * np.cos(np.linspace(0, 2 * math.pi, 16, endpoint=False)),
                    c[1] + r * np.sin(np.linspace(0, 2 * math.pi, 16, endpoint=False)),
                    np.zeros(16),
                ]
            )
            px, front = project(intr, pose, ring)
            if not front.all():
                continue
            rings.append((px, alpha))
            all_px.append(px)
        if not all_px:
            return []
        span = np.vstack(all_px)
        k = min(max(3, int(abs(span[:, 0].max() - span[:, 0].min()) / 6) | 1), 151)
        roi = _roi(span, k, img.shape)
        if roi is not None:
            x0, y0, x1, y1 = roi
            overlay = np.zeros((y1 - y0, x1 - x0), np.float32)
            for px, alpha in rings:
                layer = np.zeros_like(overlay)
                cv2.fillPoly(layer, [np.round((px - (x0, y0)) * 4).astype(np.int32)], alpha, cv2.LINE_AA, 2)
                np.maximum(overlay, layer, out=overlay)
            overlay = cv2.GaussianBlur(overlay, (k, k), 0)
            part = img[y0:y1, x0:x1]
            grey = np.full_like(part, (175, 178, 182))
            img[y0:y1, x0:x1] = cv2.blendLinear(part, grey, 1.0 - overlay, overlay)
            # The label is where the smoke is dense enough to see, not the whole blob.
            ys, xs = np.nonzero(overlay > SMOKE_VISIBLE_ALPHA)
            if len(xs) == 0:
                return []
            span = np.array([[xs.min() + x0, ys.min() + y0], [xs.max() + x0 + 1, ys.max() + y0 + 1]], float)
        tr = self._truth("smoke", fire.id + "-smoke", span, np.ones(len(span), bool), tuple(blobs[1][0]), intr)
        return [tr] if tr else []

    def _confuser(self, img: np.ndarray, intr: Intrinsics, pose: Pose, c: Confuser, t: datetime) -> None:
        ring = np.column_stack(
            [
                c.xy[0] + c.size_m * np.cos(np.linspace(0, 2 * math.pi, 16, endpoint=False)),
                c.xy[1] + c.size_m * np.sin(np.linspace(0, 2 * math.pi, 16, endpoint=False)),
                np.zeros(16),
            ]
        )
        px, front = project(intr, pose, ring)
        if not front.all():
            return
        pts = [np.round(px * 4).astype(np.int32)]
        if c.kind in ("steam", "fog"):
            k = min(max(3, int(abs(px[:, 0].max() - px[:, 0].min()) / 4) | 1), 151)
            roi = _roi(px, k, img.shape)
            if roi is None:
                return
            x0, y0, x1, y1 = roi
            layer = np.zeros((y1 - y0, x1 - x0), np.float32)
            local = [np.round((px - (x0, y0)) * 4).astype(np.int32)]
            cv2.fillPoly(layer, local, 0.45 if c.kind == "steam" else 0.3, cv2.LINE_AA, 2)
            layer = cv2.GaussianBlur(layer, (k, k), 0)
            part = img[y0:y1, x0:x1]
            img[y0:y1, x0:x1] = cv2.blendLinear(part, np.full_like(part, 245), 1.0 - layer, layer)
        elif c.kind == "shadow":
            cv2.fillPoly(img, pts, (40, 42, 45), cv2.LINE_AA, 2)
        elif c.kind in ("red_roof", "tarp"):
            cv2.fillPoly(img, pts, (40, 60, 200) if c.kind == "red_roof" else (20, 130, 240), cv2.LINE_AA, 2)
        elif c.kind == "glare":
            centre = px.mean(axis=0)
            r = max(4.0, float(np.ptp(px[:, 0])) / 2)
            roi = _roi(np.array([centre - 2 * r, centre + 2 * r]), 1, img.shape)
            if roi is None:
                return
            x0, y0, x1, y1 = roi
            yy, xx = np.ogrid[y0:y1, x0:x1]
            d2 = ((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (r * r)
            spot = (np.exp(-d2) * 160.0).astype(np.uint8)
            img[y0:y1, x0:x1] = cv2.add(img[y0:y1, x0:x1], cv2.merge([spot, spot, spot]))

    # ---- sensor -------------------------------------------------------------------

    def _effects(self, img: np.ndarray, fx: Effects, pose: Pose) -> np.ndarray:
        if fx.exposure != 1.0:
            img = cv2.convertScaleAbs(img, alpha=fx.exposure)
        if fx.motion_blur_px >= 1.5:
            n = int(fx.motion_blur_px) | 1
            kernel = np.zeros((n, n), np.float32)
            kernel[n // 2, :] = 1.0 / n
            img = cv2.filter2D(img, -1, kernel)
        if fx.noise_sigma > 0:
            up, down = self._noise(img.shape, fx.noise_sigma)
            img = cv2.subtract(cv2.add(img, up), down)
        if fx.jpeg_quality is not None:
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(fx.jpeg_quality)])
            if ok:
                img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        return img

    def _noise(self, shape: tuple[int, ...], sigma: float) -> tuple[np.ndarray, np.ndarray]:
        """Sensor noise from a small seeded bank, as (positive part, negative part)."""
        key = (shape, round(sigma, 2))
        bank = self._noise_bank.get(key)
        if bank is None:
            rng = np.random.default_rng(self.seed)
            bank = []
            for _ in range(4):
                n = rng.normal(0.0, sigma, shape[:2])
                n3 = np.repeat(n[..., None], 3, axis=2)
                bank.append((np.clip(n3, 0, 255).astype(np.uint8), np.clip(-n3, 0, 255).astype(np.uint8)))
            self._noise_bank[key] = bank
        self._noise_i = (self._noise_i + 1) % len(bank)
        return bank[self._noise_i]


def _roi(px: np.ndarray, margin: int, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """Integer box around projected points, grown by a margin and clipped to the image."""
    x0 = max(int(px[:, 0].min()) - margin, 0)
    y0 = max(int(px[:, 1].min()) - margin, 0)
    x1 = min(int(px[:, 0].max()) + margin + 1, shape[1])
    y1 = min(int(px[:, 1].max()) + margin + 1, shape[0])
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1
