from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from missions.formats import qgc_plan
from missions.scenario import load_scenario
from orchestrator.cli import main


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:  # type: ignore[type-arg]
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_plan_json_lists_sorties_and_what_was_not_scheduled(capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(capsys, ["plan", "--hours", "12", "--json"])
    assert out["occurrences"] == out["scheduled"] + len(out["unscheduled"])
    row = out["sorties"][0]
    assert {"airport", "patrol", "launch", "km", "minutes", "battery_at_landing"} <= set(row)
    assert all(r["battery_at_landing"] >= 0.25 for r in out["sorties"])


def test_plan_text_is_grouped_by_airport(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--start", "2026-12-02T06:00", "--hours", "6"]) == 0
    text = capsys.readouterr().out
    for airport in ("xili", "taoyuan", "shekou"):
        assert f"\n{airport} - " in text
    assert "battery at landing" in text


def test_plan_out_writes_mission_files_and_geojson(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--hours", "10", "--out", str(tmp_path)]) == 0
    plans = sorted(tmp_path.glob("*.plan"))
    assert plans
    pads = {(round(a.lat, 6), round(a.lon, 6)) for a in load_scenario().airports.values()}
    for p in plans:
        loaded = qgc_plan.loads(p.read_text())
        last = loaded.items[-1]
        assert loaded.items[1].command == 22
        # Home again by RTL, or a dock-to-dock exchange landing on another airport's pad.
        assert last.command == 20 or (last.command == 21 and (round(last.x, 6), round(last.y, 6)) in pads)
    gj = json.loads((tmp_path / "paths.geojson").read_text())
    paths = [f for f in gj["features"] if f["geometry"]["type"] == "LineString" and "file" in f["properties"]]
    assert len(paths) == len(plans)
    assert all(len(f["geometry"]["coordinates"][0]) == 3 for f in paths)


def test_dispatch_json(capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(capsys, ["dispatch", "22.584", "113.995", "--json"])
    assert out["choice"]["airport"] == "taoyuan" and out["choice"]["eta_s"] > 0 and out["choice"]["reason"]
    etas = [c["eta_s"] for c in out["candidates"] if c["eta_s"] is not None]
    assert out["choice"]["eta_s"] == min(etas) and len(out["candidates"]) == 8


def test_coverage_json_and_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "reach.png"
    out = _json(capsys, ["coverage", "--minutes", "5", "--cell", "400", "--png", str(png), "--json"])
    assert out["minutes"] == 5 and 0.9 <= out["share"] <= 1.0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["dispatch", "22.3", "114.2"], "outside the operating area"),
        (["plan", "--scenario", "/nonexistent"], "file not found"),
        (["sim", "fault", "--mqtt", "mqtt://127.0.0.1:1", "--airport", "mars", "--kind", "gust"], "unknown airport"),
        (["sim", "fault", "--mqtt", "mqtt://127.0.0.1:1", "--airport", "xili", "--kind", "gust"], "Connection refused"),
        (["vision", "run", "http://127.0.0.1:1/x.mjpg", "--first-frame-wait", "1"], "no frame in 1 s"),
        (["demo", "--dji", "xili,mars", "--port", "0"], "--dji: unknown airport(s) mars"),
        (["kmz", "/nonexistent/route.kmz"], "/nonexistent/route.kmz"),
    ],
)
def test_bad_input_exits_2_with_a_reason(argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err, err


def test_serve_refuses_a_remote_broker_without_tls_or_login(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "dronepatrol.yaml"
    for url, fragment in (
        ("mqtt://10.1.2.3:1883", "not TLS (use mqtts://); no user name"),
        ("mqtts://10.1.2.3", "no user name"),
    ):
        config.write_text(
            f"data_dir: {tmp_path}\nmqtt: {url}\ndrones: {{xili: 'udpout:127.0.0.1:14550'}}\n", encoding="utf-8"
        )
        assert main(["serve", "--config", str(config)]) == 2
        err = capsys.readouterr().err
        assert fragment in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    config.write_text(f"data_dir: {tmp_path}\ndrones: {{xili: 'serial:/dev/ttyS0'}}\n", encoding="utf-8")
    assert main(["serve", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "drones.xili: 'serial:/dev/ttyS0': serial links are not supported" in err and "Traceback" not in err, err


def test_bad_arguments_are_usage_errors() -> None:
    for argv in (["plan", "--hours", "-3"], ["plan", "--start", "yesterday"], ["dispatch", "north", "east"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2


def _the_demo_broker_wants_a_login(line: str) -> None:
    """`mqtt: mqtt://HOST:PORT (users and passwords: FILE)`: a stranger is turned away, the
    observer in that file reads the docks' retained state."""
    import asyncio

    import aiomqtt

    from missions.bus_access import BrokerAddress, BusRole
    from orchestrator.bus.users import load_users, login

    url, _, rest = line.partition(" (users and passwords: ")
    address, users = BrokerAddress.parse(url), load_users(Path(rest.rstrip(")")))

    async def check() -> str:
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client(**address.client_options(), timeout=5):
                pass
        observer = login(address, users, BusRole.OBSERVER)
        async with aiomqtt.Client(**observer.client_options(), timeout=5) as client:
            await client.subscribe("dronepatrol/v1/dock/+/state", qos=1)
            async for message in client.messages:
                return str(message.topic)
        return ""

    assert asyncio.run(asyncio.wait_for(check(), 20)).startswith("dronepatrol/v1/dock/")


@pytest.mark.slow
def test_demo_runs_end_to_end_as_a_user_would(tmp_path: Path) -> None:
    """`dronepatrol demo`: says where the API is and gives a token per role, serves the
    8 airports while the day runs, flies the first sortie, and stops cleanly on Ctrl-C.
    The drones' usual ports (14560...) are taken here: the demo finds free ones itself."""
    import contextlib
    import signal
    import socket

    import httpx

    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with contextlib.suppress(OSError):
        squatter.bind(("127.0.0.1", 14560))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "demo",
            "--out",
            str(tmp_path),
            "--port",
            "0",
            "--speedup",
            "60",
            "--hours",
            "1",
            "--start",
            "2026-12-02T05:58",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        head: dict[str, str] = {}
        for line in proc.stdout:
            key, _, value = line.strip().partition(": ")
            head[key] = value
            if key == "mqtt":
                break
        assert head["api"].startswith("http://127.0.0.1:") and head["api"].endswith("/api/v1"), head
        assert {f"token {r}" for r in ("viewer", "operator", "admin", "integration")} <= set(head)
        _the_demo_broker_wants_a_login(head["mqtt"])
        viewer = {"Authorization": f"Bearer {head['token viewer']}"}
        with httpx.Client(base_url=head["api"], headers=viewer, timeout=10) as api:
            assert len(api.get("/airports").json()) == 8
            assert api.post("/sorties/x/abort").status_code == 403, "a viewer commands nothing"
            deadline = time.monotonic() + 120
            done: list = []  # type: ignore[type-arg]
            while time.monotonic() < deadline and not done:
                done = api.get("/sorties", params={"state": "completed"}).json()
                time.sleep(0.5)
            assert done and done[0]["id"] == "flood-guimiao-underpass.20261202T0600.1", done
        proc.send_signal(signal.SIGINT)
        rest = proc.stdout.read()
        assert proc.wait(30) == 0
        assert "day over at" in rest and "completed" in rest and "record:" in rest, rest
    finally:
        squatter.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_sim_snapshot_draws_the_truth_and_dataset_writes_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "x.png"
    assert (
        main(
            [
                "sim",
                "snapshot",
                "--airport",
                "shekou",
                "--at",
                "2026-12-02T11:30",
                "--target",
                "22.498,113.906",
                "--out",
                str(png),
                "--width",
                "640",
                "--height",
                "360",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "fire-danan" in out and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["sim", "dataset", "--n", "4", "--out", str(tmp_path / "ds"), "--seed", "2"]) == 0
    assert (tmp_path / "ds" / "data.yaml").is_file() and len(list((tmp_path / "ds").rglob("*.jpg"))) == 4
    assert main(["sim", "snapshot", "--airport", "mars", "--out", str(png)]) == 2
