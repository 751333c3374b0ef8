"""Live updates inside the process: the API's event stream and the MQTT mirror read the
same feed. Slow readers lose their oldest updates, never block the service."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import deque
from dataclasses import dataclass
from typing import Any

QUEUE_SIZE = 1000


@dataclass(frozen=True)
class LiveEvent:
    id: int
    kind: str
    """sortie, drone, dock, finding, schedule."""
    data: dict[str, Any]

    def sse(self) -> str:
        return f"id: {self.id}\nevent: {self.kind}\ndata: {json.dumps(self.data, ensure_ascii=False)}\n\n"


class EventHub:
    def __init__(self, keep: int = 500) -> None:
        self._ids = itertools.count(1)
        self._subscribers: set[asyncio.Queue[LiveEvent]] = set()
        self.recent: deque[LiveEvent] = deque(maxlen=keep)

    def publish(self, kind: str, data: dict[str, Any]) -> LiveEvent:
        event = LiveEvent(next(self._ids), kind, data)
        self.recent.append(event)
        for q in list(self._subscribers):
            if q.full():
                q.get_nowait()
            q.put_nowait(event)
        return event

    def subscribe(self) -> asyncio.Queue[LiveEvent]:
        q: asyncio.Queue[LiveEvent] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[LiveEvent]) -> None:
        self._subscribers.discard(q)

    def since(self, last_id: int) -> list[LiveEvent]:
        """What a reconnecting reader missed (Last-Event-ID), as far as it is kept."""
        return [e for e in self.recent if e.id > last_id]
