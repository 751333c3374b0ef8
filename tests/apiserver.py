"""The service and its API on loopback, in a thread with its own event loop, for tests
that call it over real HTTP (the API tests, schemathesis)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any, Self, TypeVar

from missions.scenario import Scenario
from orchestrator.bus.broker import EmbeddedBroker
from orchestrator.commands.serve import ApiServer
from orchestrator.service.core import Service
from orchestrator.settings import AlertSettings, ApiUser
from orchestrator.store import Store

T = TypeVar("T")
USERS = [
    ApiUser(name="vera", role="viewer", token="viewer-token-0123456789"),
    ApiUser(name="otto", role="operator", token="operator-token-0123456789"),
    ApiUser(name="ada", role="admin", token="admin-token-0123456789"),
    ApiUser(name="alerts", role="integration", token="integration-token-0123456789"),
]


def token(role: str) -> str:
    return next(u.token for u in USERS if u.role == role)


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role)}"}


class LoopThread:
    """Something served from its own event loop in a thread, for synchronous tests: entered
    once `_serve` has called `self.ready.set()`, left by setting its stop event."""

    start_timeout_s = 30.0

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.url = ""
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def __enter__(self: Self) -> Self:
        self._thread.start()
        if not self.ready.wait(self.start_timeout_s) or self._error:
            raise RuntimeError(f"{type(self).__name__} did not start: {self._error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run `coro` on the thread's loop and wait for its result."""
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
        await self._serve(self._stop)

    async def _serve(self, stop: asyncio.Event) -> None:
        raise NotImplementedError


class ServiceThread(LoopThread):
    """No drones: the API over the day's plan, the store and the bus; with `run`, the
    service's loops too (scheduler, outbox, alert follow-up)."""

    def __init__(
        self,
        scenario: Scenario,
        db_url: str,
        data_dir: Path,
        clock: Callable[[], datetime],
        *,
        alerts: AlertSettings | None = None,
        run: bool = False,
    ) -> None:
        super().__init__()
        self.scenario = scenario
        self.alerts = alerts
        self.run = run
        self.db_url = db_url
        self.data_dir = data_dir
        self.clock = clock
        self.service: Service | None = None

    async def _serve(self, stop: asyncio.Event) -> None:
        broker = EmbeddedBroker()
        address = await broker.start()
        store = Store.open(self.db_url)
        self.service = Service(
            self.scenario,
            store,
            mqtt_url=address.url,
            drones={},
            clock=self.clock,
            data_dir=self.data_dir,
            alerts=self.alerts,
        )
        api = ApiServer(self.service, USERS, "127.0.0.1", 0)
        try:
            await self.service.start(self.scenario.day_start())
            await api.start()
            self.url = api.url
            running = asyncio.create_task(self.service.run(stop)) if self.run else None
            self.ready.set()
            await stop.wait()
            if running is not None:
                await running
        finally:
            await api.stop()
            await self.service.stop()
            store.close()
            await broker.stop()
