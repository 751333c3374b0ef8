"""The watch centre's dashboard in a real browser (Debian's Chromium driven by Playwright)
against the simulated district: sign in, the 8 airports, a click on the map sends the
earliest drone, which takes off and moves on the map; an incident appears with its
evidence and is acknowledged; a viewer gets no command; the page holds at 1920x1080 and
1280x720. Screenshots go to test-artifacts/dashboard/ (or $DRONEPATROL_ARTIFACTS)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from missions.bus_access import BrokerAddress, BusRole
from missions.scenario import Scenario
from orchestrator.bus.findings import FindingPublisher
from tests.apiserver import auth, token
from tests.district import DistrictThread
from tests.services import CHROMIUM_ARGS, chromium_path
from tests.test_incidents import _report, _wait

pytestmark = pytest.mark.slow
SPOT = (22.5450, 113.9560)
"""Near Dashahe: yuehai's drone is the earliest there."""


@pytest.fixture(scope="module")
def artifacts() -> Path:
    root = Path(os.environ.get("DRONEPATROL_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))
    folder = root / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def district(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistrictThread]:
    start = scenario.day_start().replace(hour=11, minute=15)
    with DistrictThread(scenario, start, 20, tmp_path_factory.mktemp("dashboard"), video=True) as d:
        yield d


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _wait_js(page: Any, expression: str, timeout_ms: int = 30_000) -> None:
    """Wait until `expression` is true in the page. Playwright's wait_for_function compiles
    its predicate inside the page, which the dashboard's Content-Security-Policy (no eval)
    refuses, as it should: the test polls through evaluate instead, so the page is tested
    under the policy it is served with."""
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        if page.evaluate(f"() => Boolean({expression})"):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"not true within {timeout_ms} ms: {expression}")


def _sign_in(browser: Any, url: str, role: str, width: int = 1920, height: int = 1080, locale: str = "en-US") -> Any:
    page = browser.new_page(locale=locale, viewport={"width": width, "height": height})
    page.goto(url + "/")
    page.fill("#token", token(role))
    page.click("#login-button")
    page.wait_for_selector("body[data-ready=true]", timeout=20_000)
    return page


def test_an_operator_dispatches_from_the_map_watches_the_drone_and_acknowledges_an_incident(
    district: DistrictThread, browser: Any, artifacts: Path
) -> None:
    page = browser.new_page(locale="en-US", viewport={"width": 1920, "height": 1080})
    page.goto(district.url + "/")
    page.fill("#token", "not-a-token-at-all")
    page.click("#login-button")
    _wait_js(page, "document.querySelector('#login-error').textContent.length > 0")
    assert "unknown token" in page.inner_text("#login-error")
    page.screenshot(path=str(artifacts / "01-login.png"))
    page.close()

    page = browser.new_page(locale="en-US", viewport={"width": 1920, "height": 1080})
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    refused: list[str] = []  # what the Content-Security-Policy blocked of the page's own doing
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(district.url + "/")
    page.fill("#token", token("operator"))
    page.click("#login-button")
    page.wait_for_selector("body[data-ready=true]", timeout=20_000)
    assert "otto (operator)" in page.inner_text("#who")
    assert page.locator("path.airport-marker").count() == 8
    assert page.locator(".airport-card").count() == 8
    page.screenshot(path=str(artifacts / "02-district-1920x1080.png"))

    # A click on the map: the earliest drone goes.
    point = page.evaluate(
        "([lat, lon]) => { const p = dashboard.map.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
        list(SPOT),
    )
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + point[0], box["y"] + point[1])
    page.wait_for_selector(".dispatch-popup .dispatch-send")
    page.select_option(".dispatch-popup .dispatch-kind", "fire")
    page.screenshot(path=str(artifacts / "03-dispatch-popup.png"))
    page.click(".dispatch-popup .dispatch-send")
    _wait_js(page, "document.querySelector('#toast').textContent.includes('dispatched')", 10_000)
    assert "yuehai" in page.inner_text("#toast")

    # The drone takes off and moves on the map.
    where = "() => { const m = dashboard.markers.drones['yuehai']; const d = dashboard.state.drones['yuehai']; " \
        "return m && d ? [m.getLatLng().lat, m.getLatLng().lng, d.phase] : null; }"  # fmt: skip
    first = _wait(lambda: (w := page.evaluate(where)) and w[2] == "airborne" and w, 40)
    moved = _wait(lambda: (w := page.evaluate(where)) and abs(w[0] - first[0]) + abs(w[1] - first[1]) > 2e-4 and w)
    assert moved[2] in ("airborne", "returning")
    assert page.evaluate("dashboard.state.tracks['yuehai'].length") >= 2, "its track is drawn"
    page.screenshot(path=str(artifacts / "04-drone-moving.png"))

    # Live video of the drone, the detector's boxes drawn by the service.
    page.click(".airport-card[data-id=yuehai] .video-open")
    _wait_js(page, "document.querySelector('#video-img').naturalWidth > 0", 30_000)
    page.screenshot(path=str(artifacts / "05-video.png"))
    page.click("#video-close")

    # An incident appears with its image; the operator acknowledges it.
    assert district.district is not None
    service = district.district.service
    at = service.clock()
    district.call(_publish(district.district.bus(BusRole.VISION), _report("yuehai-fire-1", SPOT[0], SPOT[1], 0.8, at)))
    page.click(".tab[data-tab=incidents]")
    row = page.wait_for_selector(".incident-row[data-state=new]", timeout=15_000)
    row.click()
    _wait_js(page, "document.querySelector('#incident-detail img.evidence')?.naturalWidth > 0", 10_000)
    assert page.locator("#incident-detail button.step").count() == 4
    page.screenshot(path=str(artifacts / "06-incident.png"))
    page.click("#incident-detail button.step[data-state=acknowledged]")
    page.wait_for_selector(".incident-row[data-state=acknowledged]", timeout=10_000)
    with httpx.Client(base_url=district.url + "/api/v1", headers=auth("viewer")) as api:
        incident = api.get("/incidents").json()[0]
        assert incident["state"] == "acknowledged"
        detail = api.get(f"/incidents/{incident['id']}").json()
        assert detail["events"][-1]["actor"] == "otto"
        answered = [a for a in api.get("/alerts").json() if a["state"] in ("dispatched", "on_scene", "seen")]
        assert answered, api.get("/alerts").json()
        flown = api.get(f"/sorties/{answered[0]['sortie_id']}").json()
        lost = [t["reason"] for t in flown["transitions"] if "link lost" in t["reason"]]
        assert not lost, "watching the video must not starve the drone's link"
    page.screenshot(path=str(artifacts / "07-acknowledged.png"))

    page.click(".tab[data-tab=schedule]")
    assert page.locator(".timeline-row").count() == 8
    assert page.locator(".bar.alert").count() >= 1, "the alert's sortie on the timeline"
    page.screenshot(path=str(artifacts / "08-schedule.png"))
    page.close()
    outside = [u for u in requested if not u.startswith(district.url) and not u.startswith("data:")]
    assert not outside, f"the page fetched from elsewhere: {outside[:5]}"
    assert not refused, f"the dashboard breaks its own Content-Security-Policy: {refused[:3]}"


