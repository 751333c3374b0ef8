"""WGS84 <-> GCJ-02: the offset a Chinese map server's tiles carry, both ways."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from missions.chinamap import gcj02_to_wgs84, in_china, wgs84_to_gcj02
from missions.geo import haversine_m

NANSHAN = [(22.5329, 113.9305), (22.4827, 113.9125), (22.5935, 113.9986), (22.6397, 113.9443)]


def test_in_nanshan_the_offset_is_hundreds_of_metres_to_the_south_east() -> None:
    for lat, lon in NANSHAN:
        glat, glon = wgs84_to_gcj02(lat, lon)
        assert 200 < haversine_m(lon, lat, glon, glat) < 800
        assert glon > lon and glat < lat


def test_outside_china_nothing_moves() -> None:
    assert wgs84_to_gcj02(48.85, 2.35) == (48.85, 2.35) and gcj02_to_wgs84(48.85, 2.35) == (48.85, 2.35)
    assert not in_china(48.85, 2.35) and in_china(22.5, 113.9)


@given(st.floats(18.2, 53.5), st.floats(73.7, 134.7))
def test_the_round_trip_is_within_a_millimetre(lat: float, lon: float) -> None:
    blat, blon = gcj02_to_wgs84(*wgs84_to_gcj02(lat, lon))
    assert haversine_m(lon, lat, blon, blat) < 0.001
