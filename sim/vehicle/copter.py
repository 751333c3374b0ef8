"""A simulated ArduCopter: the pure core of one vehicle.

`handle(name, fields, sender, now)` takes a decoded MAVLink message and returns what to
send back; `step(dt, now, wind)` advances the vehicle and returns what it says by itself
(telemetry, STATUSTEXT, mission progress). No sockets, no clocks: the UDP endpoint
(sim/mavlink/endpoint.py) does the I/O, the world loop does the timing, so a flight is a
function of its inputs and its seed.

Behaviour follows ArduCopter 4.6 as ground stations see it (see the notes in the code
where a client depends on it): HEARTBEAT with type quadrotor and autopilot ArduPilotMega,
custom_mode the Copter mode number; streams off until requested; COMMAND_ACK for every
command; arming checks with STATUSTEXT; take-off in GUIDED; AUTO missions; failsafes set by
parameters.
"""

from __future__ import annotations

import math
import random
from typing import Any

from missions.fleet import DroneModel
from missions.formats.items import Frame, MissionItem
from missions.geo import LocalFrame
from missions.terrain import Ground
from sim.mavlink.messages import (
    ACCEPTED,
    CRITICAL,
    EMERGENCY,
    FAILED,
    INFO,
    UNSUPPORTED,
    WARNING,
    Out,
    ack,
    statustext,
)
from sim.mavlink.mission_protocol import MissionServer
from sim.mavlink.streams import Streams
from sim.mavlink.telemetry import build
from sim.vehicle.commands import COMMANDS
from sim.vehicle.mission_runner import MISSION_STATE_ACTIVE, MissionRunner
from sim.vehicle.modes import BOOT, STANDBY, SUPPORTED, Mode
from sim.vehicle.params import Params
from sim.vehicle.physics import Body
from sim.vehicle.rtl import Rtl

MAV_TYPE_GCS = 6
BOOT_S = 2.0
GPS_LOSS_TO_EKF_FAILSAFE_S = 1.0
POSITION_MODES = frozenset({Mode.AUTO, Mode.GUIDED, Mode.LOITER, Mode.RTL, Mode.BRAKE})