async def _publish(url: BrokerAddress, report: Any) -> None:
    pub = FindingPublisher(url, identifier="test-dashboard-vision")
    await pub.start()
    await pub.publish(report)
    await asyncio.sleep(0.1)
    await pub.stop()


def test_a_viewer_sees_everything_and_can_command_nothing(
    district: DistrictThread, browser: Any, artifacts: Path
) -> None:
    page = _sign_in(browser, district.url, "viewer")
    assert "vera (viewer)" in page.inner_text("#who")
    for tab in ("airports", "schedule", "incidents", "alerts"):
        page.click(f".tab[data-tab={tab}]")
        page.wait_for_timeout(300)
        assert page.locator("button.cmd").count() == 0, f"a command button in {tab}"
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(500)
    assert page.locator(".dispatch-popup").count() == 0, "no dispatch for a viewer"
    post = """async (t) => (await fetch('/api/v1/alerts', {method: 'POST',
        headers: {Authorization: 'Bearer ' + t, 'Content-Type': 'application/json'},
        body: JSON.stringify({kind: 'fire', lat: 22.54, lon: 113.95})})).status"""
    status = page.evaluate(post, token("viewer"))
    assert status == 403, "and the API refuses it anyway"
    page.screenshot(path=str(artifacts / "09-viewer.png"))
    page.close()


