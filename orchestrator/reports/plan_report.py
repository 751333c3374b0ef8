"""The day's plan as an operator reads it (text) and as programs read it (JSON)."""

from __future__ import annotations

from typing import Any

from missions.planner import DayPlan, ScheduledSortie
from missions.scenario import Scenario


def _sortie_row(s: ScheduledSortie, scenario: Scenario) -> dict[str, Any]:
    pad = scenario.airports[s.airport_id].elevation_m
    return {
        "occurrence": s.occurrence,
        "patrol": s.patrol_id,
        "airport": s.airport_id,
        "sortie": s.sortie.number,
        "of": s.sortie.of,
        "launch": s.launch_at.isoformat(),
        "landed": s.landed_at.isoformat(),
        "ready": s.ready_at.isoformat(),
        "km": round(s.sortie.profile.distance_m / 1000, 2),
        "minutes": round(s.sortie.duration_s / 60, 1),
        "battery_at_landing": round(s.sortie.land_soc, 3),
        "energy_wh": round(s.sortie.profile.total_wh, 1),
        "highest_amsl_m": round(max(w.alt_m for w in s.sortie.waypoints) + pad, 1),
        "work_share": [round(s.sortie.work_share[0], 3), round(s.sortie.work_share[1], 3)],
        "cause": s.cause,
    }


def terrain_json(scenario: Scenario) -> dict[str, Any]:
    """What the heights of a plan stand on: the terrain model, and whether it is approximate."""
    g = scenario.ground
    return {
        "source": g.label if g else "none: level ground at each pad",
        "approximate": g.approximate if g else True,
        "clearance_m": scenario.clearance_m,
        "ceiling_m": scenario.airspace.ceiling_m,
        "heights": "above mean sea level (MAVLink GLOBAL frame)",
    }


def terrain_line(scenario: Scenario) -> str:
    t = terrain_json(scenario)
    warn = "APPROXIMATE " if t["approximate"] else ""
    return f"Heights: {t['clearance_m']:.0f}-{t['ceiling_m']:.0f} m above the ground, over {warn}terrain: {t['source']}"


def plan_json(scenario: Scenario, plan: DayPlan) -> dict[str, Any]:
    return {
        "scenario": scenario.name,
        "terrain": terrain_json(scenario),
        "start": plan.start.isoformat(),
        "end": plan.end.isoformat(),
        "occurrences": plan.occurrences,
        "scheduled": len({s.occurrence for s in plan.sorties}),
        "cost": round(plan.cost, 2),
        "sorties": [_sortie_row(s, scenario) for s in plan.sorties],
        "unscheduled": [
            {
                "occurrence": u.occurrence,
                "patrol": u.patrol_id,
                "release": u.release.isoformat(),
                "reasons": list(u.reasons),
            }
            for u in plan.unscheduled
        ],
    }


def plan_text(scenario: Scenario, plan: DayPlan) -> str:
    lines: list[str] = []
    scheduled = len({s.occurrence for s in plan.sorties})
    lines.append(
        f"Plan for {scenario.name}: {plan.start:%Y-%m-%d %H:%M} -> {plan.end:%Y-%m-%d %H:%M} ({plan.start:%z})"
    )
    lines.append(
        f"{plan.occurrences} patrol occurrences: {scheduled} scheduled in {len(plan.sorties)} sorties, "
        f"{len(plan.unscheduled)} not scheduled"
    )
    lines.append(terrain_line(scenario))
    by_airport = plan.by_airport()
    for aid, ap in scenario.airports.items():
        rows = by_airport.get(aid, [])
        air_h = sum(r.sortie.profile.airborne_s for r in rows) / 3600
        lines.append("")
        lines.append(f"{aid} - {ap.name}: {len(rows)} sorties, {air_h:.1f} h in the air")
        if not rows:
            lines.append("  (idle: on standby for alerts)")
            continue
        header = f"  {'launch':<6} {'landed':<6} {'patrol':<28} {'sortie':>6} {'km':>6} {'min':>5}"
        lines.append(header + f" {'battery at landing':>19}")
        for r in rows:
            lines.append(
                f"  {r.launch_at:%H:%M}  {r.landed_at:%H:%M}  {r.patrol_id:<28} {r.sortie.number:>3}/{r.sortie.of:<2}"
                f" {r.sortie.profile.distance_m / 1000:>6.1f} {r.sortie.duration_s / 60:>5.1f}"
                f" {r.sortie.land_soc:>18.0%}"
            )
    lines.append("")
    if plan.unscheduled:
        lines.append("Not scheduled:")
        for u in plan.unscheduled:
            lines.append(f"  {u.release:%H:%M} {u.patrol_id}:")
            for why in u.reasons:
                lines.append(f"      - {why}")
    else:
        lines.append("Every occurrence is scheduled.")
    return "\n".join(lines)
