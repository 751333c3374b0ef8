"""Decode -> detect -> project -> track -> rules, for many streams, off the event loop.

One worker thread takes the freshest frame of every stream that has one, decodes only
those, runs them through the detector as one batch, places each box on the ground from
the frame's camera pose, updates that stream's ground tracker and applies the rules. A
confirmed finding is reported once per track, with a crop and the annotated frame.
Problems with one stream (no pose, a corrupt frame) are counted and skipped; the others
go on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from missions.geo import LocalFrame
from missions.incidents import DetectionZone, NoParkingZone
from missions.optics import Intrinsics, Pose, pixel_rays, visible_ground
from vision.detector import Detector
from vision.evidence import crop, draw_boxes, jpeg
from vision.findings import FindingReport, finding_id
from vision.frames import CameraPose, RawFrame
from vision.geoproject import PoseError, reference_pixel, to_ground
from vision.ingest import StreamIngest
from vision.pose import PoseSource
from vision.rules import ConfirmRule, Finding, ParkingRule, confirm_fire_smoke, illegal_parking
from vision.tiling import TilePolicy, detect_tiled, tiles_per_side
from vision.tracking import GroundTracker, Track
from vision.types import Detection, GroundDetection

log = logging.getLogger("dronepatrol.vision")


@dataclass(frozen=True)
class VisionZone:
    """Somewhere with its own thresholds (a depot's steam vents want a stricter smoke score)."""

    id: str
    area: BaseGeometry
    class_conf: Mapping[str, float] = field(default_factory=dict)
    confirm: ConfirmRule | None = None

    @classmethod
    def from_scenario(cls, zone: DetectionZone) -> VisionZone:
        confirm = ConfirmRule(zone.confirm[0], zone.confirm[1], zone.confirm[2]) if zone.confirm else None
        return cls(zone.id, zone.area, dict(zone.class_conf), confirm)


@dataclass(frozen=True)
class PipelineConfig:
    default_hfov_deg: float = 84.0
    """For streams whose metadata does not say."""
    max_range_m: float = 600.0
    """Detections farther than this are too uncertain to place."""
    confirm: ConfirmRule = field(default_factory=ConfirmRule)
    parking: ParkingRule = field(default_factory=ParkingRule)
    pose_error: PoseError = field(default_factory=PoseError)
    terrain: Callable[[float, float], float] | None = None
    """Ground height (m, relative to take-off) at a local x, y; None means flat ground."""
    tiles: TilePolicy | None = field(default_factory=TilePolicy)
    """Cut frames into tiles when the pose says a car would be too small at the input
    (vision/tiling.py); None: always the whole frame."""


@dataclass
class PipelineStats:
    frames: int = 0
    batches: int = 0
    no_pose: int = 0
    corrupt: int = 0
    detections: int = 0
    unplaced: int = 0
    findings: int = 0
    errors: int = 0
    tiled: int = 0
    """Frames run in tiles (a car too small at the input from that altitude)."""
    latency_s: deque[float] = field(default_factory=lambda: deque(maxlen=2000))
    """Receipt -> processed, per frame."""
    finding_latency_s: deque[float] = field(default_factory=lambda: deque(maxlen=500))
    """Capture time of the confirming frame -> report, when capture times are wall-clock."""
    per_stream: dict[str, int] = field(default_factory=dict)


@dataclass
class StreamState:
    ingest: StreamIngest | None
    """None for frames handed to `process` directly (tests, benchmarks, other sources)."""
    tracker: GroundTracker = field(default_factory=GroundTracker)
    poses: PoseSource | None = None
    sortie: str | None = None
    reported: set[tuple[int, str]] = field(default_factory=set)


class VisionPipeline:
    def __init__(
        self,
        detector: Detector,
        frame: LocalFrame,
        no_parking: Sequence[NoParkingZone] = (),
        zones: Sequence[VisionZone] = (),
        config: PipelineConfig = PipelineConfig(),
        on_finding: Callable[[FindingReport], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.detector = detector
        self.frame = frame
        self.no_parking = list(no_parking)
        self.zones = list(zones)
        self.config = config
        self.on_finding = on_finding
        self.clock = clock
        self.streams: dict[str, StreamState] = {}
        self.stats = PipelineStats()
        self.findings: list[FindingReport] = []
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- streams -------------------------------------------------------------------------
    def add_stream(
        self, ingest: StreamIngest, poses: PoseSource | None = None, sortie: str | None = None
    ) -> StreamState:
        with self._lock:
            state = StreamState(ingest, poses=poses, sortie=sortie)
            self.streams[ingest.name] = state
        if self._thread is not None and not ingest.started:
            ingest.start()  # added while running
        return state

    def remove_stream(self, stream: str) -> None:
        """Stop watching one stream (its drone has landed); the others go on."""
        with self._lock:
            state = self.streams.pop(stream, None)
        if state is not None and state.ingest is not None:
            state.ingest.stop(wait=False)

    def _state(self, stream: str) -> StreamState:
        with self._lock:
            return self.streams.setdefault(stream, StreamState(None))

    def set_sortie(self, stream: str, sortie: str | None) -> None:
        if stream in self.streams:
            self.streams[stream].sortie = sortie

    # -- running -------------------------------------------------------------------------
    def start(self) -> VisionPipeline:
        for st in self.streams.values():
            if st.ingest is not None and not st.ingest.started:
                st.ingest.start()
        self._thread = threading.Thread(target=self._run, name="vision", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for st in self.streams.values():
            if st.ingest is not None:
                st.ingest.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                states = list(self.streams.values())
            frames = [f for st in states if st.ingest is not None and (f := st.ingest.take()) is not None]
            if not frames:
                self._stop.wait(0.005)
                continue
            try:
                self.process(frames)
            except Exception:  # one bad batch must not end vision for every drone
                self.stats.errors += 1
                log.exception("vision batch failed; going on")

    # -- one batch -----------------------------------------------------------------------
    def _pose_of(self, raw: RawFrame, state: StreamState | None) -> tuple[CameraPose | None, datetime]:
        t = raw.captured or raw.received_at or self.clock()
        pose = raw.pose
        if pose is None and state is not None and state.poses is not None:
            pose = state.poses.at(t)
        return pose, t

    def process(self, frames: Sequence[RawFrame]) -> list[FindingReport]:
        """Run one batch synchronously (the worker calls this; so do tests and benchmarks)."""
        images: list[np.ndarray] = []
        kept: list[tuple[RawFrame, CameraPose, datetime]] = []
        for raw in frames:
            state = self.streams.get(raw.stream)
            pose, t = self._pose_of(raw, state)
            if pose is None:
                self.stats.no_pose += 1
                continue
            img = raw.decode()
            if img is None:
                self.stats.corrupt += 1
                continue
            images.append(img)
            kept.append((raw, pose, t))
        if not images:
            return []
        batch = self._detect(images, [pose for _, pose, _ in kept])
        self.stats.batches += 1
        out: list[FindingReport] = []
        for (raw, pose, t), img, dets in zip(kept, images, batch, strict=True):
            out.extend(self._frame(raw, pose, t, img, dets))
            self.stats.frames += 1
            self.stats.per_stream[raw.stream] = self.stats.per_stream.get(raw.stream, 0) + 1
            self.stats.latency_s.append(time.monotonic() - raw.received_mono)
        return out

    def _detect(self, images: list[np.ndarray], poses: list[CameraPose]) -> list[list[Detection]]:
        """The detector on each frame, in tiles where the frame's altitude calls for it."""
        policy = self.config.tiles
        if policy is None:
            return self.detector.detect(images)
        imgsz = self.detector.config.imgsz
        ks = [
            tiles_per_side(p, img.shape[1], img.shape[0], imgsz, policy, self.config.default_hfov_deg)
            for img, p in zip(images, poses, strict=True)
        ]
        out: list[list[Detection]] = [[] for _ in images]
        for k in sorted(set(ks)):
            idx = [i for i, ki in enumerate(ks) if ki == k]
            group = [images[i] for i in idx]
            found = self.detector.detect(group) if k == 1 else detect_tiled(self.detector, group, k, policy.overlap)
            if k > 1:
                self.stats.tiled += len(idx)
            for i, dets in zip(idx, found, strict=True):
                out[i] = dets
        return out

    def _zone_at(self, xy: tuple[float, float]) -> VisionZone | None:
        return next((z for z in self.zones if shapely.contains_xy(z.area, *xy)), None)

    def _frame(
        self, raw: RawFrame, cam: CameraPose, t: datetime, img: np.ndarray, dets: list[Detection]
    ) -> list[FindingReport]:
        state = self._state(raw.stream)
        h, w = img.shape[:2]
        intr = Intrinsics(w, h, cam.hfov_deg or self.config.default_hfov_deg)
        x, y = self.frame.to_xy(cam.lon, cam.lat)
        pose = Pose(x, y, cam.alt_m, cam.heading_deg, cam.pitch_deg)
        self.stats.detections += len(dets)
        placed: list[GroundDetection] = []
        by_box: dict[tuple[float, float, float, float], Detection] = {}
        for d in dets:
            g = self._place(intr, pose, d, t)
            if g is None or np.hypot(g.xy[0] - x, g.xy[1] - y) > self.config.max_range_m:
                self.stats.unplaced += 1
                continue
            zone = self._zone_at(g.xy)
            if zone is not None and d.score < zone.class_conf.get(d.cls, 0.0):
                continue
            placed.append(g)
            by_box[d.box] = d
        ring = visible_ground(intr, pose, self.config.max_range_m)
        view = Polygon(ring) if len(ring) >= 3 else None
        touched = state.tracker.update(t, placed, view)
        reports: list[FindingReport] = []
        for track in touched:
            finding = self._judge(track)
            if finding is None or (track.id, finding.kind) in state.reported:
                continue
            state.reported.add((track.id, finding.kind))
            det = self._detection_of(track, placed, by_box)
            report = self._report(raw, state, finding, img, dets, det)
            reports.append(report)
        for report in reports:
            self.findings.append(report)
            self.stats.findings += 1
            if raw.captured is not None:
                self.stats.finding_latency_s.append((report.reported_at - raw.captured).total_seconds())
            log.info("finding: %s", report.line())
            if self.on_finding is not None:
                self.on_finding(report)
        return reports

    def _place(self, intr: Intrinsics, pose: Pose, d: Detection, t: datetime) -> GroundDetection | None:
        """On flat ground, or where the pixel's ray first meets the terrain (marched in
        steps along the ray, then bisected), which holds on slopes of any steepness."""
        if self.config.terrain is None:
            return to_ground(intr, pose, d, t, self.config.pose_error)
        terrain = self.config.terrain
        ray = pixel_rays(intr, pose, np.array([reference_pixel(d)]))[0]
        origin = np.array([pose.x, pose.y, pose.alt])

        def above(s: float) -> float:
            p = origin + s * ray
            return float(p[2] - terrain(float(p[0]), float(p[1])))

        step, s, hit = 5.0, 0.0, None
        while s < self.config.max_range_m * 1.5:
            if above(s + step) <= 0:
                hit = (s, s + step)
                break
            s += step
        if hit is None:
            return None
        lo, hi = hit
        for _ in range(30):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if above(mid) > 0 else (lo, mid)
        z = float((origin + hi * ray)[2])
        return to_ground(intr, pose, d, t, self.config.pose_error, ground_z=z)

    def _judge(self, track: Track) -> Finding | None:
        if track.cls in ("fire", "smoke"):
            zone = self._zone_at(track.xy)
            rule = zone.confirm if zone is not None and zone.confirm is not None else self.config.confirm
            return confirm_fire_smoke(track, rule)
        if track.cls == "vehicle":
            return illegal_parking(track, self.no_parking, self.config.parking)
        return None

    @staticmethod
    def _detection_of(
        track: Track, placed: list[GroundDetection], by_box: dict[tuple[float, float, float, float], Detection]
    ) -> Detection | None:
        last = track.obs[-1]
        for g in placed:
            if g.cls == track.cls and g.xy == last.xy:
                return by_box.get(g.box)
        return None

    def _report(
        self,
        raw: RawFrame,
        state: StreamState,
        finding: Finding,
        img: np.ndarray,
        dets: list[Detection],
        det: Detection | None,
    ) -> FindingReport:
        lon, lat = self.frame.to_lonlat(*finding.xy)
        box = det.box if det is not None else (0.0, 0.0, float(img.shape[1]), float(img.shape[0]))
        return FindingReport(
            id=finding_id(raw.stream, finding.kind, finding.first_seen, finding.track_id),
            kind=finding.kind,
            lon=lon,
            lat=lat,
            sigma_m=finding.sigma_m,
            confidence=finding.confidence,
            first_seen=finding.first_seen,
            last_seen=finding.last_seen,
            stream=raw.stream,
            sortie=state.sortie,
            zone=finding.zone,
            dwell_s=finding.dwell_s,
            frame_seq=raw.seq,
            crop_jpeg=jpeg(crop(img, box)),
            frame_jpeg=jpeg(draw_boxes(img, dets, det)),
            reported_at=self.clock(),
        )
