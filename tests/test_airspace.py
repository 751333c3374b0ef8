from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shapely.geometry import box

from missions.airspace import Airspace, Approval, PathPoint, Zone, ZoneKind
from missions.timewindow import TimeWindow

TZ = timezone(timedelta(hours=8))
T0 = datetime(2026, 12, 2, 10, 0, tzinfo=TZ)


def _airspace() -> Airspace:
    return Airspace(
        operating_area=box(0, 0, 10_000, 10_000),
        zones=(
            Zone("nf", "stacks", ZoneKind.NO_FLY, box(2000, 2000, 3000, 3000)),
            Zone("ap", "port", ZoneKind.APPROVAL, box(6000, 0, 8000, 10_000), emergency_access=True),
            Zone("high", "upper band", ZoneKind.NO_FLY, box(4000, 4000, 5000, 5000), floor_m=100.0),
            Zone(
                "tfr",
                "event",
                ZoneKind.NO_FLY,
                box(0, 8000, 1000, 9000),
                active=(TimeWindow(T0 + timedelta(hours=8), T0 + timedelta(hours=12)),),
            ),
        ),
    )


def _path(*pts: tuple[float, float, float], minutes: float = 1.0) -> list[PathPoint]:
    return [PathPoint(x, y, z, T0 + timedelta(minutes=minutes * i)) for i, (x, y, z) in enumerate(pts)]


def test_clear_path_has_no_violation() -> None:
    assert _airspace().check_path(_path((100, 100, 80), (1500, 1500, 80))) == []


def test_no_fly_entry_is_reported_with_the_zone() -> None:
    v = _airspace().check_path(_path((100, 100, 80), (5000, 5000, 80)))
    assert [x.zone_id for x in v] == ["nf"]
    assert "no-fly" in v[0].reason


def test_ceiling_and_operating_area_are_enforced() -> None:
    v = _airspace().check_path(_path((100, 100, 80), (100, 500, 121)))
    assert any("ceiling" in x.reason for x in v)
    v = _airspace().check_path(_path((100, 100, 80), (-500, 100, 80)))
    assert any("operating area" in x.reason for x in v)


def test_altitude_band_only_applies_inside_it() -> None:
    low = _path((3500, 4500, 80), (5500, 4500, 80))
    high = _path((3500, 4500, 110), (5500, 4500, 110))
    a = _airspace()
    a.ceiling_m = 150
    assert a.check_path(low) == []
    assert [x.zone_id for x in a.check_path(high)] == ["high"]


def test_approval_zone_needs_an_approval_covering_the_time() -> None:
    path = _path((5000, 5000, 80), (7000, 5000, 80), (5000, 5000, 80), minutes=5)
    a = _airspace()
    assert {x.zone_id for x in a.check_path(path)} == {"ap"}
    covering = Approval("OK-1", frozenset({"ap"}), TimeWindow(T0 - timedelta(hours=1), T0 + timedelta(hours=1)))
    assert a.check_path(path, [covering]) == []
    too_short = Approval("OK-2", frozenset({"ap"}), TimeWindow(T0, T0 + timedelta(minutes=3)))
    assert a.check_path(path, [too_short]) != []
    wrong_zone = Approval("OK-3", frozenset({"other"}), TimeWindow(T0, T0 + timedelta(hours=2)))
    assert a.check_path(path, [wrong_zone]) != []
    assert a.check_path(path, emergency=True) == []


def test_temporary_zone_only_while_active() -> None:
    a = _airspace()
    now = _path((500, 7000, 80), (500, 9500, 80))
    later = [PathPoint(p.x, p.y, p.alt_m, p.t + timedelta(hours=9)) for p in now]
    assert a.check_path(now) == []
    assert [x.zone_id for x in a.check_path(later)] == ["tfr"]


def test_routing_avoids_blocked_zones_and_keeps_a_margin() -> None:
    a = _airspace()
    blocked = a.blocked_zone_ids(T0, T0 + timedelta(hours=1))
    assert blocked == {"nf", "ap", "high"}
    route = a.router(blocked).route((1000, 1000), (4000, 4000 - 1500))
    path = [PathPoint(x, y, 80, T0) for x, y in route.points]
    assert a.check_path(path) == []
    from shapely.geometry import LineString

    assert LineString(route.points).distance(a.zone("nf").area) >= 29.0