def test_the_page_holds_at_1280x720(district: DistrictThread, browser: Any, artifacts: Path) -> None:
    page = _sign_in(browser, district.url, "operator", 1280, 720)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280, "no sideways scrolling"
    map_box = page.locator("#map").bounding_box()
    aside = page.locator("aside").bounding_box()
    assert map_box["width"] >= 600 and map_box["height"] >= 500
    assert aside["x"] + aside["width"] <= 1280 and aside["height"] >= 500
    assert page.locator("path.airport-marker").count() == 8
    page.screenshot(path=str(artifacts / "10-district-1280x720.png"))
    page.close()


@pytest.mark.parametrize(
    ("path", "rendered"),
    [
        ("/api/v1/docs", "document.querySelectorAll('.opblock').length"),
        ("/api/v1/redoc", "document.querySelectorAll('li[data-item-id]').length"),
    ],
)
def test_the_api_docs_render_offline_under_the_pages_policy(
    district: DistrictThread, browser: Any, artifacts: Path, path: str, rendered: str
) -> None:
    """Swagger UI and ReDoc come from the service itself: the page lists every operation
    with nothing fetched from elsewhere and nothing refused by its Content-Security-Policy."""
    page = browser.new_page(locale="en-US", viewport={"width": 1280, "height": 900})
    requested: list[str] = []
    refused: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(district.url + path)
    operations = len(httpx.get(district.url + "/api/v1/openapi.json").json()["paths"])
    _wait_js(page, f"{rendered} >= {operations}")
    page.screenshot(path=str(artifacts / f"api{path.rsplit('/', 1)[-1]}.png"))
    page.close()
    outside = [u for u in requested if not u.startswith(district.url) and not u.startswith(("data:", "blob:"))]
    assert not outside, f"the docs fetched from elsewhere: {outside[:5]}"
    assert not refused, refused[:3]


