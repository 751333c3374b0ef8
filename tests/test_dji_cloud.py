"""The DJI Cloud API's cloud side, as data: the topics and envelope of DJI's documented
examples are read; calls are built within DJI's ranges (heights ellipsoidal where DJI says
so); replies settle their calls once, and replays, strangers and silence are named; a
flight task's progress, HMS warnings and the dock's weather come out in our terms.
Hostile messages are refused with the reason, never half-read."""

from __future__ import annotations

import json

import pytest

from missions.dji_cloud import (
    SUBSCRIPTIONS,
    CallBook,
    Channel,
    DjiProtocolError,
    call,
    dock_state,
    flighttask_prepare,
    fly_to_point,
    hms_faults,
    parse_message,
    parse_topic,
    takeoff_to_point,
    task_progress,
    topic,
)
from missions.formats.wpml import NANSHAN_GEOID_M

DOCK = "7CTXN00000001"


def test_topics_both_ways() -> None:
    assert topic(DOCK, Channel.SERVICES) == f"thing/product/{DOCK}/services"
    assert topic(DOCK, Channel.STATUS_REPLY) == f"sys/product/{DOCK}/status_reply"
    assert parse_topic(f"thing/product/{DOCK}/property/set_reply") == (DOCK, Channel.PROPERTY_SET_REPLY)
    for t in SUBSCRIPTIONS:
        sn, channel = parse_topic(t.replace("+", DOCK))
        assert sn == DOCK and channel in Channel
    for bad, why in [
        ("thing/product/7ctxn/osd", "not a serial number"),
        (f"thing/product/{DOCK}/telemetry", "unknown channel"),
        (f"sys/product/{DOCK}/osd", "is not under sys/"),
        ("dronepatrol/v1/dock/xili/state", "not a DJI Cloud API topic"),
    ]:
        with pytest.raises(DjiProtocolError, match=why):
            parse_topic(bad)


def test_the_documented_progress_event_is_a_flying_sortie() -> None:
    # DJI's own example payload shape (notes A6), as a dock publishes it.
    body = {"tid": "aa01", "bid": "9a7e", "timestamp": 1767225700000, "gateway": DOCK,
            "method": "flighttask_progress",
            "data": {"result": 0, "output": {"status": "in_progress", "progress": {"current_step": 25, "percent": 40},
                     "ext": {"flight_id": "f-20260101-001", "track_id": "t-1", "wayline_id": 0,
                             "current_waypoint_index": 3, "wayline_mission_state": 6, "media_count": 2}}}}  # fmt: skip
    msg = parse_message(f"thing/product/{DOCK}/events", json.dumps(body).encode())
    p = task_progress(msg)
    assert (p.flight_id, p.status, p.step, p.percent, p.waypoint) == ("f-20260101-001", "in_progress", 25, 40, 3)
    assert p.sortie_state == "airborne" and not p.done
    steps = {6: "preflight", 17: "preflight", 26: "returning", 28: "returning", 25: "airborne"}
    for step, state in steps.items():
        body["data"]["output"]["progress"]["current_step"] = step  # type: ignore[index]
        assert (
            task_progress(parse_message(f"thing/product/{DOCK}/events", json.dumps(body).encode())).sortie_state
            == state
        )
    body["data"]["output"].update(status="failed", ext={"flight_id": "f1", "break_point": {"break_reason": 784}})  # type: ignore[attr-defined]
    failed = task_progress(parse_message(f"thing/product/{DOCK}/events", json.dumps(body).encode()))
    assert failed.done and failed.sortie_state == "failed" and failed.break_reason == "high wind: returning home (784)"


def test_calls_go_out_within_djis_ranges_and_heights_are_ellipsoidal() -> None:
    md5 = "0bbe0dd901e72af5f327a30122c09c77"
    prep = flighttask_prepare("f-1", "http://10.0.0.5:8080/kmz/f-1.kmz", md5, 1_767_225_630_000, 150)
    assert prep["file"] == {"url": "http://10.0.0.5:8080/kmz/f-1.kmz", "fingerprint": md5}
    assert prep["task_type"] == 0 and prep["rth_altitude"] == 150 and prep["rth_mode"] == 1
    with pytest.raises(DjiProtocolError, match="rth_altitude 10 is outside"):
        flighttask_prepare("f-1", "http://x/f.kmz", md5, 0, 10)
    with pytest.raises(DjiProtocolError, match="not an MD5"):
        flighttask_prepare("f-1", "http://x/f.kmz", "xyz", 0, 100)
    with pytest.raises(DjiProtocolError, match="downloads over HTTP"):
        flighttask_prepare("f-1", "file:///etc/passwd", md5, 0, 100)
    # Yangtai Shan's top is 587 m: a fire there, 60 m over it, from the Xili dock (62 m).
    data = takeoff_to_point("a-1", 22.6426, 113.9707, 647, dock_amsl_m=62, security_takeoff_m=30,
                            rth_altitude_m=560, commander_height_m=600, max_speed_ms=15)  # fmt: skip
    assert data["target_height"] == pytest.approx(647 + NANSHAN_GEOID_M)
    assert data["commander_flight_mode"] == 1 and data["commander_flight_height"] == 600
    with pytest.raises(DjiProtocolError, match="max_speed 20 is outside"):
        takeoff_to_point("a-1", 22.6, 113.9, 100, dock_amsl_m=10, security_takeoff_m=30,
                         rth_altitude_m=60, commander_height_m=80, max_speed_ms=20)  # fmt: skip
    assert fly_to_point("alert-42", 22.5403, 113.9345, 130, 12)["points"][0]["height"] == pytest.approx(126.5)


