"""The exact optimum of an assignment instance, by OR-Tools CP-SAT (benchmarks only).

Same model as missions.assignment: each job takes at most one option (an airport, or a
pair for an exchange), starts between its release and latest start, occupies its docks
for the option's busy time; a dock runs one job at a time. Cost (60 x the planner's
minutes): weight x (delay + span) + flight time, plus the unscheduled penalty per weight.
"""

from __future__ import annotations

from collections.abc import Sequence

from ortools.sat.python import cp_model

from missions.assignment import UNSCHEDULED_PENALTY, Job


def optimum(jobs: Sequence[Job], airports: Sequence[str], time_limit_s: float = 30.0) -> tuple[float, bool]:
    """(optimal cost in the planner's units, proven optimal?)."""
    m = cp_model.CpModel()
    horizon = max(j.deadline_s for j in jobs) + max(o.busy_s for j in jobs for o in j.options) + 1
    per_airport: dict[str, list[cp_model.IntervalVar]] = {a: [] for a in airports}
    terms = []
    for j in jobs:
        w = int(j.weight)
        assert w == j.weight, "integer weights"
        present = []
        for k, o in enumerate(j.options):
            p = m.new_bool_var(f"{j.key}_{k}")
            s = m.new_int_var(j.release_s, j.deadline_s, f"s_{j.key}_{k}")
            m.add(s == j.release_s).only_enforce_if(~p)
            interval = m.new_optional_fixed_size_interval_var(s, o.busy_s, p, f"i_{j.key}_{k}")
            for dock in o.docks:
                per_airport[dock].append(interval)
            terms.append(w * (s - j.release_s))
            terms.append((o.flight_s + w * o.span) * p)
            present.append(p)
        m.add(sum(present) <= 1)
        penalty = int(UNSCHEDULED_PENALTY * 60 * w)
        terms.append(penalty * (1 - sum(present)))
    for intervals in per_airport.values():
        m.add_no_overlap(intervals)
    del horizon
    m.minimize(sum(terms))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = 2
    status = solver.solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise RuntimeError("CP-SAT found no solution")
    return solver.objective_value / 60.0, status == cp_model.OPTIMAL
