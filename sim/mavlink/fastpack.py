"""A faster MAVLink 2 encoder for the plain messages the simulator streams most.

pymavlink builds a message object, then packs it; at 100 vehicles of full telemetry that
is a third of the simulator's time. For messages with only scalar fields this packs the
payload with the dialect's own struct and CRC extra straight from a dict, bytes for bytes
what pymavlink would send (a test compares them). Anything else, or any value the struct
refuses, goes the pymavlink way.
"""

from __future__ import annotations

import struct
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

try:
    from fastcrc.crc16 import mcrf4xx
except ImportError:  # pragma: no cover - pymavlink depends on fastcrc
    mcrf4xx = None

_HEADER = struct.Struct("<BBBBBBBHB")
_CRC = struct.Struct("<H")


class FastPacker:
    """Packs scalar-only messages of the ardupilotmega dialect without pymavlink objects."""

    def __init__(self, sysid: int, compid: int) -> None:
        self.sysid, self.compid = sysid, compid
        self._specs: dict[str, tuple[struct.Struct, list[str], int, int] | None] = {}

    def _spec(self, name: str) -> tuple[struct.Struct, list[str], int, int] | None:
        if name in self._specs:
            return self._specs[name]
        cls = getattr(mavlink2, f"MAVLink_{name.lower()}_message", None)
        spec = None
        if cls is not None and mcrf4xx is not None and not any(cls.array_lengths) and "s" not in cls.unpacker.format:
            wire = [""] * len(cls.fieldnames)
            for j, field in enumerate(cls.fieldnames):
                wire[cls.orders[j]] = field
            spec = (cls.unpacker, wire, cls.crc_extra, cls.id)
        self._specs[name] = spec
        return spec

    def pack(self, name: str, fields: dict[str, Any], seq: int) -> bytes | None:
        """The frame, or None when this message must go through pymavlink."""
        spec = self._spec(name)
        if spec is None:
            return None
        unpacker, wire, crc_extra, msgid = spec
        try:
            payload = unpacker.pack(*[fields.get(f, 0) for f in wire])
        except struct.error:
            return None
        payload = payload.rstrip(b"\x00") or b"\x00"  # MAVLink 2 drops trailing zeros
        header = _HEADER.pack(253, len(payload), 0, 0, seq, self.sysid, self.compid, msgid & 0xFFFF, msgid >> 16)
        crc = mcrf4xx(header[1:] + payload + bytes((crc_extra,)))
        return header + payload + _CRC.pack(crc)
