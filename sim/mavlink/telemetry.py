"""Telemetry messages built from a vehicle's state, as ArduCopter fills them.

Where a ground station depends on a field, the comment says which and why.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sim.mavlink.messages import Out

if TYPE_CHECKING:
    from sim.vehicle.copter import Copter

MAV_TYPE_QUADROTOR = 2
MAV_AUTOPILOT_ARDUPILOTMEGA = 3
MODE_FLAG_CUSTOM = 1
MODE_FLAG_GUIDED = 8
MODE_FLAG_STABILIZE = 16
MODE_FLAG_SAFETY_ARMED = 128

# MAV_SYS_STATUS_SENSOR bits
GYRO, ACCEL, MAG, BARO, GPS = 1, 2, 4, 8, 32
RATE_CTRL, ATT_CTRL, YAW_CTRL, Z_CTRL, XY_CTRL, MOTORS = 1 << 10, 1 << 11, 1 << 12, 1 << 13, 1 << 14, 1 << 15
GEOFENCE, AHRS, LOGGING, BATTERY, PREARM = 1 << 20, 1 << 21, 1 << 24, 1 << 25, 1 << 28
PRESENT = (
    GYRO
    | ACCEL
    | MAG
    | BARO
    | GPS
    | RATE_CTRL
    | ATT_CTRL
    | YAW_CTRL
    | Z_CTRL
    | XY_CTRL
    | MOTORS
    | GEOFENCE
    | AHRS
    | LOGGING
    | BATTERY
    | PREARM
)

# MAV_PROTOCOL_CAPABILITY: MAVSDK refuses to upload without MISSION_INT. FTP is not
# advertised: a NAK to FILE_TRANSFER_PROTOCOL would make MAVProxy wait before falling
# back to the parameter protocol.
CAP_MISSION_FLOAT, CAP_PARAM_FLOAT, CAP_MISSION_INT, CAP_COMMAND_INT = 1, 2, 4, 8
CAP_SET_POSITION_TARGET_GLOBAL_INT, CAP_MISSION_FENCE, CAP_MISSION_RALLY, CAP_MAVLINK2 = 256, 65536, 131072, 8192
CAPABILITIES = (
    CAP_MISSION_FLOAT
    | CAP_PARAM_FLOAT
    | CAP_MISSION_INT
    | CAP_COMMAND_INT
    | CAP_SET_POSITION_TARGET_GLOBAL_INT
    | CAP_MISSION_FENCE
    | CAP_MISSION_RALLY
    | CAP_MAVLINK2
)
FLIGHT_SW_VERSION = (4 << 24) | (6 << 16) | (3 << 8) | 255  # 4.6.3 official


def voltage(c: Copter) -> float:
    """A 4S pack: 14.0 V empty to 16.8 V full."""
    return 4 * (3.5 + 0.7 * c.body.soc)


def _boot_ms(c: Copter) -> int:
    return int(c.t * 1000) & 0xFFFFFFFF


def build(c: Copter, name: str, now: float) -> Out:
    return _BUILDERS[name](c, now)


def _heartbeat(c: Copter, now: float) -> Out:
    base = MODE_FLAG_CUSTOM | MODE_FLAG_STABILIZE | (MODE_FLAG_GUIDED if c.mode.value in (3, 4, 5, 6) else 0)
    if c.armed:
        base |= MODE_FLAG_SAFETY_ARMED
    return Out(
        "HEARTBEAT",
        {
            "type": MAV_TYPE_QUADROTOR,
            "autopilot": MAV_AUTOPILOT_ARDUPILOTMEGA,
            "base_mode": base,
            "custom_mode": int(c.mode),
            "system_status": c.system_status(),
            "mavlink_version": 3,
        },
    )


def _sys_status(c: Copter, now: float) -> Out:
    health = PRESENT
    if not c.gps_ok:
        health &= ~GPS
    if c.fence_breached:
        health &= ~GEOFENCE  # MAVProxy prints "fence breach" when this bit is missing
    if c.batt_low:
        health &= ~BATTERY
    if c.prearm_failures() and not c.armed:
        health &= ~PREARM  # MAVSDK's "armable"
    enabled = PRESENT if c.params["FENCE_ENABLE"] else PRESENT & ~GEOFENCE
    current = c.body.last_power_w / voltage(c)
    return Out(
        "SYS_STATUS",
        {
            "onboard_control_sensors_present": PRESENT,
            "onboard_control_sensors_enabled": enabled,
            "onboard_control_sensors_health": health,
            "load": 300,
            "voltage_battery": int(voltage(c) * 1000),
            "current_battery": int(current * 100),
            "battery_remaining": round(c.body.soc * 100),
            "drop_rate_comm": 0,
            "errors_comm": 0,
            "errors_count1": 0,
            "errors_count2": 0,
            "errors_count3": 0,
            "errors_count4": 0,
        },
    )


def _global_position(c: Copter, now: float) -> Out:
    lon, lat = c.lonlat()
    b = c.body
    return Out(
        "GLOBAL_POSITION_INT",
        {
            "time_boot_ms": _boot_ms(c),
            "lat": round(lat * 1e7),
            "lon": round(lon * 1e7),
            "alt": round((c.home_amsl + b.alt) * 1000),
            "relative_alt": round(b.alt * 1000),
            "vx": round(b.vy * 100),
            "vy": round(b.vx * 100),
            "vz": round(-b.vz * 100),
            "hdg": round(b.yaw_deg * 100) % 36000,
        },
    )


def _local_position(c: Copter, now: float) -> Out:
    b = c.body
    return Out(
        "LOCAL_POSITION_NED",
        {"time_boot_ms": _boot_ms(c), "x": b.y, "y": b.x, "z": -b.alt, "vx": b.vy, "vy": b.vx, "vz": -b.vz},
    )


def _attitude(c: Copter, now: float) -> Out:
    b = c.body
    # Lean into the motion: a multicopter pitches forward to fly, about 1.5 deg per m/s.
    fwd = b.vx * math.sin(math.radians(b.yaw_deg)) + b.vy * math.cos(math.radians(b.yaw_deg))
    side = b.vx * math.cos(math.radians(b.yaw_deg)) - b.vy * math.sin(math.radians(b.yaw_deg))
    return Out(
        "ATTITUDE",
        {
            "time_boot_ms": _boot_ms(c),
            "roll": math.radians(1.5 * side),
            "pitch": -math.radians(1.5 * fwd),
            "yaw": math.radians(((b.yaw_deg + 180) % 360) - 180),
            "rollspeed": 0.0,
            "pitchspeed": 0.0,
            "yawspeed": 0.0,
        },
    )


def _battery(c: Copter, now: float) -> Out:
    v = voltage(c)
    cells = [int(v / 4 * 1000)] * 4 + [65535] * 6
    used_wh = c.model.battery_wh - c.body.energy_wh
    consumed_mah = int(used_wh / v * 1000)
    return Out(
        "BATTERY_STATUS",
        {
            "id": 0,
            "battery_function": 0,
            "type": 1,
            "temperature": 3000,
            "voltages": cells,
            "current_battery": int(c.body.last_power_w / v * 100),
            "current_consumed": consumed_mah,
            "energy_consumed": int(used_wh * 36),
            "battery_remaining": round(c.body.soc * 100),
            "time_remaining": 0,
            "charge_state": 1 if not c.batt_low else (3 if c.batt_crit else 2),
        },
    )


def _gps(c: Copter, now: float) -> Out:
    lon, lat = c.lonlat()
    ok = c.gps_ok
    return Out(
        "GPS_RAW_INT",
        {
            "time_usec": int(now * 1e6),
            "fix_type": 6 if ok else 1,
            "lat": round(lat * 1e7) if ok else 0,
            "lon": round(lon * 1e7) if ok else 0,
            "alt": round((c.home_amsl + c.body.alt) * 1000),
            "eph": 70 if ok else 9999,
            "epv": 120 if ok else 9999,
            "vel": round(c.body.speed * 100),
            "cog": round(c.body.yaw_deg * 100) % 36000,
            "satellites_visible": 10 if ok else 0,
        },
    )


def _home(c: Copter, now: float) -> Out:
    lon, lat = c.home_lonlat
    return Out(
        "HOME_POSITION",
        {
            "latitude": round(lat * 1e7),
            "longitude": round(lon * 1e7),
            "altitude": round(c.home_amsl * 1000),
            "x": 0.0,
            "y": 0.0,
            "z": 0.0,
            "q": [1.0, 0.0, 0.0, 0.0],
            "approach_x": 0.0,
            "approach_y": 0.0,
            "approach_z": 0.0,
            "time_usec": int(now * 1e6),
        },
    )


def _origin(c: Copter, now: float) -> Out:
    lon, lat = c.home_lonlat
    return Out(
        "GPS_GLOBAL_ORIGIN",
        {
            "latitude": round(lat * 1e7),
            "longitude": round(lon * 1e7),
            "altitude": round(c.home_amsl * 1000),
            "time_usec": int(now * 1e6),
        },
    )


def _vfr(c: Copter, now: float) -> Out:
    b = c.body
    throttle = 0 if not c.armed else min(100, int(b.last_power_w / 3))
    return Out(
        "VFR_HUD",
        {
            "airspeed": b.airspeed,
            "groundspeed": b.speed,
            "heading": int(b.yaw_deg) % 360,
            "throttle": throttle,
            "alt": c.home_amsl + b.alt,
            "climb": b.vz,
        },
    )


def _extended_state(c: Copter, now: float) -> Out:
    b = c.body
    if not c.armed or b.on_ground:
        landed = 1
    elif b.vz > 0.5 and b.alt < 5:
        landed = 3
    elif (c.mode.value == 9 or (c.rtl.phase == "land" and c.mode.value in (3, 6))) and b.vz < -0.1:
        landed = 4
    else:
        landed = 2
    return Out("EXTENDED_SYS_STATE", {"vtol_state": 0, "landed_state": landed})


def _mission_current(c: Copter, now: float) -> Out:
    return Out("MISSION_CURRENT", c.runner.current_fields(c.missions.count))


def _system_time(c: Copter, now: float) -> Out:
    return Out("SYSTEM_TIME", {"time_unix_usec": 0, "time_boot_ms": _boot_ms(c)})


def _autopilot_version(c: Copter, now: float) -> Out:
    return Out(
        "AUTOPILOT_VERSION",
        {
            "capabilities": CAPABILITIES,
            "flight_sw_version": FLIGHT_SW_VERSION,
            "middleware_sw_version": 0,
            "os_sw_version": 0,
            "board_version": 0,
            "flight_custom_version": b"dronepat",
            "middleware_custom_version": bytes(8),
            "os_custom_version": bytes(8),
            "vendor_id": 0,
            "product_id": 0,
            "uid": int(c.params["SYSID_THISMAV"]),
            "uid2": [0] * 18,
        },
    )


def _gimbal(c: Copter, now: float) -> Out:
    pitch, yaw = math.radians(c.gimbal_pitch), math.radians(c.gimbal_yaw)
    cy, sy, cp, sp = math.cos(yaw / 2), math.sin(yaw / 2), math.cos(pitch / 2), math.sin(pitch / 2)
    q = [cy * cp, -sy * sp, cy * sp, sy * cp]
    return Out(
        "GIMBAL_DEVICE_ATTITUDE_STATUS",
        {
            "target_system": 0,
            "target_component": 0,
            "time_boot_ms": _boot_ms(c),
            "flags": 0,
            "q": q,
            "angular_velocity_x": 0.0,
            "angular_velocity_y": 0.0,
            "angular_velocity_z": 0.0,
            "failure_flags": 0,
        },
    )


_BUILDERS = {
    "HEARTBEAT": _heartbeat,
    "SYS_STATUS": _sys_status,
    "GLOBAL_POSITION_INT": _global_position,
    "LOCAL_POSITION_NED": _local_position,
    "ATTITUDE": _attitude,
    "BATTERY_STATUS": _battery,
    "GPS_RAW_INT": _gps,
    "HOME_POSITION": _home,
    "GPS_GLOBAL_ORIGIN": _origin,
    "VFR_HUD": _vfr,
    "EXTENDED_SYS_STATE": _extended_state,
    "MISSION_CURRENT": _mission_current,
    "SYSTEM_TIME": _system_time,
    "AUTOPILOT_VERSION": _autopilot_version,
    "GIMBAL_DEVICE_ATTITUDE_STATUS": _gimbal,
}
