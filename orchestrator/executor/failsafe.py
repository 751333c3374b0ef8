"""The failsafe parameters every drone must hold before it flies for us, set and read back.

A dock drone that loses its ground station, runs low, or touches the geofence must act
on its own: return home on a lost link (FS_GCS_*), return on a low battery and land on a
critical one (BATT_FS_*), and keep inside the 120 m ceiling and its radius (FENCE_*).
Each value is written with PARAM_SET and verified from the PARAM_VALUE echo; a drone
that does not hold them does not launch.
"""

from __future__ import annotations

import math

from orchestrator.links.mavlink_link import LinkError, MavlinkLink

RTL_ACTION = 1
"""FS_GCS_ENABLE: return to launch."""
BATT_RTL, BATT_LAND = 2, 1


class FailsafeMismatch(LinkError):
    pass


def failsafe_params(
    gcs_timeout_s: float = 5.0, ceiling_m: float = 120.0, radius_m: float = 8000.0, disarm_delay_s: float = 10.0
) -> dict[str, float]:
    """The set for one drone. `disarm_delay_s` (armed on the ground without taking off)
    belongs here too: a simulator at a speed-up needs it longer, like the GCS timeout."""
    return {
        "DISARM_DELAY": disarm_delay_s,
        "FS_GCS_ENABLE": RTL_ACTION,
        "FS_GCS_TIMEOUT": gcs_timeout_s,
        "BATT_FS_LOW_ACT": BATT_RTL,
        "BATT_FS_CRT_ACT": BATT_LAND,
        "FENCE_ENABLE": 1,
        "FENCE_ALT_MAX": ceiling_m,
        "FENCE_RADIUS": radius_m,
    }


async def ensure_failsafes(link: MavlinkLink, params: dict[str, float]) -> None:
    """Write each parameter and check the vehicle's echo; FailsafeMismatch names the first
    one it would not take."""
    for name, want in params.items():
        got = await link.set_param(name, want)
        if not math.isclose(got, want, rel_tol=1e-4, abs_tol=1e-3):
            raise FailsafeMismatch(f"failsafe {name} reads {got:g}, expected {want:g}")
