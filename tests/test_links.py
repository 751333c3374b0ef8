"""The orchestrator's MAVLink link against the simulator: bytes over UDP, not calls."""

from __future__ import annotations

import asyncio
import time

import pytest

from missions.formats.items import MissionItem
from missions.scenario import Scenario
from missions.vocabulary import SimControl
from orchestrator.links.address import AddressError, LinkAddress
from orchestrator.links.mavlink_link import CommandFailed, LinkError, MavlinkLink
from orchestrator.links.mission import MissionError, compare, download, upload, upload_verified
from tests.conftest import square_mission

AIRPORT = "shekou"
GUIDED, AUTO = 4, 3


def test_link_urls_parse_or_say_what_is_expected() -> None:
    assert LinkAddress.parse("udpout:127.0.0.1:14560") == LinkAddress("udpout", "127.0.0.1", 14560)
    assert LinkAddress.parse("udp:0.0.0.0:14550").kind == "udpin"
    assert LinkAddress.parse("tcp://10.0.0.2:5760") == LinkAddress("tcp", "10.0.0.2", 5760)
    for bad, why in [
        ("udpout:host", "HOST:PORT"),
        ("http://x:1", "not a MAVLink URL"),
        ("serial:/dev/ttyS0", "serial"),
    ]:
        with pytest.raises(AddressError, match=why):
            LinkAddress.parse(bad)


def _items(rows: list[tuple[int, int, float, float, float, float]]) -> list[MissionItem]:
    return [MissionItem(i, f, c, p1, x=lat, y=lon, z=alt) for i, (f, c, p1, lat, lon, alt) in enumerate(rows)]