class _TileServer:
    """A map tile server of our own on a free port: any {z}/{x}/{y}.png is a 256 px PNG."""

    def __init__(self) -> None:
        import http.server
        import threading

        import cv2
        import numpy as np

        _, png = cv2.imencode(".png", np.full((256, 256, 3), 200, np.uint8))
        body = png.tobytes()
        self.asked: list[str] = []
        asked = self.asked

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                asked.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("crs", ["wgs84", "gcj02"])
def test_the_base_map_comes_from_the_configured_tile_server(
    district: DistrictThread, browser: Any, artifacts: Path, crs: str
) -> None:
    """A bureau's intranet tile server: the page asks it for tiles (its origin allowed by the
    page's policy, nothing else fetched elsewhere); with GCJ-02 tiles every WGS84 position
    is shifted as missions/chinamap.py shifts it."""
    from missions.chinamap import wgs84_to_gcj02
    from orchestrator.commands.serve import ApiServer
    from orchestrator.settings import MapSettings
    from tests.apiserver import USERS

    tiles = _TileServer()
    assert district.district is not None
    api = ApiServer(
        district.district.service,
        USERS,
        "127.0.0.1",
        0,
        MapSettings(tiles=tiles.url + "/{z}/{x}/{y}.png", attribution="Nanshan GIS", crs=crs),  # type: ignore[arg-type]
    )
    district.call(api.start())
    refused: list[str] = []
    page = browser.new_page(locale="en-US", viewport={"width": 1280, "height": 800})
    try:
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(api.url + "/")
        page.fill("#token", token("viewer"))
        page.click("#login-button")
        page.wait_for_selector("body[data-ready=true]", timeout=20_000)
        _wait_js(page, "document.querySelectorAll('.base-tiles img.leaflet-tile-loaded').length >= 4")
        assert "Nanshan GIS" in page.inner_text(".leaflet-control-attribution")
        shifted = page.evaluate("() => window.chinamap.toGcj(22.5329, 113.9305)")
        assert shifted == pytest.approx(list(wgs84_to_gcj02(22.5329, 113.9305)), abs=1e-9)
        back = page.evaluate("() => window.chinamap.toWgs(...window.chinamap.toGcj(22.5329, 113.9305))")
        assert back == pytest.approx([22.5329, 113.9305], abs=1e-8)
        # Where the map puts a WGS84 point, and what a click there reads back.
        code, round_trip = page.evaluate(
            """() => { const crs = window.dashboard.map.options.crs;
                       const ll = crs.pointToLatLng(crs.latLngToPoint(L.latLng(22.5329, 113.9305), 18), 18);
                       return [crs.code, [ll.lat, ll.lng]]; }"""
        )
        assert code == ("GCJ02" if crs == "gcj02" else "EPSG:3857")
        assert round_trip == pytest.approx([22.5329, 113.9305], abs=1e-7)
        page.screenshot(path=str(artifacts / f"basemap-{crs}.png"))
    finally:
        page.close()
        district.call(api.stop())
        tiles.close()
    assert any(p.endswith(".png") and p.count("/") == 3 for p in tiles.asked), tiles.asked[:5]
    assert not refused, refused[:3]


def test_an_alert_that_needs_an_operator_holds_a_banner_until_acknowledged(
    district: DistrictThread, browser: Any, artifacts: Path
) -> None:
    """A parking complaint waits for approval (the policy proposes it): every dashboard shows
    a banner and counts it in the tab's title until an operator acknowledges it; a viewer
    sees it but may not acknowledge it."""
    lat, lon = 22.5410, 113.9481
    with httpx.Client(base_url=district.url + "/api/v1", timeout=10) as api:
        alert = api.post(
            "/alerts",
            json={"kind": "illegal_parking", "lat": lat, "lon": lon, "id": "banner-1"},
            headers=auth("operator"),
        ).json()
        assert alert["state"] == "proposed" and alert["needs_attention"], alert
        viewer = _sign_in(browser, district.url, "viewer")
        operator = _sign_in(browser, district.url, "operator", 1280, 720)
        try:
            for page in (viewer, operator):
                _wait_js(page, f"document.querySelector('#alert-banner .banner-item[data-id=\"{alert['id']}\"]')")
                assert not page.locator("#alert-banner").is_hidden()
                assert page.title().startswith("(")
            assert viewer.locator("#alert-banner .cmd-alert-ack").count() == 0, "a viewer acknowledges nothing"
            _wait_js(operator, "document.querySelectorAll('.alert-marker.attention').length >= 1")  # on the map too
            refused = api.post(f"/alerts/{alert['id']}/acknowledge", headers=auth("viewer"))
            assert refused.status_code == 403
            operator.screenshot(path=str(artifacts / "alert-banner.png"))
            operator.locator(f'#alert-banner .banner-item[data-id="{alert["id"]}"] .cmd-alert-ack').click()
            for page in (operator, viewer):  # the other dashboard drops it too (live event)
                _wait_js(page, f"!document.querySelector('#alert-banner .banner-item[data-id=\"{alert['id']}\"]')")
        finally:
            viewer.close()
            operator.close()
        done = api.get(f"/alerts/{alert['id']}", headers=auth("viewer")).json()
        assert done["acknowledged_by"] and done["acknowledged_at"] and not done["needs_attention"], done
        assert api.post("/alerts/nope/acknowledge", headers=auth("operator")).status_code == 404


