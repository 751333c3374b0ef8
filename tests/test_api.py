"""The API over real HTTP: tokens and roles, the audit of every command, validation with
reasons, patrols created and paused, sorties started and refused, live events."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from missions.scenario import Scenario
from tests.apiserver import ServiceThread, auth

NEW_PATROL = {
    "type": "Feature",
    "properties": {
        "id": "test-orbit",
        "name": "Test orbit",
        "kind": "point",
        "looks_for": ["fire"],
        "schedule": {"cron": "0 10 * * *", "window_min": 60},
        "mode": "orbit",
        "radius_m": 100,
        "altitude_m": 80,
    },
    "geometry": {"type": "Point", "coordinates": [113.93, 22.52]},
}


@pytest.fixture(scope="module")
def api(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    folder = tmp_path_factory.mktemp("api")
    at = scenario.day_start().replace(hour=7)
    with ServiceThread(scenario, f"sqlite:///{folder / 'db.sqlite'}", folder, lambda: at) as svc:
        with httpx.Client(base_url=svc.url + "/api/v1", timeout=10) as client:
            yield client


def test_no_token_is_401_and_an_unknown_one_too(api: httpx.Client) -> None:
    r = api.get("/airports")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "missing bearer token" in r.json()["detail"]
    assert api.get("/airports", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert api.get("/health").status_code == 200, "the health check needs no token"


def test_a_viewer_sees_the_eight_airports_and_the_days_sorties(api: httpx.Client) -> None:
    airports = api.get("/airports", headers=auth("viewer")).json()
    assert len(airports) == 8 and {a["id"] for a in airports} >= {"nanshan", "shekou", "yuehai"}
    sorties = api.get("/sorties", headers=auth("viewer")).json()
    assert len(sorties) > 30 and all(s["state"] == "planned" for s in sorties)  # 38 in the December daylight
    first = sorties[0]
    detail = api.get(f"/sorties/{first['id']}", headers=auth("viewer")).json()
    assert detail["transitions"][0]["new"] == "planned" and detail["items"] > 3


def test_commands_need_a_role_that_may_give_them_and_every_one_is_audited(api: httpx.Client) -> None:
    sid = api.get("/sorties", headers=auth("viewer")).json()[-1]["id"]
    refused = api.post(f"/sorties/{sid}/start", headers=auth("viewer"))
    assert refused.status_code == 403 and "viewer may not start sortie" in refused.json()["detail"]
    assert api.post(f"/sorties/{sid}/start", headers=auth("integration")).status_code == 403
    ok = api.post(f"/sorties/{sid}/start", headers=auth("operator"))
    assert ok.status_code == 202, ok.text
    assert api.get("/audit", headers=auth("viewer")).status_code == 403
    rows = api.get("/audit", headers=auth("admin")).json()
    mine = [(r["actor"], r["role"], r["status"]) for r in rows if r["target"] == sid and r["action"] == "start_sortie"]
    assert mine[:3] == [("otto", "operator", 202), ("alerts", "integration", 403), ("vera", "viewer", 403)]


def test_bad_input_gets_a_4xx_with_the_reason(api: httpx.Client) -> None:
    op = auth("operator")
    r = api.get("/sorties", params={"state": "flying"}, headers=op)
    assert r.status_code == 422 and "state" in r.json()["detail"]
    assert api.get("/sorties", params={"limit": 0}, headers=op).status_code == 422
    r = api.get("/sorties", params={"since": "2026-12-02T08:00"}, headers=op)
    assert r.status_code == 422 and "UTC offset" in r.json()["detail"]
    assert api.get("/sorties/nope", headers=op).status_code == 404
    assert "no drone 'nope'" in api.post("/drones/nope/return-home", headers=op).json()["detail"]
    planned = api.get("/sorties", headers=op).json()[0]["id"]
    r = api.post(f"/sorties/{planned}/abort", headers=op)
    assert r.status_code == 409 and "only a flying sortie" in r.json()["detail"]
    outside = {**NEW_PATROL, "geometry": {"type": "Point", "coordinates": [114.3, 22.6]}}
    r = api.post("/patrols", json=outside, headers=op)
    assert r.status_code == 422 and "outside the operating area" in r.json()["detail"]
    unknown = {**NEW_PATROL, "properties": {**NEW_PATROL["properties"], "airports": ["atlantis"]}}
    assert "unknown airport" in api.post("/patrols", json=unknown, headers=op).json()["detail"]
    assert "expected a GeoJSON Feature" in api.post("/patrols", json={"a": 1}, headers=op).json()["detail"]
    assert api.patch("/patrols/nope", json={"paused": True}, headers=op).status_code == 404
    r = api.patch("/patrols/tanglang-ridge", json={}, headers=op)
    assert r.status_code == 422 and "nothing to change" in r.json()["detail"]
    r = api.patch("/patrols/tanglang-ridge", json={"paused": "maybe"}, headers=op)
    assert r.status_code == 422 and "paused" in r.json()["detail"]
    r = api.post("/sorties/x/start", content=b"{", headers={**op, "Content-Type": "application/json"})
    assert r.status_code in (202, 404), "a body where none is expected is ignored, not a crash"


def test_a_patrol_created_through_the_api_is_planned_and_can_be_paused(api: httpx.Client) -> None:
    op = auth("operator")
    r = api.post("/patrols", json=NEW_PATROL, headers=op)
    assert r.status_code == 201, r.text
    assert r.json()["source"] == "api" and r.json()["sorties_today"] >= 1
    sorties = api.get("/sorties", params={"patrol": "test-orbit"}, headers=op).json()
    assert sorties and sorties[0]["planned_launch"].startswith("2026-12-02T10:00:00+08:00")
    assert api.post("/patrols", json=NEW_PATROL, headers=op).status_code == 409
    paused = api.patch("/patrols/test-orbit", json={"paused": True}, headers=op).json()
    assert paused["paused"] is True
    edited = {**NEW_PATROL, "properties": {**NEW_PATROL["properties"], "schedule": {"cron": "0 11 * * *"}}}
    r = api.patch("/patrols/test-orbit", json={"feature": edited}, headers=op)
    assert r.status_code == 200, r.text
    states = {
        s["planned_launch"][11:13]: s["state"]
        for s in api.get("/sorties", params={"patrol": "test-orbit"}, headers=op).json()
    }
    assert states == {"10": "held", "11": "planned"}, "the 10:00 sortie withdrawn, the 11:00 one planned"


def test_live_events_replay_what_a_reconnecting_reader_missed(api: httpx.Client) -> None:
    r = api.get("/events", params={"once": True}, headers={**auth("viewer"), "Last-Event-ID": "0"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in r.text.split("\n\n") if b.startswith("id:")]
    assert blocks and "event: sortie" in blocks[0]
    assert api.get("/events", params={"once": True, "access_token": "bad"}).status_code == 401


def test_the_openapi_document_has_every_route_and_examples(api: httpx.Client) -> None:
    doc = api.get("/openapi.json").json()
    paths = set(doc["paths"])
    for p in (
        "/api/v1/airports",
        "/api/v1/drones",
        "/api/v1/patrols",
        "/api/v1/sorties",
        "/api/v1/findings",
        "/api/v1/audit",
        "/api/v1/events",
        "/api/v1/sorties/{sortie_id}/abort",
    ):
        assert p in paths
    assert "examples" in str(doc["components"]["schemas"]["Sortie"])


def test_times_are_shown_in_the_districts_zone(api: httpx.Client, scenario: Scenario) -> None:
    s = api.get("/sorties", headers=auth("viewer")).json()[0]
    from datetime import datetime

    t = datetime.fromisoformat(s["planned_launch"])
    assert t.utcoffset() == timedelta(hours=8) and t.hour >= 6


def test_the_dashboard_is_served_from_here_with_no_outside_address(api: httpx.Client) -> None:
    page = api.get(str(api.base_url).removesuffix("/api/v1/") + "/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    csp = dict(d.strip().split(" ", 1) for d in page.headers["content-security-policy"].split(";"))
    assert csp["script-src"] == "'self'", "no inline script: data on the page cannot run"
    assert csp["object-src"] == "'none'" and csp["frame-ancestors"] == "'none'"
    assert "<script>" not in page.text and not re.search(r"\son[a-z]+\s*=", page.text), "no inline script"
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/ui/") for a in assets), assets
    for asset in assets:
        got = api.get(str(api.base_url).removesuffix("/api/v1/") + asset)
        assert got.status_code == 200 and got.content, asset
        loads = re.findall(r"""(?:url\(\s*['"]?|(?:src|href)=['"])(https?://[^'")]+)""", got.text)
        # Leaflet names its home page in its attribution link; what the browser really fetches
        # is checked in tests/test_dashboard.py.
        assert not loads or asset.startswith("/ui/vendor/"), f"{asset} loads {loads}"
    me = api.get("/whoami", headers=auth("viewer")).json()
    assert me == {
        "name": "vera",
        "role": "viewer",
        "may": {"command": False, "send_alerts": False, "step_incidents": False, "read_audit": False},
    }
    features = api.get("/map", headers=auth("viewer")).json()["features"]
    assert {f["properties"]["layer"] for f in features} == {"district", "zone", "patrol", "contour", "airport"}
    contours = [f["properties"] for f in features if f["properties"]["layer"] == "contour"]
    assert [c["height_m"] for c in contours] == [100, 200, 300, 400, 500], "the relief up to Yangtai Shan's 587 m"
    assert all(c["approximate"] and "approximate" in c["source"] for c in contours)
    assert api.get("/drones/shekou/video", headers=auth("viewer")).status_code == 404, "no video source here"


def test_a_body_is_not_read_before_the_token_and_its_size_are_checked(api: httpx.Client) -> None:
    """An anonymous 64 MiB body was read (and parsed) before the 401; now the answer comes
    before the body is asked for at all."""
    import asyncio

    from orchestrator.api.guard import BodyGuard

    async def app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        raise AssertionError("the application must not run")

    async def run(headers: list[tuple[bytes, bytes]]) -> tuple[int, int]:
        asked = 0
        status = 0

        async def receive() -> dict:  # type: ignore[type-arg]
            nonlocal asked
            asked += 1
            return {"type": "http.request", "body": b" " * (1 << 20), "more_body": True}

        async def send(message: dict) -> None:  # type: ignore[type-arg]
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        guard = BodyGuard(app, known_token=lambda _scope, token: token == "good")
        await guard({"type": "http", "method": "POST", "path": "/api/v1/alerts", "headers": headers}, receive, send)
        return status, asked

    assert asyncio.run(run([(b"content-length", str(64 << 20).encode())])) == (413, 0)
    assert asyncio.run(run([(b"transfer-encoding", b"chunked")])) == (401, 0)
    assert asyncio.run(run([(b"authorization", b"Bearer bad")])) == (401, 0)
    r = api.post("/alerts", content=b"{}", headers={"Content-Type": "application/json"})
    assert r.status_code == 401 and "missing bearer token" in r.json()["detail"]
    r = api.post("/alerts", content=b"{}", headers={"Content-Type": "application/json", "Authorization": "Bearer x"})
    assert r.status_code == 401 and "unknown" in r.json()["detail"]
    r = api.post(
        "/alerts", content=b" " * ((1 << 20) + 1), headers={**auth("operator"), "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and "at most" in r.json()["detail"]


def test_a_token_in_the_query_is_taken_only_where_a_browser_cannot_send_a_header(api: httpx.Client) -> None:
    from tests.apiserver import token

    viewer = token("viewer")
    assert api.get("/airports", params={"access_token": viewer}).status_code == 401, "headers everywhere else"
    assert api.get("/events", params={"once": True, "access_token": viewer}).status_code == 200, "EventSource"
