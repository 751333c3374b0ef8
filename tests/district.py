"""The simulated district, its service and the API, running in a thread with its own event
loop, for tests that drive it from synchronous code (a browser through Playwright)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from missions.scenario import Scenario
from orchestrator.commands.demo import District, simulated_district
from orchestrator.commands.serve import ApiServer
from tests.apiserver import USERS
from tests.conftest import free_udp_base

T = TypeVar("T")


class DistrictThread:
    def __init__(self, scenario: Scenario, start: datetime, speedup: float, folder: Path, video: bool = False) -> None:
        self.scenario = scenario
        self.start_at = start
        self.speedup = speedup
        self.folder = folder
        self.video = video
        self.url = ""
        self.district: District | None = None
        self.ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def __enter__(self) -> DistrictThread:
        self._thread.start()
        if not self.ready.wait(60) or self._error is not None:
            raise RuntimeError(f"the district did not start: {self._error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run `coro` on the district's loop and wait for its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:
            self._error = exc
            self.ready.set()

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
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
            runner = asyncio.create_task(district.service.run(self._stop))
            try:
                self.url = api.url
                self.ready.set()
                await self._stop.wait()
            finally:
                await runner
                await api.stop()
