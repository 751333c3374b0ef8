"""GeoJSON out: patrols and planned flight paths, for GIS tools and the dashboard."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shapely.geometry import mapping

from missions.geo import LocalFrame
from missions.patrols import Patrol


def patrol_features(patrols: Iterable[Patrol], frame: LocalFrame) -> list[dict[str, Any]]:
    out = []
    for p in patrols:
        geom = frame.geometry_to_lonlat(p.geometry)
        out.append(
            {
                "type": "Feature",
                "geometry": mapping(geom),
                "properties": {
                    "id": p.id,
                    "name": p.name,
                    "kind": str(p.kind),
                    "looks_for": [str(t) for t in p.looks_for],
                    "priority": p.priority,
                    "altitude_m": p.altitude_m,
                    "schedule": p.rule.describe(),
                },
            }
        )
    return out


def path_feature(points_lonlat_alt: list[tuple[float, float, float]], properties: dict[str, Any]) -> dict[str, Any]:
    """A flight path as a 3-D LineString ([lon, lat, altitude above the pad])."""
    return {
        "type": "Feature",
        "geometry": {
            "type": "LineString",
            "coordinates": [[round(a, 7), round(b, 7), round(c, 1)] for a, b, c in points_lonlat_alt],
        },
        "properties": properties,
    }


def collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}
