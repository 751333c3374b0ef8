"""Ground stations talk to the simulator over real MAVLink 2 on UDP (pymavlink's mavutil)."""

from __future__ import annotations

import os
import random
import time

import pytest

os.environ.setdefault("MAVLINK20", "1")
from pymavlink import mavutil
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from missions.scenario import Scenario
from tests.conftest import square_mission

AIRPORT = "shekou"


class _Heartbeats:
    """A ground station's heartbeat, from its own socket, every 20 ms of wall time.

    FS_GCS_TIMEOUT counts simulated seconds: at 60x a 1 Hz ground station would look
    silent, so the test heartbeats as often as the speed-up asks.
    """

    def __init__(self, url: str) -> None:
        import threading

        self.conn = mavutil.mavlink_connection(url, source_system=255, source_component=191)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.02):
            self.conn.mav.heartbeat_send(mavlink2.MAV_TYPE_GCS, mavlink2.MAV_AUTOPILOT_INVALID, 0, 0, 0)
            while self.conn.recv_msg() is not None:
                pass  # drain what the vehicle sends back


@pytest.fixture
def gcs():  # type: ignore[no-untyped-def]
    """connect(url): a pymavlink ground station that has seen the vehicle's heartbeat."""
    beats: list[_Heartbeats] = []
    conns = []

    def connect(url: str, heartbeat: bool = True, wait: bool = True, system: int = 255):  # type: ignore[no-untyped-def]
        m = mavutil.mavlink_connection(url, source_system=system, source_component=190)
        conns.append(m)
        m.mav.heartbeat_send(mavlink2.MAV_TYPE_GCS, mavlink2.MAV_AUTOPILOT_INVALID, 0, 0, 0)
        if wait:
            assert m.wait_heartbeat(timeout=5) is not None
            # Like a real autopilot, it refuses to arm while booting: wait for STANDBY.
            deadline = time.time() + 5
            while m.messages["HEARTBEAT"].system_status == mavlink2.MAV_STATE_BOOT and time.time() < deadline:
                m.recv_match(type="HEARTBEAT", blocking=True, timeout=0.5)
        if heartbeat:
            beats.append(_Heartbeats(url))
        return m

    yield connect
    for b in beats:
        b.stop.set()
        b.thread.join(2)
        b.conn.close()
    for m in conns:
        m.close()


def _command(m, command: int, *params: float, timeout: float = 5.0) -> int:  # type: ignore[no-untyped-def]
    p = [*params, *([0.0] * (7 - len(params)))]
    m.mav.command_long_send(m.target_system, m.target_component, command, 0, *p)
    end = time.time() + timeout
    while time.time() < end:
        ack = m.recv_match(type="COMMAND_ACK", blocking=True, timeout=0.5)
        if ack is not None and ack.command == command:
            return int(ack.result)
    raise AssertionError(f"no COMMAND_ACK for {command}")


