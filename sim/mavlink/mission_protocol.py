"""The MAVLink mission protocol, vehicle side, as ArduCopter speaks it.

Upload: MISSION_COUNT -> the vehicle asks for each item with MISSION_REQUEST (id 40, as
ArduPilot does, not the _INT variant) and accepts MISSION_ITEM_INT or MISSION_ITEM in
reply; an item out of sequence (a repeat included) gets INVALID_SEQUENCE and is asked for
again; an unknown command ends the transfer
with MISSION_ACK UNSUPPORTED; silence is retried, then the transfer is cancelled. Item 0
is home: whatever is uploaded there is replaced by the real home. Each item is kept as
ArduPilot keeps it (`missions.formats.ardupilot.stored`: frames normalised, parameters
its storage has no room for dropped), so a download returns what ArduPilot would. Download:
MISSION_REQUEST_LIST -> MISSION_COUNT, then items on MISSION_REQUEST_INT (as
MISSION_ITEM_INT) or MISSION_REQUEST (as MISSION_ITEM). Fence and rally lists are empty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from missions.formats.ardupilot import stored
from missions.formats.items import MissionItem
from sim.mavlink.messages import (
    MISSION_ACCEPTED,
    MISSION_INVALID_SEQUENCE,
    MISSION_NO_SPACE,
    MISSION_OPERATION_CANCELLED,
    MISSION_UNSUPPORTED,
    Out,
)

MAX_ITEMS = 700
RETRY_S = 1.5
MAX_RETRIES = 5
MISSION_TYPE_MISSION = 0
FRAME_MISSION = 2

SUPPORTED_COMMANDS = frozenset(
    {
        16,
        17,
        18,
        19,
        20,
        21,
        22,
        82,  # NAV: waypoint, loiter (unlim, turns, time), RTL, land, take-off, spline
        93,
        112,
        113,
        114,
        115,  # NAV_DELAY, CONDITION_DELAY/CHANGE_ALT/DISTANCE/YAW
        177,
        178,
        179,
        181,
        183,
        189,  # DO_JUMP, CHANGE_SPEED, SET_HOME, SET_RELAY, SET_SERVO, LAND_START
        195,
        197,
        201,
        203,
        205,
        206,  # ROI location/none/legacy, DIGICAM, MOUNT_CONTROL, CAM_TRIGG_DIST
        1000,
        2000,
        2001,  # GIMBAL_MANAGER_PITCHYAW, IMAGE_START/STOP_CAPTURE
    }
)


@dataclass
class _Upload:
    peer: tuple[int, int]
    count: int
    items: list[MissionItem]
    next_seq: int
    last_activity: float
    retries: int = 0


class MissionServer:
    """Vehicle side of the mission protocol; the mission lives in `items` (item 0 = home)."""

    def __init__(self, home: Callable[[], MissionItem], retry_s: float = RETRY_S) -> None:
        self.retry_s = retry_s
        """Sim seconds before re-asking for an item; the world stretches it at high speed-ups."""
        self.home = home
        self.items: list[MissionItem] = [home()]
        self._upload: _Upload | None = None
        self.on_change: Callable[[], None] = lambda: None

    @property
    def count(self) -> int:
        return len(self.items)

    def handle(self, name: str, f: dict[str, Any], peer: tuple[int, int], now: float) -> list[Out]:
        mtype = int(f.get("mission_type", 0) or 0)
        if name == "MISSION_COUNT":
            return self._start_upload(int(f["count"]), peer, now, mtype)
        if name in ("MISSION_ITEM_INT", "MISSION_ITEM"):
            return self._item(name, f, peer, now)
        if name == "MISSION_REQUEST_LIST":
            n = self.count if mtype == MISSION_TYPE_MISSION else 0
            return [
                Out(
                    "MISSION_COUNT",
                    {"target_system": peer[0], "target_component": peer[1], "count": n, "mission_type": mtype},
                )
            ]
        if name in ("MISSION_REQUEST_INT", "MISSION_REQUEST"):
            return self._send_item(name, int(f["seq"]), peer, mtype)
        if name == "MISSION_CLEAR_ALL":
            if mtype == MISSION_TYPE_MISSION:
                self.items = [self.home()]
                self._upload = None
                self.on_change()
            return [self._ack(peer, MISSION_ACCEPTED, mtype)]
        if name == "MISSION_ACK":
            return []  # the end of a download; nothing to do
        return []

    def tick(self, now: float) -> list[Out]:
        """Re-ask for an item that has not come; give up after a few tries."""
        up = self._upload
        if up is None or now - up.last_activity < self.retry_s:
            return []
        if up.retries >= MAX_RETRIES:
            self._upload = None
            return [self._ack(up.peer, MISSION_OPERATION_CANCELLED)]
        up.retries += 1
        up.last_activity = now
        return [self._request(up)]

    def _start_upload(self, count: int, peer: tuple[int, int], now: float, mtype: int) -> list[Out]:
        if mtype != MISSION_TYPE_MISSION:
            return [self._ack(peer, MISSION_UNSUPPORTED, mtype)]
        if count > MAX_ITEMS:
            return [self._ack(peer, MISSION_NO_SPACE)]
        if count <= 0:
            self.items = [self.home()]
            self.on_change()
            return [self._ack(peer, MISSION_ACCEPTED)]
        self._upload = _Upload(peer, count, [], 0, now)
        return [self._request(self._upload)]

    def _request(self, up: _Upload) -> Out:
        return Out(
            "MISSION_REQUEST",
            {
                "target_system": up.peer[0],
                "target_component": up.peer[1],
                "seq": up.next_seq,
                "mission_type": MISSION_TYPE_MISSION,
            },
        )

    def _item(self, name: str, f: dict[str, Any], peer: tuple[int, int], now: float) -> list[Out]:
        up = self._upload
        if up is None:
            return []  # ArduPilot ignores items outside a transfer
        seq = int(f["seq"])
        if seq != up.next_seq:
            # As ArduPilot: any item but the one asked for (a repeat included) is answered
            # INVALID_SEQUENCE, and the wanted one asked for again.
            return [self._ack(peer, MISSION_INVALID_SEQUENCE), self._request(up)]
        up.last_activity = now
        command = int(f["command"])
        if command not in SUPPORTED_COMMANDS:
            self._upload = None
            return [self._ack(peer, MISSION_UNSUPPORTED)]
        x, y = float(f["x"]), float(f["y"])
        if name == "MISSION_ITEM_INT" and int(f["frame"]) != FRAME_MISSION:
            x, y = x / 1e7, y / 1e7  # positions in degrees x 1e7; MISSION-frame x, y are plain parameters
        item = MissionItem(
            seq,
            int(f["frame"]),
            command,
            float(f["param1"]),
            float(f["param2"]),
            float(f["param3"]),
            float(f["param4"]),
            x,
            y,
            float(f["z"]),
            int(f.get("current", 0) or 0),
            int(f.get("autocontinue", 1) or 0),
        )
        up.items.append(stored(item))  # what ArduPilot keeps of it, as it reads it back
        up.next_seq += 1
        up.retries = 0
        if up.next_seq < up.count:
            return [self._request(up)]
        up.items[0] = replace(self.home(), seq=0)
        self.items = up.items
        self._upload = None
        self.on_change()
        return [self._ack(peer, MISSION_ACCEPTED)]

    def _send_item(self, name: str, seq: int, peer: tuple[int, int], mtype: int) -> list[Out]:
        if mtype != MISSION_TYPE_MISSION or not 0 <= seq < self.count:
            return [self._ack(peer, MISSION_INVALID_SEQUENCE, mtype)]
        it = replace(self.home(), seq=0) if seq == 0 else self.items[seq]
        as_int = name == "MISSION_REQUEST_INT"
        fields = {
            "target_system": peer[0],
            "target_component": peer[1],
            "seq": seq,
            "frame": it.frame,
            "command": it.command,
            "current": 1 if seq == 0 else 0,
            "autocontinue": it.autocontinue,
            "param1": it.param1,
            "param2": it.param2,
            "param3": it.param3,
            "param4": it.param4,
            "x": round(it.x * 1e7) if as_int and it.frame != FRAME_MISSION else (round(it.x) if as_int else it.x),
            "y": round(it.y * 1e7) if as_int and it.frame != FRAME_MISSION else (round(it.y) if as_int else it.y),
            "z": it.z,
            "mission_type": MISSION_TYPE_MISSION,
        }
        return [Out("MISSION_ITEM_INT" if as_int else "MISSION_ITEM", fields)]

    def _ack(self, peer: tuple[int, int], result: int, mtype: int = MISSION_TYPE_MISSION) -> Out:
        return Out(
            "MISSION_ACK",
            {"target_system": peer[0], "target_component": peer[1], "type": result, "mission_type": mtype},
        )
