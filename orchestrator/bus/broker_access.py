"""amqtt plugins that ask the embedded broker's BusGate: one for the login (the gate has
already checked the CONNECT; amqtt wants a plugin to say yes), one for every publish,
subscribe and delivery. amqtt builds plugins from configuration, so the gate is found by a
key in this module's registry."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin

from orchestrator.bus.gate import BusGate

_gates: dict[str, BusGate] = {}
_keys = itertools.count()


def register(gate: BusGate) -> str:
    key = f"gate-{next(_keys)}"
    _gates[key] = gate
    return key


def unregister(gate: BusGate) -> None:
    for key in [k for k, g in _gates.items() if g is gate]:
        del _gates[key]


class LoginPlugin(BaseAuthPlugin):  # type: ignore[misc]
    @dataclass
    class Config:
        gate: str

    async def authenticate(self, *, session: Any) -> bool:
        gate = _gates.get(self.config.gate)
        return gate is not None and session is not None and session.username in gate.users


class TopicPlugin(BaseTopicPlugin):  # type: ignore[misc]
    @dataclass
    class Config:
        gate: str

    async def topic_filtering(self, *, session: Any = None, topic: str | None = None, action: Any = None) -> bool:
        gate = _gates.get(self.config.gate)
        if gate is None or session is None or topic is None or action is None:
            return False
        return gate.may(session.username, str(action.value), topic)
