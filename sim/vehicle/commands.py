"""COMMAND_LONG / COMMAND_INT handlers of the simulated ArduCopter.

Each handler takes the vehicle, the seven parameters (for COMMAND_INT, x and y already
in degrees) and the time, and returns the MAV_RESULT with any messages to send before the
COMMAND_ACK. Results follow ArduCopter 4.6: take-off while disarmed FAILED, arming in AUTO
with no mission FAILED, unknown commands UNSUPPORTED (the caller's default), parameters
out of range DENIED.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sim.mavlink.messages import ACCEPTED, CRITICAL, DENIED, FAILED, UNSUPPORTED, Out, statustext
from sim.mavlink.streams import DEFAULT_INTERVAL_S, MESSAGE_IDS, REQUEST_ONLY
from sim.mavlink.telemetry import build
from sim.vehicle.modes import Mode

if TYPE_CHECKING:
    from sim.vehicle.copter import Copter

FORCE_ARM_MAGIC = 21196
"""MAV_CMD_COMPONENT_ARM_DISARM's param2 that skips the pre-arm checks (and disarms in flight)."""


def _cmd_arm(c: Copter, p: list[float], now: float) -> tuple[int, list[Out]]:
    if p[0] >= 0.5:
        return c.arm(now, force=int(p[1]) == FORCE_ARM_MAGIC)
    if c.airborne and int(p[1]) != FORCE_ARM_MAGIC:
        return FAILED, [statustext(CRITICAL, "Disarm: vehicle is flying")]
    return ACCEPTED, c.disarm("command")


def _cmd_takeoff(c: Copter, p: list[float], now: float) -> tuple[int, list[Out]]:
    alt = p[6]
    if not c.armed or c.mode is not Mode.GUIDED:
        return FAILED, []
    if not 0 < alt <= c.params["FENCE_ALT_MAX"]:
        return DENIED, []
    c.guided = (c.body.x, c.body.y, alt)
    return ACCEPTED, []


def _cmd_set_mode(c: Copter, p: list[float], now: float) -> tuple[int, list[Out]]:
    return (ACCEPTED if c.set_mode(int(p[1]), now) else FAILED), []


def _cmd_mode(mode: Mode):  # type: ignore[no-untyped-def]
    def run(c: Copter, p: list[float], now: float) -> tuple[int, list[Out]]:
        return (ACCEPTED if c.set_mode(mode, now) else FAILED), []

    return run


def _cmd_mission_start(c: Copter, p: list[float], now: float) -> tuple[int, list[Out]]:
    if c.missions.count <= 1:
        return FAILED, []
    if c.mode is not Mode.AUTO and not c.set_mode(Mode.AUTO, now):
        return FAILED, []
    first = int(p[0]) if p[0] >= 1 else 1
    return ACCEPTED, c.runner.start(c, now, first=first) if c.armed else []


def _cmd_reposition(c: Copter, p: list[float], now: float) -> tuple[int, list[Out]]:
    if c.mode is not Mode.GUIDED and not (int(p[1]) & 1 and c.set_mode(Mode.GUIDED, now)):
        return FAILED, []
    if not c.armed or math.isnan(p[4]) or math.isnan(p[5]):
        return FAILED, []
    x, y = c.xy_of(p[5], p[4])
    alt = c.body.alt if math.isnan(p[6]) else p[6]
    c.guided = (x, y, alt)
    if p[0] > 0:
        c.speed_override = p[0]
    return ACCEPTED, []


def _cmd_change_speed(c: Copter, p: list[float], now: float) -> tuple[int, list[Out]]:
    if not 0 < p[1] <= 30:
        return DENIED, []
    c.speed_override = p[1]
    return ACCEPTED, []


def _cmd_message_interval(c: Copter, p: list[float], now: float) -> tuple[int, list[Out]]:
    name = MESSAGE_IDS.get(int(p[0]))
    if name is None or name in REQUEST_ONLY:
        return UNSUPPORTED, []
    interval_us = p[1]
    if interval_us == -1:
        c.streams.set_interval(name, None, now)
    elif interval_us == 0:
        c.streams.set_interval(name, DEFAULT_INTERVAL_S.get(name, 1.0), now)
    elif interval_us > 0:
        c.streams.set_interval(name, max(interval_us / 1e6, 0.02), now)
    else:
        return DENIED, []
    return ACCEPTED, []


def _cmd_request_message(c: Copter, p: list[float], now: float) -> tuple[int, list[Out]]:
    name = MESSAGE_IDS.get(int(p[0]))
    if name is None:
        return UNSUPPORTED, []
    # MAVSDK needs HOME_POSITION before the ACK, or its health stays red.
    return ACCEPTED, [build(c, name, now)]


def _cmd_capabilities(c: Copter, p: list[float], now: float) -> tuple[int, list[Out]]:
    return ACCEPTED, [build(c, "AUTOPILOT_VERSION", now)]


def _cmd_home(c: Copter, p: list[float], now: float) -> tuple[int, list[Out]]:
    return ACCEPTED, [build(c, "HOME_POSITION", now)]


def _cmd_roi(c: Copter, p: list[float], now: float) -> tuple[int, list[Out]]:
    c.roi = c.xy_of(p[5], p[4]) if not (math.isnan(p[4]) or (p[4] == 0 and p[5] == 0)) else None
    return ACCEPTED, []


def _cmd_roi_none(c: Copter, p: list[float], now: float) -> tuple[int, list[Out]]:
    c.roi = None
    return ACCEPTED, []


def _cmd_gimbal(c: Copter, p: list[float], now: float) -> tuple[int, list[Out]]:
    if not -90 <= p[0] <= 30:
        return DENIED, []
    c.roi = None
    c.gimbal_pitch, c.gimbal_yaw = p[0], p[1]
    return ACCEPTED, []


def _cmd_mount(c: Copter, p: list[float], now: float) -> tuple[int, list[Out]]:
    return _cmd_gimbal(c, [p[0], p[2], 0, 0, 0, 0, 0], now)


def _cmd_reboot(c: Copter, p: list[float], now: float) -> tuple[int, list[Out]]:
    if c.armed:
        return FAILED, [statustext(CRITICAL, "Reboot: vehicle is armed")]
    return ACCEPTED, []


COMMANDS = {
    400: _cmd_arm,
    22: _cmd_takeoff,
    176: _cmd_set_mode,
    20: _cmd_mode(Mode.RTL),
    21: _cmd_mode(Mode.LAND),
    17: _cmd_mode(Mode.LOITER),
    300: _cmd_mission_start,
    192: _cmd_reposition,
    178: _cmd_change_speed,
    511: _cmd_message_interval,
    512: _cmd_request_message,
    520: _cmd_capabilities,
    410: _cmd_home,
    195: _cmd_roi,
    201: _cmd_roi,
    197: _cmd_roi_none,
    1000: _cmd_gimbal,
    205: _cmd_mount,
    246: _cmd_reboot,
}