def _long_mission(scenario: Scenario, n: int) -> list[MissionItem]:
    ap = scenario.airports[AIRPORT]
    rows = [(0, 16, 0.0, ap.lat, ap.lon, ap.elevation_m), (3, 22, 0.0, ap.lat, ap.lon, 30.0)]
    rows += [(3, 16, 0.0, ap.lat + 1e-4 * (k % 10), ap.lon + 1e-4 * (k // 10), 40.0) for k in range(n - 3)]
    rows.append((3, 20, 0.0, 0.0, 0.0, 0.0))
    return _items(rows)


async def _link(world, speedup: float, **kw) -> MavlinkLink:  # type: ignore[no-untyped-def]
    link = await MavlinkLink(world.mavlink_url(AIRPORT), heartbeat_hz=max(1.0, speedup), **kw).open()
    await link.wait_heartbeat(5)
    deadline = time.monotonic() + 5
    while link.latest["HEARTBEAT"].system_status == 0 or link.latest["HEARTBEAT"].system_status == 1:
        if time.monotonic() > deadline:
            break
        await link.wait_for("HEARTBEAT", 2)
    return link


def test_guided_arm_takeoff_with_acks_and_a_refusal_named(sim_world, scenario: Scenario) -> None:  # type: ignore[no-untyped-def]
    world = sim_world(speedup=10, airports=[AIRPORT], open_docks=True)

    async def run() -> None:
        link = await _link(world, 10)
        try:
            with pytest.raises(CommandFailed, match="NAV_TAKEOFF refused: FAILED"):
                await link.takeoff(20)  # disarmed
            await link.set_mode(GUIDED)
            await link.arm()
            await link.takeoff(25)
            await link.request_stream("GLOBAL_POSITION_INT", 4)
            msg = await link.wait_for(lambda m: m.get_type() == "GLOBAL_POSITION_INT" and m.relative_alt > 10_000, 10)
            assert msg.relative_alt > 10_000
            assert link.link_ok
        finally:
            await link.close()

    asyncio.run(run())
    assert world.vehicles[AIRPORT].copter.airborne


def test_a_mission_is_uploaded_read_back_and_flown_in_auto(sim_world, scenario: Scenario) -> None:  # type: ignore[no-untyped-def]
    world = sim_world(speedup=10, airports=[AIRPORT], open_docks=True)
    items = _items(square_mission(scenario, AIRPORT, 0.0004, 40))

    async def run() -> list[MissionItem]:
        link = await _link(world, 10)
        try:
            held = await upload_verified(link, items)
            await link.set_mode(GUIDED)
            await link.arm()
            await link.set_mode(AUTO)
            await link.wait_for(lambda m: m.get_type() == "MISSION_ITEM_REACHED" and m.seq >= 2, 30)
            return held
        finally:
            await link.close()

    held = asyncio.run(run())
    assert compare(items, held) is None and len(held) == len(items)
    assert held[0].x == pytest.approx(scenario.airports[AIRPORT].lat, abs=1e-6), "item 0 is the vehicle's home"


def test_a_100_item_upload_survives_5_percent_packet_loss(sim_world, scenario: Scenario) -> None:  # type: ignore[no-untyped-def]
    world = sim_world(speedup=1, airports=[AIRPORT], open_docks=True)
    items = _long_mission(scenario, 100)

    async def run() -> float:
        link = await _link(world, 1)
        world.apply(SimControl(AIRPORT, "packet_loss", 0.05, 0))
        try:
            t0 = time.monotonic()
            await upload(link, items, wait_s=0.2)
            took = time.monotonic() - t0
            world.apply(SimControl(AIRPORT, "packet_loss", 0.0, 0))
            held = await download(link)
            assert compare(items, held) is None
            return took
        finally:
            await link.close()

    took = asyncio.run(run())
    assert took < 10, f"{took:.1f} s"
    assert world.vehicles[AIRPORT].endpoint.stats.dropped > 0, "the loss really happened"


def test_an_item_the_autopilot_does_not_know_is_refused_by_name(sim_world, scenario: Scenario) -> None:  # type: ignore[no-untyped-def]
    world = sim_world(speedup=5, airports=[AIRPORT], open_docks=True)
    items = _items(square_mission(scenario, AIRPORT, 0.0004, 40))
    items[2] = MissionItem(2, 3, 31000, x=items[2].x, y=items[2].y, z=40)

    async def run() -> None:
        link = await _link(world, 5)
        try:
            with pytest.raises(MissionError, match="UNSUPPORTED"):
                await upload(link, items)
        finally:
            await link.close()

    asyncio.run(run())


def test_signed_links_talk_and_unsigned_ones_are_not_heard(sim_world) -> None:  # type: ignore[no-untyped-def]
    key = bytes(range(32))
    world = sim_world(speedup=5, airports=[AIRPORT], open_docks=True, signing_key=key)

    async def run() -> None:
        link = await _link(world, 5, signing_key=key)
        try:
            await link.set_mode(GUIDED)
        finally:
            await link.close()
        unsigned = await MavlinkLink(world.mavlink_url(AIRPORT), heartbeat_hz=5).open()
        try:
            with pytest.raises(LinkError, match="no heartbeat"):
                await unsigned.wait_heartbeat(1.5)  # its packets are dropped: the vehicle never answers it
        finally:
            await unsigned.close()

    asyncio.run(run())
    assert world.vehicles[AIRPORT].endpoint.stats.unsigned > 0


def test_link_loss_is_seen_when_the_heartbeat_stops(sim_world) -> None:  # type: ignore[no-untyped-def]
    world = sim_world(speedup=5, airports=[AIRPORT], open_docks=True)

    async def run() -> None:
        link = await _link(world, 5, link_timeout_s=1.0)
        try:
            assert link.link_ok
            world.apply(SimControl(AIRPORT, "link_loss", 1, 0))
            await asyncio.sleep(1.5)
            assert not link.link_ok
            with pytest.raises(CommandFailed):
                await link.command(176, 1, GUIDED, wait_s=0.2, retries=1)
        finally:
            await link.close()

    asyncio.run(run())


def test_commands_before_any_vehicle_is_heard_are_refused() -> None:
    async def run() -> None:
        link = await MavlinkLink("udpout:127.0.0.1:9").open()
        try:
            with pytest.raises(LinkError, match="no vehicle heard"):
                await link.arm()
            with pytest.raises(LinkError, match="no heartbeat"):
                await link.wait_heartbeat(0.3)
        finally:
            await link.close()

    asyncio.run(run())


def test_a_udpin_link_answers_only_the_vehicle_it_first_heard() -> None:
    """A stranger sending to the service's `udpin:` port (garbage, or a heartbeat of its own)
    neither redirects the commands nor is answered while the vehicle is heard."""
    import socket

    from pymavlink.dialects.v20 import ardupilotmega as mavlink2

    from tests.conftest import free_udp_base
    from tests.simbus import eventually

    port = free_udp_base(1)

    def endpoint() -> tuple[socket.socket, mavlink2.MAVLink]:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)  # read on the event loop: never wait there
        return s, mavlink2.MAVLink(None, srcSystem=1, srcComponent=1)

    def heartbeat(mav: mavlink2.MAVLink) -> bytes:
        return bytes(mav.heartbeat_encode(2, 3, 0, 0, 3).pack(mav))

    def drained(s: socket.socket) -> int:
        """Datagrams waiting on the socket, read."""
        n = 0
        while True:
            try:
                s.recvfrom(4096)
            except BlockingIOError:
                return n
            n += 1

    vehicle, vmav = endpoint()
    stranger, smav = endpoint()

    async def run() -> tuple[int, int, int]:
        link = await MavlinkLink(f"udpin:127.0.0.1:{port}", heartbeat_hz=20).open()
        try:
            vehicle.sendto(heartbeat(vmav), ("127.0.0.1", port))
            await link.wait_heartbeat(5)
            for _ in range(20):
                vehicle.sendto(heartbeat(vmav), ("127.0.0.1", port))
                stranger.sendto(heartbeat(smav), ("127.0.0.1", port))
                stranger.sendto(b"\xfd\x09garbage", ("127.0.0.1", port))
            assert await eventually(lambda: link.foreign >= 40, 5), link.foreign
            drained(vehicle)
            answered = 0

            def vehicle_answered() -> bool:  # the link's own heartbeats (20 Hz) keep coming
                nonlocal answered
                vehicle.sendto(heartbeat(vmav), ("127.0.0.1", port))
                answered += drained(vehicle)
                return answered >= 3

            assert await eventually(vehicle_answered, 5, every=0.02)
            return answered, drained(stranger), link.foreign
        finally:
            await link.close()

    try:
        to_vehicle, to_stranger, foreign = asyncio.run(run())
    finally:
        vehicle.close()
        stranger.close()
    assert to_vehicle >= 3, "the vehicle is answered"
    assert to_stranger == 0, "the stranger took the link over"
    assert foreign == 40


def test_commissioning_gives_the_drone_the_service_key_and_no_one_else_can(  # type: ignore[no-untyped-def]
    sim_world, tmp_path, capsys
) -> None:
    """`dronepatrol commission`: the key made at first start goes to the drone over
    SETUP_SIGNING; afterwards the drone is heard only signed with it, and a second
    commissioning with another key (a stranger's) is refused."""
    from orchestrator.cli import main
    from orchestrator.links.signing import KEY_FILE

    world = sim_world(speedup=5, airports=[AIRPORT], open_docks=True)
    config = tmp_path / "dronepatrol.yaml"
    config.write_text(f"data_dir: {tmp_path}\ndrones: {{{AIRPORT}: '{world.mavlink_url(AIRPORT)}'}}\n")
    assert main(["commission", "--config", str(config), "--wait", "5"]) == 0
    assert "key set; its heartbeats come signed" in capsys.readouterr().out
    key = bytes.fromhex((tmp_path / KEY_FILE).read_text())
    assert main(["commission", "--config", str(config), "--wait", "5"]) == 0
    assert "already signs with this key" in capsys.readouterr().out

    async def run() -> None:
        link = await _link(world, 5, signing_key=key)
        await link.close()
        unsigned = await MavlinkLink(world.mavlink_url(AIRPORT), heartbeat_hz=5).open()
        try:
            with pytest.raises(LinkError, match="no heartbeat"):
                await unsigned.wait_heartbeat(1.5)
        finally:
            await unsigned.close()

    asyncio.run(run())
    other = tmp_path / "other"
    config.write_text(f"data_dir: {other}\ndrones: {{{AIRPORT}: '{world.mavlink_url(AIRPORT)}'}}\n")
    assert main(["commission", "--config", str(config), "--wait", "2"]) == 2
    assert f"{AIRPORT} FAILED" in capsys.readouterr().out
    assert world.vehicles[AIRPORT].endpoint.mav.signing.secret_key == key, "a stranger replaced the key"
