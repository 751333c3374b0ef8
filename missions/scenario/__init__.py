"""Scenarios: the district, its airports, airspace, patrols and weather, from files.

A scenario is a folder a user can copy and edit: `scenario.yaml` names everything and
points at GeoJSON files for the district outline, the airspace zones and the patrols,
and at `weather.yaml`. `load_scenario` validates it all and compiles it into runtime
objects in a local metric frame; every problem is reported as a ScenarioError naming
the file, the item and the reason.
"""

from missions.scenario.loader import BUILTIN_SCENARIO, load_scenario
from missions.scenario.model import Scenario

__all__ = ["BUILTIN_SCENARIO", "Scenario", "load_scenario"]
