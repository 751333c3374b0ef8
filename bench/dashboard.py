"""Dashboard benchmark: the watch centre's page in Debian's Chromium (Playwright) against
the simulated district (8 airports, 20x, drones flying the 10:00 wave).

- load_to_ready_ms: navigation to the page signed in and filled (map, airports, schedule,
  incidents, alerts, drones), median of 5 loads;
- incident_push_ms: a finding published on MQTT until its incident's row is on the page
  (server-sent events), median of 5; baseline incident_poll_ms: the same on a page whose
  server-sent events are switched off, left to its 10 s polling (push_vs_poll = push / poll);
- drones_api_ms: GET /api/v1/drones (what the map polls every second), median of 50;
- map_geojson_kb: the district's layers as the page loads them.

Last line: one JSON object.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import httpx  # noqa: E402

from missions.bus_access import BrokerAddress, BusRole  # noqa: E402
from missions.scenario import load_scenario  # noqa: E402
from orchestrator.bus.findings import FindingPublisher  # noqa: E402
from tests.apiserver import auth, token  # noqa: E402
from tests.district import DistrictThread  # noqa: E402
from tests.services import CHROMIUM_ARGS, chromium_path  # noqa: E402
from tests.test_incidents import _report  # noqa: E402


async def publish(url: BrokerAddress, report: object) -> None:
    pub = FindingPublisher(url, identifier="bench-dashboard")
    await pub.start()
    await pub.publish(report)  # type: ignore[arg-type]
    await pub.stop()


def main() -> None:
    from playwright.sync_api import sync_playwright

    scenario = load_scenario()
    start = scenario.day_start().replace(hour=9, minute=58)
    with tempfile.TemporaryDirectory() as tmp, DistrictThread(scenario, start, 20, Path(tmp)) as district:
        assert district.district is not None
        with httpx.Client(base_url=district.url + "/api/v1", headers=auth("viewer")) as api:
            geo_kb = len(api.get("/map").content) / 1024
            api_ms = []
            for _ in range(50):
                t0 = time.perf_counter()
                api.get("/drones").raise_for_status()
                api_ms.append((time.perf_counter() - t0) * 1000)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(district.url + "/")
            page.evaluate("t => sessionStorage.setItem('dronepatrol.token', t)", token("operator"))
            loads = []
            for _ in range(5):
                t0 = time.perf_counter()
                page.goto(district.url + "/")
                page.wait_for_selector("body[data-ready=true]", timeout=30_000)
                loads.append((time.perf_counter() - t0) * 1000)
            print(f"page loads (ms): {', '.join(f'{x:.0f}' for x in loads)}")
            page.click(".tab[data-tab=incidents]")
            pushes = []
            service = district.district.service
            for i in range(5):
                lat, lon = 22.52 + 0.01 * i, 113.93
                report = _report(f"bench-fire-{i}", lat, lon, 0.8, service.clock())
                t0 = time.perf_counter()
                district.call(publish(district.district.bus(BusRole.VISION), report))
                page.wait_for_selector(f".incident-row[data-id='inc.bench-fire-{i}']", timeout=15_000)
                pushes.append((time.perf_counter() - t0) * 1000)
            print(f"incident pushes (ms): {', '.join(f'{x:.0f}' for x in pushes)}")
            # The baseline: the same page without server-sent events, on its polling alone.
            polled_page = browser.new_page(viewport={"width": 1920, "height": 1080})
            polled_page.add_init_script("window.EventSource = class { addEventListener() {} close() {} };")
            polled_page.goto(district.url + "/")
            polled_page.evaluate("t => sessionStorage.setItem('dronepatrol.token', t)", token("operator"))
            polled_page.goto(district.url + "/")
            polled_page.wait_for_selector("body[data-ready=true]", timeout=30_000)
            polled_page.click(".tab[data-tab=incidents]")
            polls = []
            for i in range(5, 8):
                report = _report(f"bench-fire-{i}", 22.52 + 0.01 * i, 113.93, 0.8, service.clock())
                t0 = time.perf_counter()
                district.call(publish(district.district.bus(BusRole.VISION), report))
                polled_page.wait_for_selector(f".incident-row[data-id='inc.bench-fire-{i}']", timeout=30_000)
                polls.append((time.perf_counter() - t0) * 1000)
            print(f"incidents by polling alone (ms): {', '.join(f'{x:.0f}' for x in polls)}")
            browser.close()
    figures = {
        "load_to_ready_ms": round(statistics.median(loads)),
        "incident_push_ms": round(statistics.median(pushes)),
        "incident_poll_ms": round(statistics.median(polls)),
        "push_vs_poll": round(statistics.median(pushes) / statistics.median(polls), 3),
        "drones_api_ms": round(statistics.median(api_ms), 2),
        "map_geojson_kb": round(geo_kb, 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
