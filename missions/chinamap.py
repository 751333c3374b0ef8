"""GCJ-02, the coordinate system of the maps published in China (the national survey's
obfuscated datum): WGS84 <-> GCJ-02.

A bureau's intranet map server usually serves tiles in GCJ-02; drawing WGS84 positions on
them puts every drone and fire a few hundred metres off. The forward transform is the
published algorithm (an ellipsoid of a = 6378245 m, e^2 = 0.00669342162296594323, and a
polynomial-and-sine offset of the position relative to 105E 35N); it applies inside
mainland China only. The reverse has no closed form: it is found by fixed-point iteration
of the forward one until the round trip is within a millimetre. The dashboard does the
same in JavaScript (`api/web/chinamap.js`), tested against this module.
"""

from __future__ import annotations

import math

A = 6378245.0
EE = 0.00669342162296594323


def in_china(lat: float, lon: float) -> bool:
    """The rough box the offset is applied in (outside it GCJ-02 equals WGS84)."""
    return 72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271


def _offset_lat(x: float, y: float) -> float:
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    r += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return r


def _offset_lon(x: float, y: float) -> float:
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    r += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return r


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    if not in_china(lat, lon):
        return lat, lon
    x, y = lon - 105.0, lat - 35.0
    dlat, dlon = _offset_lat(x, y), _offset_lon(x, y)
    rad = math.radians(lat)
    magic = 1.0 - EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = dlat * 180.0 / ((A * (1.0 - EE)) / (magic * sqrt_magic) * math.pi)
    dlon = dlon * 180.0 / (A / sqrt_magic * math.cos(rad) * math.pi)
    return lat + dlat, lon + dlon


def gcj02_to_wgs84(lat: float, lon: float, tolerance_deg: float = 1e-9) -> tuple[float, float]:
    """The WGS84 point whose GCJ-02 image is (lat, lon), by fixed-point iteration."""
    wlat, wlon = lat, lon
    for _ in range(30):
        glat, glon = wgs84_to_gcj02(wlat, wlon)
        dlat, dlon = glat - lat, glon - lon
        if abs(dlat) < tolerance_deg and abs(dlon) < tolerance_deg:
            break
        wlat, wlon = wlat - dlat, wlon - dlon
    return wlat, wlon
