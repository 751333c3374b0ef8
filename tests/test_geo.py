from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from pyproj import Geod

from missions.geo import LocalFrame, bearing_deg, haversine_m, wind_vector

FRAME = LocalFrame(113.93, 22.54)
GEOD = Geod(ellps="WGS84")


@given(st.floats(113.7, 114.1), st.floats(22.3, 22.8))
def test_local_frame_round_trips_to_a_millimetre(lon: float, lat: float) -> None:
    x, y = FRAME.to_xy(lon, lat)
    lon2, lat2 = FRAME.to_lonlat(x, y)
    assert abs(lon2 - lon) < 1e-8 and abs(lat2 - lat) < 1e-8


@given(st.floats(113.8, 114.0), st.floats(22.4, 22.7), st.floats(113.8, 114.0), st.floats(22.4, 22.7))
def test_local_distances_match_the_ellipsoid_within_a_hundredth_of_a_percent(
    lon1: float, lat1: float, lon2: float, lat2: float
) -> None:
    a, b = FRAME.to_xy(lon1, lat1), FRAME.to_xy(lon2, lat2)
    _, _, geodesic = GEOD.inv(lon1, lat1, lon2, lat2)
    assert abs(math.dist(a, b) - geodesic) <= 1e-4 * geodesic + 0.01
    # The quick spherical estimate stays within half a percent.
    assert abs(haversine_m(lon1, lat1, lon2, lat2) - geodesic) <= 5e-3 * geodesic + 0.01


def test_axes_point_east_and_north() -> None:
    x, y = FRAME.to_xy(113.94, 22.54)
    assert x > 1000 and abs(y) < 5
    assert bearing_deg((0, 0), FRAME.to_xy(113.93, 22.55)) < 1 or bearing_deg((0, 0), FRAME.to_xy(113.93, 22.55)) > 359


def test_wind_from_the_east_blows_west() -> None:
    wx, wy = wind_vector(10, 90)
    assert wx < -9.99 and abs(wy) < 1e-9
