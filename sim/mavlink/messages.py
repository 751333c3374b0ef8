"""Outgoing MAVLink as plain data: a message name and its fields.

The vehicle core produces these and never touches pymavlink; the UDP endpoint encodes
them at the edge. Inbound messages reach the core the same way, as (name, fields).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Out:
    """One message to send: e.g. Out("COMMAND_ACK", {"command": 400, "result": 0})."""

    name: str
    fields: dict[str, Any] = field(default_factory=dict)


# MAV_RESULT
ACCEPTED, TEMPORARILY_REJECTED, DENIED, UNSUPPORTED, FAILED, IN_PROGRESS = 0, 1, 2, 3, 4, 5

# MAV_MISSION_RESULT
MISSION_ACCEPTED = 0
MISSION_ERROR = 1
MISSION_UNSUPPORTED_FRAME = 2
MISSION_UNSUPPORTED = 3
MISSION_NO_SPACE = 4
MISSION_INVALID = 5
MISSION_INVALID_SEQUENCE = 13
MISSION_DENIED = 14
MISSION_OPERATION_CANCELLED = 15

# MAV_SEVERITY
EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG = range(8)


def statustext(severity: int, text: str) -> Out:
    return Out("STATUSTEXT", {"severity": severity, "text": text[:50].encode()})


def ack(command: int, result: int, target: tuple[int, int] = (0, 0)) -> Out:
    return Out(
        "COMMAND_ACK",
        {
            "command": command,
            "result": result,
            "progress": 0,
            "result_param2": 0,
            "target_system": target[0],
            "target_component": target[1],
        },
    )
