"""The reach of the airports: a figure, a text summary, and a map a person can read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from missions.airspace import ZoneKind
from missions.reach import ReachMap
from missions.scenario import Scenario


def coverage_json(rm: ReachMap) -> dict[str, Any]:
    return {
        "minutes": rm.minutes,
        "share": round(rm.share, 4),
        "area_km2": round(rm.area_km2, 1),
        "cell_m": rm.cell_m,
        "thresholds": {str(m): round(rm.share_within(m), 4) for m in (2, 3, 4, 5, 6, 8, 10)},
        "first_to_arrive": {a: round(v, 4) for a, v in rm.per_airport().items()},
        "unreachable_share": round(float(np.mean(~np.isfinite(rm.eta_s))), 4),
    }


def coverage_text(scenario: Scenario, rm: ReachMap) -> str:
    lines = [
        f"{scenario.name}: {rm.share:.1%} of the operating area ({rm.share * rm.area_km2:.1f} of {rm.area_km2:.1f} km2)"
        f" is reached within {rm.minutes:g} min of an alert, dock launch included.",
        "  " + "   ".join(f"{m} min: {rm.share_within(m):.1%}" for m in (2, 3, 4, 5, 6, 8)),
        "First to arrive (share of the area reached within the limit):",
    ]
    for aid, share in sorted(rm.per_airport().items(), key=lambda kv: -kv[1]):
        lines.append(f"  {aid:<10} {share:6.1%}  {scenario.airports[aid].name}")
    late = rm.eta_s > rm.minutes * 60
    if late.any():
        worst = int(np.argmax(np.where(np.isfinite(rm.eta_s), rm.eta_s, -1)))
        lon, lat = scenario.frame.to_lonlat(*rm.xy[worst])
        lines.append(
            f"Not reached in time: {late.mean():.1%} of the area; the farthest reachable point "
            f"{lat:.4f}, {lon:.4f} (lat, lon) takes {rm.eta_s[worst] / 60:.1f} min."
        )
    return "\n".join(lines)


def _plot_geom(ax: Any, geom: Any, **kw: Any) -> None:
    polys = getattr(geom, "geoms", [geom])
    for poly in polys:
        if poly.geom_type != "Polygon":
            continue
        x, y = poly.exterior.xy
        ax.fill(np.asarray(x) / 1000, np.asarray(y) / 1000, **kw)


RELIEF_COLOUR = "#8d6e63"


def draw_relief(ax: Any, scenario: Scenario, step_m: float = 100.0) -> str | None:
    """The terrain's contour lines (km axes, local frame), each level labelled once; the
    legend's words for them (saying when the relief is approximate), or None on flat ground."""
    from missions.terrain import contour_lines_xy

    ground = scenario.ground
    if ground is None:
        return None
    levels = contour_lines_xy(ground, step_m)
    for level, segs in levels:
        major = level % 500 == 0
        for pts in segs:
            ax.plot(
                pts[:, 0] / 1000, pts[:, 1] / 1000, color=RELIEF_COLOUR, linewidth=1.1 if major else 0.6, zorder=2.5
            )
        longest = max(segs, key=len)
        x, y = longest[len(longest) // 2] / 1000
        ax.annotate(f"{level:.0f}", (x, y), fontsize=6, color=RELIEF_COLOUR, ha="center", va="center", zorder=2.6)
    if not levels:
        return None
    approximate = " (approximate)" if ground.approximate else ""
    return f"contours every {step_m:.0f} m{approximate}"


def coverage_png(scenario: Scenario, rm: ReachMap, out: Path) -> Path:
    """Draw the district, zones, airports and the arrival-time field; write a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fig, ax = plt.subplots(figsize=(10, 11), dpi=110)
    area = scenario.airspace.operating_area
    _plot_geom(ax, area, facecolor="#f2f2f2", edgecolor="#333333", linewidth=1.2, zorder=1)
    limits = [0, 2, 3, 4, rm.minutes, rm.minutes + 2, 60]
    limits = sorted(set(limits))
    cmap = ListedColormap(["#1a9850", "#66bd63", "#a6d96a", "#fee08b", "#f46d43", "#a50026"][: len(limits) - 1])
    norm = BoundaryNorm(limits, cmap.N)
    eta_min = np.where(np.isfinite(rm.eta_s), rm.eta_s / 60, 59)
    s = (rm.cell_m / 1000) ** 2 * 900
    sc = ax.scatter(
        rm.xy[:, 0] / 1000, rm.xy[:, 1] / 1000, c=eta_min, cmap=cmap, norm=norm, s=s, marker="s", linewidths=0, zorder=2
    )
    relief = draw_relief(ax, scenario)
    for z in scenario.airspace.zones:
        style = {"facecolor": "none", "linewidth": 1.0, "zorder": 3}
        if z.kind is ZoneKind.NO_FLY:
            style.update(edgecolor="#b2182b", hatch="xx" if not z.active else "..")
        else:
            style.update(edgecolor="#2166ac", linestyle="--")
        _plot_geom(ax, z.area.intersection(area.buffer(3000)), **style)
    for ap in scenario.airports.values():
        ax.plot(ap.xy[0] / 1000, ap.xy[1] / 1000, marker="^", color="black", markersize=10, zorder=5)
        ax.annotate(
            ap.id,
            (ap.xy[0] / 1000, ap.xy[1] / 1000),
            textcoords="offset points",
            xytext=(6, 6),
            fontsize=9,
            fontweight="bold",
            zorder=6,
        )
    cbar = fig.colorbar(sc, ax=ax, shrink=0.6, ticks=limits)
    cbar.set_label("minutes from alert to arrival (launch included)")
    ax.legend(
        handles=[
            Patch(facecolor="none", edgecolor="#b2182b", hatch="xx", label="no-fly zone"),
            Patch(facecolor="none", edgecolor="#b2182b", hatch="..", label="temporary no-fly"),
            Patch(facecolor="none", edgecolor="#2166ac", linestyle="--", label="approval required"),
            *([Line2D([], [], color=RELIEF_COLOUR, linewidth=0.9, label=relief)] if relief else []),
        ],
        loc="lower left",
        fontsize=8,
    )
    ax.set_title(f"{scenario.name}: {rm.share:.1%} reached within {rm.minutes:g} min")
    ax.set_xlabel("km east")
    ax.set_ylabel("km north")
    ax.set_aspect("equal")
    minx, miny, maxx, maxy = area.bounds
    ax.set_xlim(minx / 1000 - 1, maxx / 1000 + 1)
    ax.set_ylim(miny / 1000 - 1, maxy / 1000 + 1)
    ax.grid(True, linewidth=0.3, alpha=0.5)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return out
