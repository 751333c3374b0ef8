"""The simulated district, its service and the API, running in a thread with its own event
loop, for tests that drive it from synchronous code (a browser through Playwright)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from missions.scenario import Scenario
from orchestrator.commands.demo import District, simulated_district
from orchestrator.commands.serve import ApiServer
from tests.apiserver import USERS, LoopThread
from tests.conftest import free_udp_base


class DistrictThread(LoopThread):
    start_timeout_s = 60.0

    def __init__(self, scenario: Scenario, start: datetime, speedup: float, folder: Path, video: bool = False) -> None:
        super().__init__()
        self.scenario = scenario
        self.start_at = start
        self.speedup = speedup
        self.folder = folder
        self.video = video
        self.district: District | None = None

    async def _serve(self, stop: asyncio.Event) -> None:
        async with simulated_district(
            self.scenario,
            self.start_at,
            self.speedup,
            f"sqlite:///{self.folder / 'db.sqlite'}",
            self.folder,
            base_port=free_udp_base(len(self.scenario.airports)),
            video=self.video,
        ) as district:
            self.district = district
            api = ApiServer(district.service, USERS, "127.0.0.1", 0)
            await api.start()
            runner = asyncio.create_task(district.service.run(stop))
            try:
                self.url = api.url
                self.ready.set()
                await stop.wait()
            finally:
                await runner
                await api.stop()
