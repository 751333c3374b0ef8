"""The dock's pure core: lid, pad, charger, weather station and faults.

Services (open/close lid, start/stop charging, reboot) are requests that succeed or are
refused with a reason, as a real dock's cloud API answers. The lid refuses to open in
wind above the dock's limit, in heavy rain, with a jam or without power. The charger
follows the dock model's charge curve and needs the lid closed and the drone on the pad.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from missions.fleet import DockModel, DroneModel
from missions.vocabulary import DockEvent, DockFault, DockOsd, DockService, LidState
from missions.weather import WeatherSample

LID_TRAVEL_S = 15.0
"""Time to open or close the lid."""
REBOOT_S = 60.0


@dataclass
class Dock:
    """One dock's state. The world sets `drone_on_pad` and reads/writes the drone's energy."""

    airport: str
    model: DockModel
    drone: DroneModel
    lid: LidState = LidState.CLOSED
    lid_moving_s: float = 0.0
    drone_on_pad: bool = True
    charging: bool = False
    charge_wanted: bool = True
    faults: set[DockFault] = field(default_factory=set)
    rebooting_s: float = 0.0
    weather: WeatherSample | None = None
    events: list[DockEvent] = field(default_factory=list)
    changed: bool = True

    @property
    def powered(self) -> bool:
        return DockFault.POWER_LOSS not in self.faults and self.rebooting_s <= 0

    def _event(self, now: datetime, event: str, detail: str = "") -> None:
        self.events.append(DockEvent(self.airport, now.isoformat(), event, detail))
        self.changed = True

    def service(self, name: str, now: datetime) -> tuple[bool, str]:
        """Carry out a service request: (accepted, reason if refused)."""
        try:
            svc = DockService(name)
        except ValueError:
            return False, f"unknown service '{name}'"
        if not self.powered:
            return False, "dock has no power" if DockFault.POWER_LOSS in self.faults else "dock is rebooting"
        if svc is DockService.OPEN_LID:
            return self._open(now)
        if svc is DockService.CLOSE_LID:
            if DockFault.LID_JAM in self.faults:
                return False, "lid jammed"
            if self.lid in (LidState.CLOSED, LidState.CLOSING):
                return True, ""
            self.lid, self.lid_moving_s = LidState.CLOSING, LID_TRAVEL_S
            self._event(now, "lid_closing")
            return True, ""
        if svc is DockService.START_CHARGE:
            if DockFault.CHARGER in self.faults:
                return False, "charger fault"
            if not self.drone_on_pad:
                return False, "no drone on the pad"
            self.charge_wanted = True
            return True, ""
        if svc is DockService.STOP_CHARGE:
            self.charge_wanted = False
            return True, ""
        if self.drone_on_pad is False and self.lid is LidState.OPEN:
            return False, "drone is out: reboot refused"
        self.rebooting_s = REBOOT_S
        self._event(now, "rebooting")
        return True, ""

    def _open(self, now: datetime) -> tuple[bool, str]:
        if self.lid in (LidState.OPEN, LidState.OPENING):
            return True, ""
        if DockFault.LID_JAM in self.faults or self.lid is LidState.JAMMED:
            return False, "lid jammed"
        w = self.weather
        if w is not None:
            if w.wind_ms > self.model.max_wind_ms:
                return False, f"wind {w.wind_ms:.1f} m/s above the dock's {self.model.max_wind_ms:.0f} m/s limit"
            if w.rain_mm_h > self.drone.max_rain_mm_h:
                return False, f"rain {w.rain_mm_h:.0f} mm/h above the {self.drone.max_rain_mm_h:.0f} mm/h limit"
        self.lid, self.lid_moving_s = LidState.OPENING, LID_TRAVEL_S
        self.charging = False
        self._event(now, "lid_opening")
        return True, ""

    def step(self, dt: float, now: datetime, weather: WeatherSample, soc: float) -> float:
        """Advance; returns the energy (Wh) the charger put into the drone."""
        if self.weather is None or (weather.wind_ms, weather.rain_mm_h) != (
            self.weather.wind_ms,
            self.weather.rain_mm_h,
        ):
            self.changed = True
        self.weather = weather
        if self.rebooting_s > 0:
            self.rebooting_s -= dt
            if self.rebooting_s <= 0:
                self._event(now, "rebooted")
            return 0.0
        if not self.powered:
            if self.charging:
                self.charging = False
                self._event(now, "charge_stopped", "power loss")
            return 0.0
        if self.lid_moving_s > 0:
            if DockFault.LID_JAM in self.faults:
                self.lid, self.lid_moving_s = LidState.JAMMED, 0.0
                self._event(now, "lid_jammed")
            else:
                self.lid_moving_s -= dt
                if self.lid_moving_s <= 0:
                    self.lid = LidState.OPEN if self.lid is LidState.OPENING else LidState.CLOSED
                    self._event(now, "lid_opened" if self.lid is LidState.OPEN else "lid_closed")
        can_charge = (
            self.charge_wanted
            and self.drone_on_pad
            and self.lid is LidState.CLOSED
            and DockFault.CHARGER not in self.faults
            and soc < 1.0
        )
        if can_charge != self.charging:
            self.charging = can_charge
            self._event(
                now,
                "charge_started" if can_charge else "charge_stopped",
                "charger fault" if DockFault.CHARGER in self.faults else "",
            )
        if not self.charging:
            return 0.0
        target = self.model.charge.soc_after(soc, dt / 60.0)
        if target >= 1.0:
            self._event(now, "charge_complete")
        return (target - soc) * self.drone.battery_wh

    def set_fault(self, fault: DockFault, on: bool, now: datetime) -> None:
        if on and fault not in self.faults:
            self.faults.add(fault)
            self._event(now, "fault", str(fault))
        elif not on and fault in self.faults:
            self.faults.discard(fault)
            if fault is DockFault.LID_JAM and self.lid is LidState.JAMMED:
                self.lid = LidState.OPEN
            self._event(now, "fault_cleared", str(fault))

    def osd(self, now: datetime, soc: float) -> DockOsd:
        w = self.weather
        reading = (
            {
                "wind_ms": round(w.wind_ms, 1),
                "wind_from_deg": round(w.wind_from_deg),
                "gust_ms": round(w.gust_ms, 1),
                "rain_mm_h": round(w.rain_mm_h, 1),
                "temp_c": round(w.temp_c, 1),
            }
            if w
            else {}
        )
        return DockOsd(
            self.airport,
            now.isoformat(),
            str(self.lid),
            self.drone_on_pad,
            self.charging,
            round(soc, 4),
            reading,
            sorted(str(f) for f in self.faults),
            self.powered,
        )

    def take_events(self) -> list[DockEvent]:
        ev, self.events = self.events, []
        return ev
