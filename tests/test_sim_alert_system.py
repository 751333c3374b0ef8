"""The simulated alert system: the scenario's calls sent over MQTT when due, the
orchestrator's decisions heard back."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from missions.incidents import AlertCall
from missions.scenario import Scenario
from orchestrator.bus.broker import BrokerAddress
from sim.alert_system import SimAlertSystem
from tests.apiserver import ServiceThread


def test_due_calls_are_sent_and_the_decisions_come_back(scenario: Scenario, tmp_path: Path) -> None:
    at = scenario.day_start().replace(hour=9, minute=45)
    calls = (
        AlertCall("early", at - timedelta(hours=1), "fire", 113.9953, 22.5837, note="before the window"),
        AlertCall("sensor", at - timedelta(minutes=2), "fire", 113.9953, 22.5837, note="sensor TL-04"),
        AlertCall("caller", at - timedelta(minutes=1), "smoke", 113.9960, 22.5845, note="caller"),
        AlertCall("later", at + timedelta(hours=2), "fire", 113.9060, 22.4980, note="not yet"),
    )
    with ServiceThread(scenario, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path, lambda: at) as svc:
        assert svc.service is not None
        address = BrokerAddress.parse(svc.service.bus.address.url)
        system = SimAlertSystem(calls, lambda: at, address, since=at - timedelta(minutes=30))

        async def run() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(system.run(stop))
            for _ in range(100):
                if len(system.log.decisions) >= 2:
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await task

        asyncio.run(run())
        taken = {a.external_id: a for a in svc.service.store.alerts.alerts()}
    assert system.log.sent == ["sensor", "caller"]
    assert set(taken) == {"sensor", "caller"}
    assert [d["ok"] for d in system.log.decisions] == [True, True]
    assert system.log.decisions[1]["alert"]["state"] == "unserved", "no drones in this service: said so"
