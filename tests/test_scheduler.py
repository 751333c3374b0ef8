"""The scheduler's decisions that need no drone: the day recorded once, the airspace
checked for the time a sortie really launches, a patrol given to another airport."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from missions.planner import reassign
from missions.scenario import Scenario
from orchestrator.scheduler.day import DayScheduler, SchedulerConfig
from orchestrator.store import Store


@pytest.fixture
def scheduler(scenario: Scenario, tmp_path: Path) -> DayScheduler:
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    at = scenario.day_start().replace(hour=5)
    # No drones are asked anything here: fleet and docks are never touched.
    return DayScheduler(scenario, store, None, None, lambda: at, SchedulerConfig())  # type: ignore[arg-type]


def test_the_day_is_recorded_once_even_when_planned_again(scheduler: DayScheduler, scenario: Scenario) -> None:
    first = scheduler.load_day(scenario.day_start())
    assert first == len(scheduler.plan.sorties) > 30  # type: ignore[union-attr]
    assert scheduler.load_day(scenario.day_start()) == 0, "a restart plans the same ids and adds nothing"
    assert len(scheduler.store.sorties()) == first


def test_a_sortie_launched_after_its_approval_window_is_held_for_the_airspace(
    scheduler: DayScheduler, scenario: Scenario
) -> None:
    scheduler.load_day(scenario.day_start())
    late = scenario.day_start().replace(hour=21, minute=30)
    closed = {}
    for row in scheduler.store.sorties():
        why = scheduler._airspace_closed(row, late)
        if why is not None:
            closed[row.id] = why
            assert scheduler._airspace_closed(row, row.planned_launch) is None, "fine at its planned time"  # type: ignore[arg-type]
    assert closed, "some patrols cross zones approved only 07:00-21:00"
    assert all(w.startswith("airspace: ") for w in closed.values())


def test_a_patrol_is_given_to_the_best_airport_not_excluded(scenario: Scenario) -> None:
    at = scenario.day_start().replace(hour=10)
    ordinary = reassign(scenario, "mawan-perimeter", at, set())
    elsewhere = reassign(scenario, "mawan-perimeter", at, {s.airport_id for s in ordinary})
    assert ordinary and elsewhere
    assert not {s.airport_id for s in elsewhere} & {s.airport_id for s in ordinary}
    assert all(s.launch_at >= at and s.cause == "reassigned" for s in elsewhere)
    assert elsewhere[0].landed_at - elsewhere[0].launch_at > timedelta(minutes=1)
    assert reassign(scenario, "mawan-perimeter", at, set(scenario.airports)) == []