def _visit_every_tab(page: Any) -> None:
    """Every tab, a sortie's and an incident's detail: what an operator would look at."""
    for tab, row, detail in (
        ("schedule", "#timeline .bar", "#sortie-detail"),
        ("incidents", ".incident-row", "#incident-detail"),
        ("alerts", None, None),
        ("airports", None, None),
    ):
        page.click(f'.tab[data-tab="{tab}"]')
        page.wait_for_selector(f"#tab-{tab}:not([hidden])")
        if row is not None and page.locator(row).count():
            page.locator(row).first.click()
            page.wait_for_selector(f"{detail}:not([hidden])")


def test_the_watch_centre_reads_chinese_by_default_and_english_on_request(
    district: DistrictThread, browser: Any, artifacts: Path
) -> None:
    """A browser in Chinese (or in a language the dashboard does not have) gets the page in
    Chinese, one in English gets English, the header's switch changes it and keeps the
    choice; nothing the page showed was missing from its catalogue."""
    with httpx.Client(base_url=district.url + "/api/v1", timeout=10) as api:
        alert = api.post(
            "/alerts",
            json={"kind": "illegal_parking", "lat": 22.5405, "lon": 113.9475, "id": "banner-zh"},
            headers=auth("operator"),
        ).json()
        assert alert["state"] == "proposed", alert
    zh = _sign_in(browser, district.url, "operator", 1920, 1080, locale="zh-CN")
    other = _sign_in(browser, district.url, "viewer", 1280, 720, locale="fr-FR")
    en = _sign_in(browser, district.url, "operator", 1920, 1080, locale="en-US")
    try:
        for page in (zh, other):
            assert page.evaluate("document.documentElement.lang") == "zh-CN"
            assert page.inner_text('.tab[data-tab="airports"]') == "机场"
        assert "值班员" in zh.inner_text("#who") and "查看员" in other.inner_text("#who")
        _wait_js(zh, f"document.querySelector('#alert-banner .banner-item[data-id=\"{alert['id']}\"]')")
        assert "需要值班员处理" in zh.inner_text("#alert-banner-text")
        assert "待批准" in zh.inner_text(f'#alert-banner .banner-item[data-id="{alert["id"]}"]')
        assert zh.title().startswith("(") and "指挥中心" in zh.title()
        assert en.inner_text('.tab[data-tab="airports"]') == "Airports" and "operator" in en.inner_text("#who")
        for page, lang in ((zh, "zh-CN"), (en, "en-US")):
            _visit_every_tab(page)
            page.click('.tab[data-tab="alerts"]')
            page.screenshot(path=str(artifacts / f"dashboard-{lang}.png"))
        for page in (zh, other, en):
            missing = page.evaluate("[...window.dashboardI18n.missing]")
            assert missing == [], f"not in the catalogue: {missing}"
        zh.select_option("header select.lang", "en-US")  # the page reloads in English
        zh.wait_for_selector("body[data-ready=true]", timeout=20_000)
        _wait_js(zh, "document.documentElement.lang === 'en-US'")
        assert zh.inner_text('.tab[data-tab="airports"]') == "Airports"
        zh.reload()
        zh.wait_for_selector("body[data-ready=true]", timeout=20_000)
        assert zh.evaluate("document.documentElement.lang") == "en-US", "the choice is kept"
    finally:
        for page in (zh, other, en):
            page.close()
        with httpx.Client(base_url=district.url + "/api/v1", timeout=10) as api:
            api.post(f"/alerts/{alert['id']}/acknowledge", headers=auth("operator"))
