"""Run every bench/<area>.py and write docs/benchmarks.md from their last-line JSON.

Each area's script prints readable lines and then one JSON object as its last line; this
runner keeps both: the JSON as a table of figures, the lines as the run's log.
`python bench/run_all.py alerts vision` runs only those areas and keeps the other
sections of docs/benchmarks.md as they were. Every figure with a target is marked met or
MISSED; a missed target makes the run exit non-zero (the page is written all the same).
"""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = {"run_all.py", "cityscale.py", "exact_assignment.py"}

TARGETS = {
    "planner": {
        "plan24h_s": "< 3 s",
        "min_clearance_m": ">= 30",
        "max_agl_m": "<= 120",
        "terrain_breaches": "0",
        "city_s": "< 60 s",
        "dispatch_ms": "< 10 ms",
        "gap_vs_optimum": "<= 0.05",
        "reach_5min_share": ">= 0.95",
    },
    "sim": {"speedup_8": ">= 30", "speedup_100": ">= 10"},
    "render": {"fps_640x360": ">= 60"},
    "orchestrator": {"upload100_loss5_s": "< 3 s", "loop_lag_p99_ms_100": "< 50 ms"},
    "alerts": {
        "alert_to_takeoff_cmd_s": "< 1 s (wall)",
        "burst_alert_to_takeoff_cmd_s": "< 1 s (wall)",
        "on_scene_p95_s": "<= 300 s (simulated)",
    },
    "dashboard": {"load_to_ready_ms": "< 2000 ms", "incident_push_ms": "< 1000 ms"},
    "faults": {"invariants_broken": "0", "api_5xx": "0"},
    "vision": {
        "speedup_640": ">= 2",
        "speedup_320": ">= 2",
        "agree_640": "1.0 (identical fp32)",
        "agree_320": "1.0 (identical fp32)",
        "speedup_int8_640": ">= 3",
        "speedup_int8_320": ">= 3",
        "map50_int8_loss_points": "<= 1",
        "streams8_fps_each": ">= 2",
        "capture_to_finding_p95_s": "< 1 s",
    },
}


_TARGET = re.compile(r"^\s*(<=|>=|<|>|==)?\s*(-?[0-9]+(?:\.[0-9]+)?)")


def meets(value: object, target: str) -> bool | None:
    """Whether a figure meets its target (`< 2 s`, `>= 30`, `1.0 (identical)`: a bare
    number is an equality); None when either is not a number to compare."""
    m = _TARGET.match(target)
    if m is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    op, bound = m.group(1) or "==", float(m.group(2))
    v = float(value)
    return {
        "<": v < bound,
        "<=": v <= bound,
        ">": v > bound,
        ">=": v >= bound,
        "==": abs(v - bound) <= 1e-9 * max(1.0, abs(bound)),
    }[op]


def _verdict(value: object, target: str) -> str:
    ok = meets(value, target) if target else None
    return "" if ok is None else ("met" if ok else "**MISSED**")


def _previous(path: Path) -> dict[str, str]:
    """The sections of an earlier docs/benchmarks.md, by area."""
    if not path.is_file():
        return {}
    out: dict[str, str] = {}
    for chunk in path.read_text(encoding="utf-8").split("\n## ")[1:]:
        area = chunk.split("\n", 1)[0].strip()
        out[area] = "## " + chunk.rstrip() + "\n"
    return out


def main(only: list[str]) -> int:
    target = ROOT / "docs" / "benchmarks.md"
    kept = _previous(target) if only else {}
    scripts = sorted(p for p in (ROOT / "bench").glob("*.py") if p.name not in SKIP)
    unknown = set(only) - {p.stem for p in scripts}
    if unknown:
        print(f"no benchmark for {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    sections = []
    failed = False
    missed: list[str] = []
    for script in scripts:
        if only and script.stem not in only:
            if script.stem in kept:
                sections.append(kept[script.stem])
            continue
        area = script.stem
        print(f"== {area}", flush=True)
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT, check=False)
        sys.stdout.write(proc.stdout)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            failed = True
            sections.append(f"## {area}\n\nFailed (exit {proc.returncode}).\n")
            continue
        lines = proc.stdout.strip().splitlines()
        try:
            figures = json.loads(lines[-1])
        except (IndexError, json.JSONDecodeError):
            failed = True
            sections.append(f"## {area}\n\nNo figures: its last line was not JSON.\n")
            continue
        targets = TARGETS.get(area, {})
        images = figures.pop("images", [])
        rows = "\n".join(
            f"| `{k}` | {v} | {targets.get(k, '')} | {_verdict(v, targets.get(k, ''))} |" for k, v in figures.items()
        )
        missed_here = [k for k, v in figures.items() if meets(v, targets.get(k, "")) is False]
        for k in missed_here:
            print(f"MISSED {area}.{k}: {figures[k]} (target {targets[k]})", flush=True)
        missed += missed_here
        log = "\n".join(lines[:-1])
        pictures = "".join(f"![{area}]({path})\n\n" for path in images)
        sections.append(
            f"## {area}\n\n`python bench/{script.name}`\n\n| figure | value | target | |\n|---|---|---|---|\n{rows}\n\n"
            f"{pictures}```\n{log}\n```\n"
        )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = (
        "# Benchmarks\n\nWritten by `make bench` (bench/run_all.py); each figure comes from the script named in "
        f"its section, run on {platform.machine()} with Python {platform.python_version()}, "
        f"{stamp}. Numbers are from one run on a 2-core machine; compare ratios, not absolutes.\n\n"
    )
    if only:
        header = header.replace(f"{stamp}.", f"{stamp} ({', '.join(only)}; the other sections from an earlier run).")
    (ROOT / "docs").mkdir(exist_ok=True)
    target.write_text(header + "\n".join(sections), encoding="utf-8")
    if missed:
        print(f"{len(missed)} target(s) missed: {', '.join(missed)}", file=sys.stderr)
    return 1 if failed or missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