class Copter:
    """One vehicle: body, autopilot state, parameters, mission and streams."""

    def __init__(
        self,
        sysid: int,
        home_lon: float,
        home_lat: float,
        home_amsl: float,
        model: DroneModel,
        seed: int = 0,
        soc: float = 0.9,
        params: dict[str, float] | None = None,
        frame: LocalFrame | None = None,
    ) -> None:
        # Positions are metres from home; a frame shared by a whole district saves
        # building one projection per vehicle.
        self.frame = frame or LocalFrame(home_lon, home_lat)
        self._home_xy = self.frame.to_xy(home_lon, home_lat)
        self.home_lonlat = (home_lon, home_lat)
        self.home_amsl = home_amsl
        self.model = model
        self.rng = random.Random(seed)
        self.body = Body(model, energy_wh=soc * model.battery_wh)
        self.body.efficiency_error = min(1.12, max(0.9, self.rng.gauss(1.0, 0.04)))
        defaults = {
            "SYSID_THISMAV": sysid,
            "WPNAV_SPEED": model.cruise_speed_ms * 100,
            "WPNAV_SPEED_UP": model.climb_rate_ms * 100,
            "WPNAV_SPEED_DN": model.descent_rate_ms * 100,
            "RTL_ALT": model.transit_alt_m * 100,
        }
        self.params = Params({**defaults, **(params or {})})
        self.missions = MissionServer(self.home_item)
        self.missions.on_change = self._mission_changed
        self.runner = MissionRunner()
        self.rtl = Rtl()
        self.streams = Streams()
        self.t = 0.0
        self.mode = Mode.STABILIZE
        self.armed = False
        self.armed_at = 0.0
        self.landed_flag = False
        self.hold: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.guided: tuple[float, float, float] | None = None
        self.speed_override: float | None = None
        self.roi: tuple[float, float] | None = None
        self.gimbal_pitch = -90.0
        self.gimbal_yaw = 0.0
        self.lid_open = True
        """Set by the world from the dock; arming needs it open."""
        self.gps_ok = True
        self.gps_lost_since: float | None = None
        self.motor_failed = False
        self.ground: Ground | None = None
        """The terrain it flies over (the world sets the scenario's); None: level with home."""
        self.pads: list[tuple[tuple[float, float], float]] = []
        """Every dock pad (shared frame) with its height above sea level (set by the world)."""
        self.crashed_at: tuple[float, float] | None = None
        """Where it hit the ground (lon, lat): it is lost, and will not arm again."""
        self.flew_since_arm = False
        self.gcs_seen = False
        self.gcs_last = 0.0
        self.gcs_failsafe = False
        self.batt_low = self.batt_crit = False
        self.fence_breached = False
        self.ekf_failsafe = False
        self._next_heartbeat = 0.0
        self._pending: list[Out] = []
        """Messages produced by a mode change inside handle(), sent with the next step."""

    # ---- geometry helpers -----------------------------------------------------------

    def home_item(self) -> MissionItem:
        return MissionItem(0, Frame.GLOBAL, 16, x=self.home_lonlat[1], y=self.home_lonlat[0], z=self.home_amsl)

    def xy_of(self, lon: float, lat: float) -> tuple[float, float]:
        """Metres east and north of home."""
        x, y = self.frame.to_xy(lon, lat)
        return x - self._home_xy[0], y - self._home_xy[1]

    def lonlat_of(self, x: float, y: float) -> tuple[float, float]:
        return self.frame.to_lonlat(x + self._home_xy[0], y + self._home_xy[1])

    def lonlat(self) -> tuple[float, float]:
        return self.lonlat_of(self.body.x, self.body.y)

    def district_xy(self) -> tuple[float, float]:
        """Where it is in the shared frame (the world matches drones to dock pads by it)."""
        return self.body.x + self._home_xy[0], self.body.y + self._home_xy[1]

    def rehome(self) -> None:
        """Home is where it arms, as on ArduPilot: a drone that landed at another dock
        returns there on its next RTL, not to the dock it first took off from. Its height
        above sea level is that pad's (ArduPilot takes home's altitude where it arms), so
        missions in the GLOBAL frame fly the heights they say from the new pad."""
        if self.body.x == 0 and self.body.y == 0:
            return
        self._home_xy = self.district_xy()
        self.home_lonlat = self.frame.to_lonlat(*self._home_xy)
        self.body.x = self.body.y = 0.0
        for xy, amsl in self.pads:
            if math.dist(xy, self._home_xy) <= self.PAD_RADIUS_M:
                self.home_amsl = amsl
                break

    def item_xy(self, it: MissionItem) -> tuple[float, float]:
        if it.x == 0 and it.y == 0:
            return self.body.x, self.body.y
        return self.xy_of(it.y, it.x)

    def item_alt(self, it: MissionItem) -> float:
        if it.frame == Frame.GLOBAL:
            return it.z - self.home_amsl
        return it.z  # relative to home; terrain frames fly over flat ground here

    @property
    def in_auto(self) -> bool:
        return self.mode is Mode.AUTO

    @property
    def airborne(self) -> bool:
        return self.armed and self.body.alt > 0.3

    def cruise_speed(self) -> float:
        return self.speed_override or self.params.values["WPNAV_SPEED"] / 100.0

    def system_status(self) -> int:
        if self.t < BOOT_S:
            return BOOT
        return 4 if self.armed else STANDBY  # MAV_STATE_ACTIVE when armed

    def prearm_failures(self) -> list[str]:
        """Why the vehicle may not arm now (empty when it may); PREARM_CHECK health reads this."""
        reasons = []
        if self.t < BOOT_S:
            reasons.append("Arm: Waiting for boot")
        if not self.gps_ok:
            reasons.append("Arm: GPS 1: No 3D fix")
        capacity = self.params.values["BATT_CAPACITY"]
        if self.body.soc * capacity < self.params.values["BATT_ARM_MAH"]:
            reasons.append("Arm: Battery below minimum arming capacity")
        if not self.lid_open:
            reasons.append("Arm: Dock lid closed")
        if self.motor_failed:
            reasons.append("Arm: Motors: failure")
        if self.crashed_at is not None:
            reasons.append("Arm: Crashed: the vehicle is lost")
        return reasons

    def hold_here(self) -> None:
        self.hold = (self.body.x, self.body.y, self.body.alt)

    # ---- inbound --------------------------------------------------------------------

    def handle(self, name: str, f: dict[str, Any], sender: tuple[int, int], now: float) -> list[Out]:
        if name == "HEARTBEAT":
            if f.get("type") == MAV_TYPE_GCS:
                self.gcs_seen, self.gcs_last = True, now
                if self.gcs_failsafe:
                    self.gcs_failsafe = False
                    return [statustext(INFO, "GCS Failsafe Cleared")]
            return []
        if name == "COMMAND_LONG":
            p = [f[f"param{i}"] for i in range(1, 8)]
            return self.command(int(f["command"]), p, sender, now)
        if name == "COMMAND_INT":
            p = [f["param1"], f["param2"], f["param3"], f["param4"], f["x"] / 1e7, f["y"] / 1e7, f["z"]]
            return self.command(int(f["command"]), p, sender, now)
        if name == "SET_MODE":
            ok = self.set_mode(int(f["custom_mode"]), now)
            return [] if ok else [statustext(WARNING, "Mode change failed")]
        if name == "SET_POSITION_TARGET_GLOBAL_INT":
            return self._position_target(f)
        if name in ("PARAM_REQUEST_LIST", "PARAM_REQUEST_READ", "PARAM_SET"):
            return self._params(name, f)
        if name == "REQUEST_DATA_STREAM":
            self.streams.request_group(int(f["req_stream_id"]), int(f["req_message_rate"]), bool(f["start_stop"]), now)
            return []
        if name == "MISSION_SET_CURRENT":
            seq = int(f["seq"])
            if not 0 <= seq < self.missions.count:
                return []
            return self.runner.set_current(self, seq, now)
        if name.startswith("MISSION_"):
            return self.missions.handle(name, f, sender, now)
        if name == "TIMESYNC" and f.get("tc1", 0) == 0:
            return [Out("TIMESYNC", {"tc1": int(now * 1e9), "ts1": f["ts1"]})]
        return []

    def command(self, cmd: int, p: list[float], sender: tuple[int, int], now: float) -> list[Out]:
        """COMMAND_LONG / COMMAND_INT: act, and always answer with COMMAND_ACK."""
        handler = COMMANDS.get(cmd)
        if handler is None:
            return [ack(cmd, UNSUPPORTED, sender)]
        result, extra = handler(self, p, now)
        return [*extra, ack(cmd, result, sender)]

    def _params(self, name: str, f: dict[str, Any]) -> list[Out]:
        if name == "PARAM_REQUEST_LIST":
            return [Out("PARAM_VALUE", self.params.value_fields(n)) for n in self.params.names]
        pid = f.get("param_id", "")
        pid = pid.decode(errors="ignore") if isinstance(pid, bytes) else str(pid)
        pid = pid.rstrip("\x00")
        if name == "PARAM_REQUEST_READ":
            idx = int(f.get("param_index", -1))
            if 0 <= idx < len(self.params.names):
                pid = self.params.names[idx]
            return [Out("PARAM_VALUE", self.params.value_fields(pid))] if pid in self.params.values else []
        if pid not in self.params.values:
            return []  # ArduPilot: unknown parameters get no reply
        self.params.set(pid, float(f["param_value"]))
        return [Out("PARAM_VALUE", self.params.value_fields(pid))]

    def _position_target(self, f: dict[str, Any]) -> list[Out]:
        if self.mode is not Mode.GUIDED or not self.armed:
            return []
        ignore_pos = int(f.get("type_mask", 0)) & 0b111 == 0b111
        if ignore_pos:
            return []
        x, y = self.xy_of(f["lon_int"] / 1e7, f["lat_int"] / 1e7)
        alt = float(f["alt"]) - (self.home_amsl if int(f.get("coordinate_frame", 6)) in (0, 5) else 0.0)
        self.guided = (x, y, alt)
        return []

    # ---- modes and arming -----------------------------------------------------------

    def set_mode(self, mode_number: int, now: float) -> bool:
        try:
            mode = Mode(mode_number)
        except ValueError:
            return False
        if mode not in SUPPORTED:
            return False
        if self.motor_failed and mode is not Mode.LAND:
            return False
        if mode in POSITION_MODES and not self.gps_ok:
            return False
        self.mode = mode
        self.guided = None
        self.hold_here()
        if mode is Mode.RTL:
            self.rtl.begin(self)
        elif mode is Mode.AUTO and self.armed:
            self._pending.extend(self.runner.start(self, now))
        elif mode is Mode.LAND:
            self.hold = (self.body.x, self.body.y, 0.0)
        return True

    def arm(self, now: float, force: bool = False) -> tuple[int, list[Out]]:
        if self.armed:
            return ACCEPTED, []
        if self.mode is Mode.AUTO and self.missions.count <= 1:
            return FAILED, [statustext(CRITICAL, "Arm: Mode requires mission")]
        if self.mode in (Mode.BRAKE, Mode.RTL, Mode.LAND):
            return FAILED, [statustext(CRITICAL, "Arm: Mode not armable")]
        failures = [] if force else self.prearm_failures()
        if failures:
            return FAILED, [statustext(CRITICAL, failures[0])]
        self.rehome()
        self.armed, self.armed_at, self.landed_flag, self.flew_since_arm = True, now, False, False
        self.batt_low = self.batt_crit = self.fence_breached = self.ekf_failsafe = False
        self.hold_here()
        out = [statustext(INFO, "Arming motors")]
        if self.mode is Mode.AUTO:
            out += self.runner.start(self, now, first=1)
        return ACCEPTED, out

    def disarm(self, reason: str) -> list[Out]:
        if not self.armed:
            return []
        self.armed = False
        self.guided = None
        return [statustext(INFO, f"Disarming motors ({reason})")]

    def _mission_changed(self) -> None:
        self.runner.reset()
        self.params.values["MIS_TOTAL"] = float(self.missions.count)

    # ---- stepping -------------------------------------------------------------------

    def step(self, dt: float, now: float, wind: tuple[float, float]) -> list[Out]:
        """Advance dt seconds; returns what the vehicle sends by itself."""
        out, self._pending = self._pending, []
        self.t += dt
        out += self._failsafes(now)
        setpoint = self._setpoint(now, out)
        want_v, want_yaw = self._guidance(setpoint)
        self.body.step(dt, want_v, want_yaw, wind, self.armed, self.model.power)
        out += self._terrain_contact()
        out += self._after_move(setpoint)
        out += self.missions.tick(now)
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + 1.0
            out.append(build(self, "HEARTBEAT", now))
        for name in self.streams.due(now):
            out.append(build(self, name, now))
        return out

    def _setpoint(self, now: float, out: list[Out]) -> tuple[float, float, float] | None:
        b = self.body
        if not self.armed:
            if self.in_auto and self.runner.state == MISSION_STATE_ACTIVE and self.landed_flag:
                _, msgs = self.runner.step(self, now)
                out += msgs
            return None
        if self.mode is Mode.AUTO:
            sp, msgs = self.runner.step(self, now)
            out += msgs
            return sp or self.hold
        if self.mode is Mode.RTL:
            sp, _ = self.rtl.step(self, now)
            return sp or (b.x, b.y, 0.0)
        if self.mode is Mode.GUIDED:
            return self.guided or self.hold
        if self.mode is Mode.LAND:
            return (self.hold[0], self.hold[1], 0.0)
        return self.hold

    def _guidance(self, sp: tuple[float, float, float] | None) -> tuple[tuple[float, float, float], float | None]:
        b = self.body
        if sp is None or not self.armed:
            return (0.0, 0.0, 0.0), None
        if self.motor_failed:
            return (0.0, 0.0, -3.0), None
        dx, dy = sp[0] - b.x, sp[1] - b.y
        dist = math.hypot(dx, dy)
        speed = min(self.cruise_speed(), math.sqrt(2 * 2.0 * dist))
        if self.mode is Mode.RTL and self.params.values["RTL_SPEED"] > 0:
            speed = min(speed, self.params.values["RTL_SPEED"] / 100.0)
        vx, vy = (dx / dist * speed, dy / dist * speed) if dist > 0.05 else (0.0, 0.0)
        up, down = self.params.values["WPNAV_SPEED_UP"] / 100, self.params.values["WPNAV_SPEED_DN"] / 100
        if sp[2] <= 0.0:
            if dist > 2.0:
                vz = 0.0  # get over the landing point first
            elif b.alt > 10.0:
                vz = -((self.params.values["LAND_SPEED_HIGH"] or self.params.values["WPNAV_SPEED_DN"]) / 100)
            else:
                vz = -self.params.values["LAND_SPEED"] / 100
        elif dist > 0.5 and self.mode is Mode.AUTO:
            # AC_WPNav flies the straight line to a mission's waypoint in three dimensions:
            # height changes in step with the distance flown, and where the climb or
            # descent cannot keep up at full speed, it flies slower across. (GUIDED targets
            # keep the simpler climb-while-moving.)
            dz = sp[2] - b.alt
            rate = up if dz > 0 else down
            needed = dz * speed / dist
            if abs(needed) > rate:
                speed *= rate / abs(needed)
                vx, vy = dx / dist * speed, dy / dist * speed
                needed = math.copysign(rate, dz)
            vz = needed
        else:
            vz = max(-down, min(up, (sp[2] - b.alt) * 1.0))
        yaw: float | None = None
        if self.roi is not None:
            yaw = math.degrees(math.atan2(self.roi[0] - b.x, self.roi[1] - b.y)) % 360
        elif dist > 3.0:
            yaw = math.degrees(math.atan2(dx, dy)) % 360
        return (vx, vy, vz), yaw

    def _after_move(self, sp: tuple[float, float, float] | None) -> list[Out]:
        b = self.body
        out: list[Out] = []
        if self.roi is not None:
            d = math.hypot(self.roi[0] - b.x, self.roi[1] - b.y)
            self.gimbal_pitch = -math.degrees(math.atan2(max(b.alt, 0.1), max(d, 0.1)))
        if not self.armed:
            return out
        if b.alt > 0.3:
            self.flew_since_arm = True
        # The land detector disarms a drone that has come down; one armed on the pad and
        # waiting for its take-off command is the disarm delay's business, not this.
        landing = sp is not None and sp[2] <= 0.0 and self.flew_since_arm
        if (landing or self.motor_failed) and b.on_ground and self.t - self.armed_at > 2.0:
            out += self.disarm("landed")
            self.landed_flag = True
            if self.in_auto and self.runner.state == MISSION_STATE_ACTIVE:
                out += self.runner.step(self, self.t)[1]  # report the landing item done at once
            return out
        delay = self.params.values["DISARM_DELAY"]
        took_off = b.alt > 0.3 or (sp is not None and sp[2] > 0.3)
        if delay > 0 and b.on_ground and not took_off and self.t - self.armed_at > delay:
            out += self.disarm("disarm delay")
        return out

    # ---- failsafes ------------------------------------------------------------------

    def _failsafes(self, now: float) -> list[Out]:
        out: list[Out] = []
        if not self.airborne:
            return out
        p = self.params.values
        mah = self.body.soc * p["BATT_CAPACITY"]
        if not self.batt_crit and p["BATT_CRT_MAH"] > 0 and mah < p["BATT_CRT_MAH"]:
            self.batt_crit = self.batt_low = True
            out.append(statustext(CRITICAL, "Battery 1 is critical"))
            out += self._failsafe_action(int(p["BATT_FS_CRT_ACT"]), "Battery failsafe", now)
        elif not self.batt_low and p["BATT_LOW_MAH"] > 0 and mah < p["BATT_LOW_MAH"]:
            self.batt_low = True
            out.append(statustext(WARNING, "Battery 1 is low"))
            out += self._failsafe_action(int(p["BATT_FS_LOW_ACT"]), "Battery failsafe", now)
        enable = int(p["FS_GCS_ENABLE"])
        if enable and self.gcs_seen and not self.gcs_failsafe and now - self.gcs_last > p["FS_GCS_TIMEOUT"]:
            self.gcs_failsafe = True
            out.append(statustext(CRITICAL, "GCS Failsafe"))
            if not (enable == 2 and self.in_auto):
                out += self._failsafe_action({1: 2, 2: 2, 3: 3, 4: 4, 5: 1}.get(enable, 2), "GCS failsafe", now)
        out += self._fence(now)
        if not self.gps_ok:
            self.gps_lost_since = self.gps_lost_since if self.gps_lost_since is not None else now
            if not self.ekf_failsafe and now - self.gps_lost_since > GPS_LOSS_TO_EKF_FAILSAFE_S:
                self.ekf_failsafe = True
                out.append(statustext(CRITICAL, "EKF Failsafe: changed to LAND Mode"))
                self._force_mode(Mode.LAND, now)
        else:
            self.gps_lost_since = None
        return out

    def _fence(self, now: float) -> list[Out]:
        p = self.params.values
        if not p["FENCE_ENABLE"]:
            return []
        kind = int(p["FENCE_TYPE"])
        b = self.body
        over_alt = bool(kind & 1) and b.alt > p["FENCE_ALT_MAX"]
        too_far = bool(kind & 2) and math.hypot(b.x, b.y) > p["FENCE_RADIUS"]
        if not (over_alt or too_far):
            margin = p["FENCE_MARGIN"]
            if (
                self.fence_breached
                and b.alt < p["FENCE_ALT_MAX"] - margin
                and math.hypot(b.x, b.y) < p["FENCE_RADIUS"] - margin
            ):
                self.fence_breached = False
            return []
        if self.fence_breached:
            return []
        self.fence_breached = True
        out = [statustext(CRITICAL, "Fence Breached: " + ("Max Alt" if over_alt else "Circle"))]
        action = int(p["FENCE_ACTION"])
        if action:
            out += self._failsafe_action({1: 2, 2: 1, 3: 2, 4: 1, 5: 2}.get(action, 2), "Fence", now)
        return out

    def _failsafe_action(self, action: int, why: str, now: float) -> list[Out]:
        """BATT_FS_*_ACT semantics: 0 none, 1 land, 2 RTL, 3 SmartRTL/RTL, 4 SmartRTL/land, 5 terminate."""
        if action == 0:
            return []
        if action == 5:
            return self.disarm(f"{why}: terminate")
        mode = Mode.LAND if action in (1, 4) else Mode.RTL
        if self.mode is mode or (self.mode is Mode.LAND and mode is Mode.RTL):
            return []
        self._force_mode(mode, now)
        return [statustext(WARNING, f"{why}: {mode.name}")]

    def _force_mode(self, mode: Mode, now: float) -> None:
        self.mode = mode
        self.hold_here()
        if mode is Mode.RTL:
            self.rtl.begin(self)
        elif mode is Mode.LAND:
            self.hold = (self.body.x, self.body.y, 0.0)

    # ---- terrain --------------------------------------------------------------------

    PAD_RADIUS_M = 30.0
    """Round home the pad (possibly on a roof, above the terrain model) is the ground."""

    def terrain_clearance(self) -> float | None:
        """Metres between the drone and the ground under it (None with no terrain model)."""
        if self.ground is None:
            return None
        g = self.ground.height(self.district_xy())
        return None if math.isnan(g) else self.body.alt + self.home_amsl - g

    def _terrain_contact(self) -> list[Out]:
        """A drone below the ground has flown into it: ArduCopter's crash check disarms
        it (motors stop, "Crash: Disarming"), and here it stays where it fell, lost."""
        b = self.body
        if not self.armed or self.crashed_at is not None or math.hypot(b.x, b.y) < self.PAD_RADIUS_M:
            return []
        clearance = self.terrain_clearance()
        if clearance is None or clearance >= 0.0:
            return []
        b.alt -= clearance  # on the ground, not in it
        b.vx = b.vy = b.vz = 0.0
        self.crashed_at = self.lonlat()
        out = [statustext(EMERGENCY, "Crash: Disarming")]
        out += self.disarm("crash")
        return out

    # ---- faults ---------------------------------------------------------------------

    def fail_motor(self) -> list[Out]:
        self.motor_failed = True
        self._force_mode(Mode.LAND, 0.0)
        return [statustext(CRITICAL, "Motor failure: forced landing")]
