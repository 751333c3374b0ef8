"""The drone-and-dock state machine: pure, so every rule is tested without a socket."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from orchestrator.fleet.machine import (
    BeginSortie,
    ClearFault,
    Command,
    DockReport,
    DroneMachine,
    Failed,
    Launched,
    LinkChanged,
    OrderHome,
    Phase,
    Release,
    SetHold,
    SortieEnded,
    Telemetry,
)

T0 = datetime(2026, 12, 2, 9, tzinfo=timezone(timedelta(hours=8)))
GUIDED, AUTO, RTL = 4, 3, 6


def _at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def _docked(battery: float = 95.0) -> DroneMachine:
    m = DroneMachine("shekou", T0)
    m.handle(LinkChanged(True), _at(0))
    m.handle(DockReport(False, True, False), _at(0))
    m.handle(Telemetry(False, GUIDED, 0.0, battery), _at(0))
    return m


def test_on_the_pad_it_is_offline_then_ready_charging_or_docked_by_what_it_reports() -> None:
    m = DroneMachine("shekou", T0)
    assert m.phase is Phase.OFFLINE
    m.handle(LinkChanged(True), _at(1))
    m.handle(Telemetry(False, GUIDED, 0.0, 40.0), _at(1))
    assert m.phase is Phase.DOCKED and "40 %" in m.reason
    m.handle(DockReport(False, True, True), _at(2))
    assert m.phase is Phase.CHARGING
    _, changes = m.handle(DockReport(False, True, False), _at(3))
    assert m.phase is Phase.DOCKED and changes[0].old is Phase.CHARGING
    m.handle(Telemetry(False, GUIDED, 0.0, 92.0), _at(4))
    assert m.phase is Phase.READY
    m.handle(LinkChanged(False), _at(5))
    assert m.phase is Phase.OFFLINE


def test_a_sortie_goes_preflight_launching_airborne_returning_landing_ready_with_reasons() -> None:
    m = _docked()
    seen = []
    commands = []
    for event, t in [
        (BeginSortie("S-1"), 1),
        (DockReport(True, True, False), 2),
        (Telemetry(True, GUIDED, 0.0, 95.0), 3),
        (Launched(), 3),
        (Telemetry(True, AUTO, 30.0, 94.0), 10),
        (Telemetry(True, AUTO, 60.0, 70.0), 600),
        (Telemetry(True, RTL, 60.0, 45.0), 1200),
        (Telemetry(True, RTL, 5.0, 40.0), 1300),
        (Telemetry(False, RTL, 0.0, 40.0), 1320),
        (SortieEnded("completed"), 1320),
    ]:
        cmds, changes = m.handle(event, _at(t))  # type: ignore[arg-type]
        seen += [c.new for c in changes]
        commands += cmds
    assert seen == [Phase.PREFLIGHT, Phase.LAUNCHING, Phase.AIRBORNE, Phase.RETURNING, Phase.LANDING, Phase.DOCKED]
    assert m.phase is Phase.DOCKED and m.sortie is None
    assert commands == [Command("close_lid", "drone on the pad")], "landed with the lid open: close it"


def test_ordering_home_commands_one_return_and_shows_why() -> None:
    m = _docked()
    m.handle(BeginSortie("S-2"), _at(1))
    m.handle(Launched(), _at(2))
    m.handle(Telemetry(True, AUTO, 50.0, 60.0), _at(3))
    cmds, changes = m.handle(OrderHome("battery short of home plus reserve"), _at(4))
    assert cmds == [Command("return_home", "battery short of home plus reserve")]
    assert m.phase is Phase.RETURNING and changes[0].reason == "battery short of home plus reserve"
    again, _ = m.handle(OrderHome("again"), _at(5))
    assert again == [], "one order, not a stream of them"


def test_a_lost_link_in_the_air_keeps_it_flying_and_says_so() -> None:
    m = _docked()
    m.handle(BeginSortie("S-3"), _at(1))
    m.handle(Launched(), _at(2))
    m.handle(Telemetry(True, AUTO, 50.0, 60.0), _at(3))
    _, changes = m.handle(LinkChanged(False), _at(4))
    assert m.phase is Phase.AIRBORNE and changes == [] and "link lost" in m.reason
    m.handle(Telemetry(True, RTL, 40.0, 55.0), _at(5))
    assert m.phase is Phase.RETURNING and "failsafe" in m.reason
    assert not m.snapshot().link_ok


def test_holds_and_faults_take_it_out_of_service_until_released_or_cleared() -> None:
    m = _docked()
    m.handle(SetHold("wind 14 m/s over the 12 m/s limit"), _at(1))
    assert m.phase is Phase.HOLD and m.snapshot().hold_reason == "wind 14 m/s over the 12 m/s limit"
    m.handle(Release(), _at(2))
    assert m.phase is Phase.READY
    m.handle(DockReport(False, True, False, fault="lid_jam"), _at(3))
    assert m.phase is Phase.FAULT and m.reason == "dock: lid_jam"
    m.handle(DockReport(False, True, False), _at(4))
    m.handle(BeginSortie("S-4"), _at(5))
    m.handle(Failed("preflight: GPS not ready"), _at(6))
    assert m.phase is Phase.FAULT and m.sortie is None
    m.handle(ClearFault(), _at(7))
    assert m.phase is Phase.READY


def test_snapshots_do_not_change_when_the_machine_does() -> None:
    m = _docked()
    snap = m.snapshot()
    m.handle(Telemetry(False, GUIDED, 0.0, 50.0), _at(1))
    assert snap.battery_pct == 95.0 and m.snapshot().battery_pct == 50.0
