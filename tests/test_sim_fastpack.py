"""The fast MAVLink packer sends exactly the bytes pymavlink would."""

from __future__ import annotations

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from missions.fleet import DroneModel
from sim.mavlink.fastpack import FastPacker
from sim.mavlink.streams import DEFAULT_INTERVAL_S
from sim.mavlink.telemetry import build
from sim.vehicle.copter import Copter


@pytest.mark.parametrize("name", ["HEARTBEAT", *DEFAULT_INTERVAL_S])
def test_fast_frames_equal_pymavlink_frames(name: str) -> None:
    c = Copter(3, 113.912, 22.492, 20.0, DroneModel())
    c.set_mode(4, 0.0)
    c.t = 5.0
    c.arm(0.0)
    c.body.vx, c.body.vy, c.body.alt, c.body.yaw_deg = 3.2, -1.5, 42.0, 77.0
    out = build(c, name, 12.3)
    mav = mavlink2.MAVLink(None, srcSystem=3, srcComponent=1)
    mav.seq = 200
    reference = getattr(mav, name.lower() + "_encode")(**out.fields).pack(mav)
    fast = FastPacker(3, 1).pack(name, out.fields, 200)
    if fast is None:  # arrays, strings: these go the pymavlink way
        assert name in {"BATTERY_STATUS", "HOME_POSITION", "GIMBAL_DEVICE_ATTITUDE_STATUS"}
        return
    assert fast == reference
    decoded = mavlink2.MAVLink(None).decode(bytearray(fast))
    assert decoded.get_type() == name
