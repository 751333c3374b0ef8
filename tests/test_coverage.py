from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import affinity
from shapely.geometry import LineString, Polygon, box

from missions.coverage import footprint_union, lawnmower, swath

FOOT_W, FOOT_H = 160.0, 120.0


def _covered_share(poly: Polygon, overlap: float) -> float:
    sweep = lawnmower(poly, FOOT_W, overlap)
    seen = footprint_union(sweep.segments, FOOT_W, FOOT_H)
    return seen.intersection(poly).area / poly.area


def _neighbour_overlap(poly: Polygon, overlap: float) -> float:
    """Smallest overlap between footprints of adjacent lines, as a share of the width,
    measured as the perpendicular distance between the flown lines."""
    sweep = lawnmower(poly, FOOT_W, overlap)
    lines = [LineString(s) for s in sweep.segments]
    shares = []
    for a, b in itertools.pairwise(lines):
        far_b = affinity.scale(b, 1000, 1000)  # the infinite line through b
        distance = a.interpolate(0.5, normalized=True).distance(far_b)
        if distance > 1.0:  # a different row (not two pieces of one row)
            shares.append((FOOT_W - distance) / FOOT_W)
    return min(shares) if shares else 1.0


def test_rectangle_is_fully_covered_with_lines_along_its_long_side() -> None:
    rect = affinity.rotate(box(0, 0, 3000, 600), 30, origin=(0, 0))
    sweep = lawnmower(rect, FOOT_W, 0.2)
    assert sweep.angle_deg == pytest.approx(30.0, abs=1e-6)
    assert sweep.line_count == math.ceil((600 - FOOT_W) / (FOOT_W * 0.8)) + 1
    assert _covered_share(rect, 0.2) > 0.999


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 2000), st.floats(0, 2000)), min_size=4, max_size=12),
    st.sampled_from([0.0, 0.2, 0.4]),
)
def test_random_convex_areas_are_covered_at_the_requested_overlap(
    pts: list[tuple[float, float]], overlap: float
) -> None:
    hull = Polygon(pts).convex_hull
    if not isinstance(hull, Polygon) or hull.area < 200_000:
        return
    assert _covered_share(hull, overlap) > 0.999
    sweep = lawnmower(hull, FOOT_W, overlap)
    if sweep.line_count > 1:
        assert _neighbour_overlap(hull, overlap) >= overlap - 1e-6


def test_concave_area_is_covered() -> None:
    l_shape = box(0, 0, 2000, 500).union(box(0, 0, 500, 2000))
    assert _covered_share(l_shape, 0.2) > 0.999


def test_swath_is_the_frame_swept_along_the_line() -> None:
    s = swath((0, 0), (1000, 0), FOOT_W, FOOT_H)
    assert s.area == pytest.approx((1000 + FOOT_H) * FOOT_W)