def _arm_and_take_off(m, alt: float) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Arm and take off back to back, as ground stations do: DISARM_DELAY counts simulated
    seconds, and at a high speed-up a pause between the two would disarm the vehicle."""
    m.mav.command_long_send(m.target_system, m.target_component, 400, 0, 1, 0, 0, 0, 0, 0, 0)
    m.mav.command_long_send(m.target_system, m.target_component, 22, 0, 0, 0, 0, 0, 0, 0, alt)
    results: dict[int, int] = {}
    end = time.time() + 5
    while time.time() < end and len(results) < 2:
        ack = m.recv_match(type="COMMAND_ACK", blocking=True, timeout=0.5)
        if ack is not None and ack.command in (400, 22):
            results[ack.command] = int(ack.result)
    return results.get(400, -1), results.get(22, -1)


def _mission(scenario: Scenario) -> list[tuple[int, int, float, float, float, float]]:
    return square_mission(scenario, AIRPORT, 0.002, 40, last_hold_s=2)


def _upload(m, items) -> int:  # type: ignore[no-untyped-def]
    while m.recv_msg() is not None:
        pass  # forget requests left over from an earlier transfer
    m.mav.mission_count_send(m.target_system, m.target_component, len(items), 0)
    while True:
        msg = m.recv_match(type=["MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK"], blocking=True, timeout=5)
        assert msg is not None, "the vehicle stopped asking for items"
        if msg.get_type() == "MISSION_ACK":
            if msg.type == mavlink2.MAV_MISSION_INVALID_SEQUENCE:
                continue  # ArduPilot says so mid-transfer and asks again; keep going
            return int(msg.type)
        frame, cmd, p1, lat, lon, alt = items[msg.seq]
        m.mav.mission_item_int_send(
            m.target_system,
            m.target_component,
            msg.seq,
            frame,
            cmd,
            0,
            1,
            p1,
            0,
            0,
            0,
            round(lat * 1e7),
            round(lon * 1e7),
            alt,
            0,
        )


def _download(m) -> list:  # type: ignore[no-untyped-def]
    m.mav.mission_request_list_send(m.target_system, m.target_component, 0)
    count = m.recv_match(type="MISSION_COUNT", blocking=True, timeout=5).count
    items = []
    for seq in range(count):
        m.mav.mission_request_int_send(m.target_system, m.target_component, seq, 0)
        items.append(m.recv_match(type="MISSION_ITEM_INT", blocking=True, timeout=5))
    m.mav.mission_ack_send(m.target_system, m.target_component, 0, 0)
    return items


def _fly(m, timeout: float = 60.0) -> tuple[list[int], list[str]]:  # type: ignore[no-untyped-def]
    reached, said = [], []
    end = time.time() + timeout
    while time.time() < end:
        msg = m.recv_match(type=["MISSION_ITEM_REACHED", "STATUSTEXT", "HEARTBEAT"], blocking=True, timeout=0.5)
        if msg is None:
            continue
        if msg.get_type() == "MISSION_ITEM_REACHED":
            reached.append(msg.seq)
        elif msg.get_type() == "STATUSTEXT":
            said.append(msg.text)
        elif msg.get_srcComponent() != 1:
            continue  # another ground station's heartbeat, forwarded as ArduPilot does
        elif not msg.base_mode & mavlink2.MAV_MODE_FLAG_SAFETY_ARMED and reached:
            return reached, said
    raise AssertionError(f"flight did not end: reached {reached}, said {said}")


def test_pymavlink_uploads_reads_back_and_flies_a_mission(scenario: Scenario, sim_world, gcs) -> None:  # type: ignore[no-untyped-def]
    world = sim_world(speedup=60, airports=[AIRPORT], open_docks=True)
    m = gcs(world.mavlink_url(AIRPORT))
    hb = m.messages["HEARTBEAT"]
    assert (hb.type, hb.autopilot) == (mavlink2.MAV_TYPE_QUADROTOR, mavlink2.MAV_AUTOPILOT_ARDUPILOTMEGA)
    items = _mission(scenario)
    assert _upload(m, items) == mavlink2.MAV_MISSION_ACCEPTED
    back = _download(m)
    # As ArduPilot reads them back: RTL has no position, so frame 0 and x, y zero.
    assert [(it.command, it.frame) for it in back[1:]] == [(c, 0 if c == 20 else f) for f, c, *_ in items[1:]]
    assert [(it.x, it.y) for it in back[1:]] == [
        (round(la * 1e7), round(lo * 1e7)) if c != 20 else (0, 0) for _f, c, *_, la, lo, _ in items[1:]
    ]
    m.mav.request_data_stream_send(m.target_system, m.target_component, 0, 4, 1)
    assert _command(m, 176, 1, 4) == 0  # GUIDED
    assert _arm_and_take_off(m, 30) == (0, 0)
    assert _command(m, 176, 1, 3) == 0  # AUTO
    reached, said = _fly(m)
    assert reached == [1, 2, 3, 4]
    assert "Mission: 4 RTL" in said
    pos = m.messages["GLOBAL_POSITION_INT"]
    ap = scenario.airports[AIRPORT]
    assert abs(pos.lat / 1e7 - ap.lat) < 2e-5 and abs(pos.lon / 1e7 - ap.lon) < 2e-5 and pos.relative_alt < 200


def test_signed_link_refuses_unsigned_commands(sim_world, gcs) -> None:  # type: ignore[no-untyped-def]
    key = bytes(range(32))
    world = sim_world(speedup=20, airports=[AIRPORT], open_docks=True, signing_key=key)
    url = world.mavlink_url(AIRPORT)
    unsigned = gcs(url, heartbeat=False, wait=False, system=254)
    for _ in range(5):
        unsigned.mav.heartbeat_send(6, 8, 0, 0, 0)
        unsigned.mav.command_long_send(1, 1, 512, 0, 242, 0, 0, 0, 0, 0, 0)
        time.sleep(0.05)
    assert unsigned.recv_match(type="COMMAND_ACK", blocking=True, timeout=1.0) is None
    assert world.vehicles[AIRPORT].endpoint.stats.unsigned >= 5
    signed = gcs(url, heartbeat=False, wait=False)
    signed.setup_signing(key, sign_outgoing=True)
    signed.mav.heartbeat_send(6, 8, 0, 0, 0)
    assert signed.wait_heartbeat(timeout=5) is not None
    assert _command(signed, 512, 242) == 0


def test_garbage_and_mutated_frames_do_not_stop_it_flying(scenario: Scenario, sim_world, gcs) -> None:  # type: ignore[no-untyped-def]
    world = sim_world(speedup=60, airports=[AIRPORT], open_docks=True)
    m = gcs(world.mavlink_url(AIRPORT))
    rng = random.Random(7)
    enc = mavlink2.MAVLink(None, srcSystem=255, srcComponent=190)
    valid = [
        enc.command_long_encode(
            1, 1, rng.choice([400, 22, 176, 511, 512, 65000]), 0, *[rng.uniform(-1e6, 1e6) for _ in range(7)]
        ).pack(enc),
        enc.mission_count_encode(1, 1, 3, 0).pack(enc),
        enc.mission_item_int_encode(1, 1, 7, 3, 16, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0).pack(enc),
        enc.param_set_encode(1, 1, b"FENCE_RADIUS", float("nan"), 9).pack(enc),
    ]
    end = time.time() + 3.0
    sent = 0
    while time.time() < end:
        kind = rng.random()
        if kind < 0.3:
            frame = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        else:
            frame = bytearray(rng.choice(valid))
            for _ in range(rng.randrange(1, 4)):
                frame[rng.randrange(len(frame))] = rng.randrange(256)
            if rng.random() < 0.2:
                frame = frame[: rng.randrange(1, len(frame))]
            frame = bytes(frame)
        m.write(frame)
        sent += 1
    assert sent > 100
    assert world.vehicles[AIRPORT].endpoint.stats.bad > 0
    time.sleep(2.0)  # let any half-finished upload time out
    assert _upload(m, _mission(scenario)) == mavlink2.MAV_MISSION_ACCEPTED
    assert _command(m, 176, 1, 4) == 0
    assert _arm_and_take_off(m, 30) == (0, 0)
    assert _command(m, 176, 1, 3) == 0
    reached, _ = _fly(m)
    assert reached == [1, 2, 3, 4]


def test_link_loss_mid_flight_brings_the_drone_home_on_its_failsafe(scenario: Scenario, sim_world, gcs) -> None:  # type: ignore[no-untyped-def]
    from missions.vocabulary import SimControl

    world = sim_world(speedup=40, airports=[AIRPORT], open_docks=True)
    m = gcs(world.mavlink_url(AIRPORT))
    assert _command(m, 176, 1, 4) == 0
    assert _arm_and_take_off(m, 50) == (0, 0)
    time.sleep(0.5)
    world.apply(SimControl(AIRPORT, "link_loss", 1.0, 30.0))
    deadline = time.time() + 10
    copter = world.vehicles[AIRPORT].copter
    while time.time() < deadline and copter.mode.name != "RTL":
        time.sleep(0.05)
    assert copter.mode.name == "RTL" and copter.gcs_failsafe
    deadline = time.time() + 30
    while time.time() < deadline and copter.armed:
        time.sleep(0.1)
    time.sleep(0.1)  # the world steps in its own thread: let it settle the landing
    assert not copter.armed and copter.body.alt < 0.06 and (copter.body.x**2 + copter.body.y**2) ** 0.5 < 1.0


@pytest.mark.parametrize("port_index", [0, 3, 7])
def test_every_airport_has_its_own_port(sim_world, gcs, port_index: int) -> None:  # type: ignore[no-untyped-def]
    world = sim_world(speedup=5)
    airport = list(world.vehicles)[port_index]
    m = gcs(world.mavlink_url(airport), heartbeat=False)
    assert m.target_system == port_index + 1
    assert world.vehicles[airport].port == world.base_port + 10 * port_index
