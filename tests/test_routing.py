from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, box

from missions.routing import Router, Unreachable

AREA = box(0, 0, 1000, 1000)
WALL = box(400, 100, 600, 1000)  # a wall from the top, open only below y=100
FREE = AREA.difference(WALL)


def test_straight_when_clear() -> None:
    r = Router(FREE)
    route = r.route((50, 500), (300, 800))
    assert route.points == ((50, 500), (300, 800))
    assert route.length_m == pytest.approx(math.dist((50, 500), (300, 800)))


def test_goes_round_the_wall_by_the_shortest_way() -> None:
    r = Router(FREE)
    route = r.route((300, 500), (700, 500))
    # Around the bottom corners (400,100) and (600,100), within the node inset.
    expected = math.dist((300, 500), (400, 100)) + 200 + math.dist((600, 100), (700, 500))
    assert route.length_m == pytest.approx(expected, abs=10.0)
    assert FREE.covers(LineString(route.points))


def test_goal_inside_an_obstacle_is_unreachable() -> None:
    with pytest.raises(Unreachable):
        Router(FREE).route((100, 100), (500, 500))


@settings(max_examples=60, deadline=None)
@given(st.floats(10, 990), st.floats(10, 990), st.floats(10, 990), st.floats(10, 990))
def test_routes_never_cross_obstacles_and_are_never_shorter_than_a_straight_line(
    x1: float, y1: float, x2: float, y2: float
) -> None:
    r = ROUTER
    a, b = (x1, y1), (x2, y2)
    if not (FREE.covers(Point(a)) and FREE.covers(Point(b))):
        return
    route = r.route(a, b)
    assert FREE.buffer(1e-6).covers(LineString(route.points))
    assert route.length_m >= math.dist(a, b) - 1e-6
    assert route.length_m == pytest.approx(LineString(route.points).length)


def test_distance_field_agrees_with_single_routes() -> None:
    import numpy as np

    targets = np.array([[700.0, 500.0], [900.0, 900.0], [200.0, 200.0]])
    field = ROUTER.distance_field((300.0, 500.0), targets)
    for t, d in zip(targets, field, strict=True):
        assert d == pytest.approx(ROUTER.route((300.0, 500.0), (float(t[0]), float(t[1]))).length_m, rel=1e-9)


ROUTER = Router(FREE)
