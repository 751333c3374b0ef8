"""Faults a test or an operator injects into the simulated district, and when they clear.

Vehicle faults: link_loss, packet_loss (value = share lost), gps_loss, battery_sag
(value = Wh lost at once), motor_failure (forced landing), gust (value = extra wind,
m/s, from the wind's direction). Dock faults: lid_jam, charger_fault, power_loss.
A duration makes a fault clear itself; value 0 clears it at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from missions.vocabulary import DOCK_FAULTS, SIM_FAULTS, VEHICLE_FAULTS

ALL_FAULTS = SIM_FAULTS
__all__ = ["ALL_FAULTS", "DOCK_FAULTS", "VEHICLE_FAULTS", "ActiveFault", "FaultError"]


class FaultError(ValueError):
    """An unknown fault or airport."""


@dataclass
class ActiveFault:
    airport: str
    fault: str
    value: float
    clears_at: float | None
    """Sim seconds since start; None = until cleared."""