def _reply(tid: str, method: str, result: object = 0) -> bytes:
    return json.dumps({"tid": tid, "bid": "b", "timestamp": 2, "method": method, "data": {"result": result}}).encode()


def test_a_reply_settles_its_call_once_and_strangers_replays_and_silence_are_named() -> None:
    book = CallBook()
    prep = call("flighttask_prepare", {"flight_id": "f-1"}, now_ms=1000)
    book.sent(DOCK, prep, timeout_ms=10_000)
    reply_topic = f"thing/product/{DOCK}/services_reply"
    with pytest.raises(DjiProtocolError, match="no call of ours"):
        book.reply(parse_message(reply_topic, _reply("forged", "flighttask_prepare")), 1200)
    with pytest.raises(DjiProtocolError, match="the call was 'flighttask_prepare'"):
        book.reply(parse_message(reply_topic, _reply(prep.tid, "return_home")), 1200)
    other = "7CTXN00000009"
    with pytest.raises(DjiProtocolError, match="the call went to"):
        book.reply(parse_message(f"thing/product/{other}/services_reply", _reply(prep.tid, "flighttask_prepare")), 1200)
    done = book.reply(parse_message(reply_topic, _reply(prep.tid, "flighttask_prepare", 0)), 1350)
    assert done.ok and done.waited_ms == 350 and not book.pending
    with pytest.raises(DjiProtocolError, match="a replay"):
        book.reply(parse_message(reply_topic, _reply(prep.tid, "flighttask_prepare", 0)), 1400)
    refused = call("flighttask_execute", {"flight_id": "f-1"}, now_ms=2000)
    book.sent(DOCK, refused, timeout_ms=10_000)
    no = book.reply(parse_message(reply_topic, _reply(refused.tid, "flighttask_execute", 314001)), 2100)
    assert not no.ok and no.result == 314001
    silent = call("return_home", None, now_ms=3000)
    book.sent(DOCK, silent, timeout_ms=5000)
    assert book.expire(7999) == []
    assert [tid for tid, _ in book.expire(8001)] == [silent.tid]
    with pytest.raises(DjiProtocolError, match="timed out"):
        book.reply(parse_message(reply_topic, _reply(silent.tid, "return_home")), 9000)


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"bid": "b", "timestamp": 1, "method": "hms", "data": {}}', "no tid"),
        (b'{"tid": "t", "bid": "b", "timestamp": "now", "method": "hms", "data": {}}', "not milliseconds"),
        (b'{"tid": "t", "bid": "b", "timestamp": 1, "data": {}}', "no method"),
        (b'{"tid": "t", "bid": "b", "timestamp": 1, "method": "hms", "data": [1]}', "data is not an object"),
        (b'{"tid": "t", "bid": "b", "timestamp": 1, "method": "hms", "gateway": "../x", "data": {}}', "gateway"),
        (b"\xff\xfe", "not JSON"),
        (b'{"tid": "' + b"x" * 300_000 + b'"}', "more than"),
    ],
)
def test_a_malformed_message_is_refused_with_the_reason(payload: bytes, why: str) -> None:
    with pytest.raises(DjiProtocolError, match=why):
        parse_message(f"thing/product/{DOCK}/events", payload)


def test_a_cloud_topic_from_a_device_is_refused() -> None:
    with pytest.raises(DjiProtocolError, match="sent by the cloud"):
        parse_message(f"thing/product/{DOCK}/services", b'{"tid":"t","bid":"b","timestamp":1,"data":{}}')


def test_hms_warnings_are_faults_and_the_docks_weather_is_ours() -> None:
    warning = {"level": 2, "module": 3, "in_the_sky": 0, "code": "0x16100083", "device_type": "0-91-0"}
    notice = {"level": 0, "module": 3, "in_the_sky": 0, "code": "0x1", "device_type": "3-2-0"}
    hms = {"tid": "t", "bid": "b", "timestamp": 1, "method": "hms", "data": {"list": [warning, notice]}}
    faults = hms_faults(parse_message(f"thing/product/{DOCK}/events", json.dumps(hms).encode()))
    assert faults == ["HMS 0x16100083 on 0-91-0 (on the ground)"]
    charge = {"state": 1, "capacity_percent": 64}
    osd = {"mode_code": 0, "cover_state": 0, "drone_in_dock": 1, "drone_charge_state": charge, "rainfall": 2,
           "wind_speed": 6.3, "environment_temperature": 21.5}  # fmt: skip
    state = dock_state(osd)
    assert (state.lid, state.drone_in_dock, state.charging, state.battery_pct) == ("closed", True, True, 64)
    assert state.rain_mm_h == 8.0 and state.wind_ms == 6.3 and not state.working
    junk = dock_state({"cover_state": "open", "wind_speed": float("nan"), "rainfall": True})
    assert junk.lid == "unknown" and junk.wind_ms is None and junk.battery_pct is None
