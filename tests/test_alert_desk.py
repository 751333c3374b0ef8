"""The alert desk on its own, with a dispatcher stand-in: a diversion's mission upload
(seconds, with its read-back) does not hold up the next alert, a second report of the
same fire while the first drone is being diverted joins it, and a refused upload
leaves the alert unserved with the drone's reason."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from missions.dispatch import Decision, DroneState, DroneStatus, dispatch
from missions.scenario import Scenario
from orchestrator.alerts.desk import AlertDesk
from orchestrator.alerts.dispatcher import Sent
from orchestrator.alerts.inbound import AlertIn
from orchestrator.executor.sortie import diverted_limits
from orchestrator.store import Store
from orchestrator.store.records import AlertRow
from tests.simbus import eventually

SPOT = {"lat": 22.5450, "lon": 113.9560}
FAR = {"lat": 22.5000, "lon": 113.9200}
"""Shekou, kilometres from SPOT: another event, answered by another drone."""


class SlowUploads:
    """Dispatch as the real one ranks (every airport ready, one drone each); every drone
    sent is diverted, and its upload waits until the test lets it finish."""

    def __init__(self, scenario: Scenario, at: datetime) -> None:
        self.scenario = scenario
        self.at = at
        self.taken: dict[str, str] = {}
        self.release = asyncio.Event()
        self.refuse: str | None = None
        self.uploads_started = 0

    def decide(
        self, lat: float, lon: float, priority: int, tried: dict[str, str] | None = None
    ) -> tuple[Decision, dict[str, DroneState]]:
        states = {
            ap: DroneState(ap, DroneStatus.UNAVAILABLE, 0.0, note=f"answering alert {self.taken[ap]}")
            if ap in self.taken
            else DroneState(ap, DroneStatus.READY, 0.9)
            for ap in self.scenario.airports
        }
        return dispatch(self.scenario, lon, lat, self.at, states, priority=priority), states

    def send(self, alert: AlertRow, decision: Decision, states: dict[str, DroneState]) -> Sent:
        assert decision.choice is not None
        airport = decision.choice.airport_id
        self.taken[airport] = alert.id  # claimed before the upload, as the scheduler's claim does
        return Sent(f"patrol-of-{airport}", airport, "diverted", self._upload(airport))

    async def _upload(self, airport: str) -> None:
        self.uploads_started += 1
        await self.release.wait()
        if self.refuse is not None:
            del self.taken[airport]
            raise RuntimeError(self.refuse)


@pytest.fixture
def desk(scenario: Scenario, tmp_path: Path) -> tuple[AlertDesk, SlowUploads]:
    at = scenario.day_start().replace(hour=10)
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    fake = SlowUploads(scenario, at)
    clock = [at]

    def now() -> datetime:
        clock[0] += timedelta(milliseconds=10)
        return clock[0]

    return AlertDesk(store, fake, now), fake  # type: ignore[arg-type]


async def _until(check: Callable[[], bool], what: str) -> None:
    assert await eventually(check, 2, every=0), f"never happened: {what}"


def test_a_second_alert_is_decided_while_the_first_drone_is_still_taking_its_mission(
    desk: tuple[AlertDesk, SlowUploads],
) -> None:
    d, fake = desk

    async def run() -> tuple[AlertRow, AlertRow, list[AlertRow]]:
        first = asyncio.create_task(d.receive(AlertIn(kind="fire", **SPOT), "api", "test"))
        await _until(lambda: fake.uploads_started == 1, "the first upload started")
        second = asyncio.create_task(d.receive(AlertIn(kind="fire", **FAR), "api", "test"))
        # The first upload is still waiting: the second alert gets its own drone meanwhile.
        await _until(lambda: fake.uploads_started == 2, "the second alert's drone was sent during the first upload")
        during = d.book.alerts()
        fake.release.set()
        return await first, await second, during

    first, second, during = asyncio.run(run())
    assert {a.state for a in during} == {"received"}, "both wait in 'received' while their drones take the mission"
    assert first.state == second.state == "dispatched", (first, second)
    assert "diverted" in first.decision and "diverted" in second.decision
    assert first.airport != second.airport, "two alerts never take one drone"


def test_the_same_fire_reported_again_during_the_diversion_joins_the_first_alert(
    desk: tuple[AlertDesk, SlowUploads],
) -> None:
    d, fake = desk

    async def run() -> tuple[AlertRow, AlertRow]:
        first = asyncio.create_task(d.receive(AlertIn(kind="fire", **SPOT), "api", "a caller"))
        await _until(lambda: fake.uploads_started == 1, "the first upload started")
        again = await d.receive(AlertIn(kind="fire", lat=SPOT["lat"] + 0.0005, lon=SPOT["lon"]), "api", "a neighbour")
        fake.release.set()
        return await first, again

    first, again = asyncio.run(run())
    assert again.state == "merged" and again.merged_into == first.id, again
    assert fake.uploads_started == 1, "one drone answers both"


def test_a_refused_diversion_leaves_the_alert_unserved_with_the_drones_reason(
    desk: tuple[AlertDesk, SlowUploads],
) -> None:
    d, fake = desk
    fake.refuse = "mission read-back differs at item 3"
    fake.release.set()
    row = asyncio.run(d.receive(AlertIn(kind="fire", **SPOT), "api", "test"))
    assert row.state == "unserved", row
    assert row.decision.endswith("but: mission read-back differs at item 3"), row.decision
    assert fake.taken == {}, "the claim is given back"


def test_a_diverted_drone_keeps_the_higher_rtl_height_and_fence_of_its_two_flights() -> None:
    """Over Yangtai Shan the patrol needed RTL at 600 m; the alert's flight over the plain
    needs 30 m and a fence at 140 m: lowering either in the air would turn the drone home
    (fence) or fly it into the hill (RTL), so the higher stays; a parameter only the new
    flight has is taken."""
    patrol = {"RTL_ALT": 60000, "FENCE_ALT_MAX": 700}
    alert_flight = {"RTL_ALT": 3000, "FENCE_ALT_MAX": 140, "RTL_CLIMB_MIN": 10}
    assert diverted_limits(patrol, alert_flight) == {"RTL_ALT": 60000, "FENCE_ALT_MAX": 700, "RTL_CLIMB_MIN": 10}
    assert diverted_limits({"RTL_ALT": 3000, "FENCE_ALT_MAX": 140}, patrol) == patrol
    assert diverted_limits({}, alert_flight) == alert_flight
