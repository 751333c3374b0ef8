"""Who may say what on the bus: the grants, the users file, and the embedded broker that
enforces them (a forged dock, an anonymous client, a stolen session id)."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable
from pathlib import Path

import aiomqtt
import pytest

from missions.bus_access import (
    BrokerAddress,
    BusAccessError,
    BusRole,
    BusUser,
    covers,
    mosquitto_acl,
    transport_problems,
)
from missions.vocabulary import ALERTS_IN_TOPIC, CAP_TOPIC, SIM_CONTROL_TOPIC, dock_topic, findings_topic
from orchestrator.bus.broker import EmbeddedBroker
from orchestrator.bus.client import BusClient
from orchestrator.bus.users import (
    dji_dock_user,
    generate_users,
    load_users,
    login,
    save_users,
    user_for,
    users_at_first_start,
)
from tests.simbus import eventually

AIRPORTS = ["xili", "taoyuan"]


def test_wildcards_cover_only_what_they_name() -> None:
    assert covers("a/+/b", "a/x/b") and covers("a/+/b", "a/+/b") and covers("a/#", "a/x/y")
    assert not covers("a/+/b", "a/#") and not covers("a/x/b", "a/+/b") and not covers("a/+/b", "a/x/b/c")
    assert not covers("a/x", "a/#") and covers("#", "a/#") and not covers("a/+", "a")


def test_each_role_speaks_only_for_itself() -> None:
    users = generate_users(AIRPORTS)
    dock = next(u for u in users if u.name == "dock-xili")
    assert dock.may_publish(dock_topic("xili", "state")) and dock.may_publish(dock_topic("xili", "services_reply"))
    assert not dock.may_publish(dock_topic("taoyuan", "state")), "a dock may not speak for another"
    assert not dock.may_publish(dock_topic("xili", "services")), "a dock may not command itself"
    assert not dock.may_publish(ALERTS_IN_TOPIC) and not dock.may_subscribe("dronepatrol/v1/#")
    assert dock.may_subscribe(dock_topic("xili", "services")) and not dock.may_subscribe(dock_topic("+", "services"))
    alerts = user_for(users, BusRole.ALERTS)
    assert alerts.may_publish(ALERTS_IN_TOPIC) and not alerts.may_publish(CAP_TOPIC)
    assert alerts.may_subscribe("dronepatrol/v1/incidents/+") and not alerts.may_subscribe("dronepatrol/v1/#")
    vision = user_for(users, BusRole.VISION)
    assert vision.may_publish(findings_topic("xili")) and not vision.may_publish(dock_topic("xili", "state"))
    orchestrator = user_for(users, BusRole.ORCHESTRATOR)
    assert orchestrator.may_publish(dock_topic("xili", "services")) and not orchestrator.may_publish(ALERTS_IN_TOPIC)
    assert orchestrator.may_publish(findings_topic("xili")), "the service runs vision on alert flights"
    assert not orchestrator.may_publish(SIM_CONTROL_TOPIC) and user_for(users, BusRole.OPERATOR).may_publish(
        SIM_CONTROL_TOPIC
    )
    observer = user_for(users, BusRole.OBSERVER)
    assert not observer.grant.publish and observer.may_subscribe("dronepatrol/v1/#")
    assert len({u.password for u in users}) == len(users), "every user has its own password"


def test_the_mosquitto_acl_lists_every_user_and_nothing_more() -> None:
    users = generate_users(["xili"])
    acl = mosquitto_acl(users)
    assert "user dock-xili\ntopic write dronepatrol/v1/dock/xili/osd\n" in acl
    assert "topic read dronepatrol/v1/dock/xili/services\n" in acl
    block = acl.split("user observer\n")[1].split("\n\n")[0]
    assert "write" not in block and "topic read dronepatrol/v1/#" in block
    assert all(u.password not in acl for u in users)


def test_broker_urls_carry_a_login_and_never_show_the_password() -> None:
    a = BrokerAddress.parse("mqtts://dock-xili:p%40ss%3Aw0rd@broker.example:9883")
    assert (a.host, a.port, a.username, a.password, a.tls) == ("broker.example", 9883, "dock-xili", "p@ss:w0rd", True)
    assert a.url == "mqtts://dock-xili@broker.example:9883" and "w0rd" not in a.url
    assert BrokerAddress.parse(a.login_url) == a
    assert BrokerAddress.parse("mqtts://h").port == 8883 and BrokerAddress.parse("h").port == 1883
    with pytest.raises(BusAccessError) as err:
        BrokerAddress.parse("http://u:secret@h")
    assert "secret" not in str(err.value)
    assert "tls_context" in a.client_options() and a.client_options()["password"] == "p@ss:w0rd"
    assert transport_problems(BrokerAddress.parse("mqtt://127.0.0.1")) == []
    assert len(transport_problems(BrokerAddress.parse("mqtt://10.0.0.5"))) == 2
    assert transport_problems(BrokerAddress.parse("mqtts://u:p@10.0.0.5")) == []


def test_users_are_made_once_and_kept_private(tmp_path: Path) -> None:
    users, path, created = users_at_first_start(tmp_path, AIRPORTS)
    assert created and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again, _, created_again = users_at_first_start(tmp_path, AIRPORTS)
    assert not created_again and again == users, "a restart keeps the passwords the docks were given"
    more, _, _ = users_at_first_start(tmp_path, [*AIRPORTS, "shekou"])
    assert [u.name for u in more if u.name.startswith("dock-")] == ["dock-xili", "dock-taoyuan", "dock-shekou"]
    assert load_users(path) == more
    path.write_text('{"users": [{"name": "x", "role": "pilot", "password": "0123456789abcdef"}]}')
    with pytest.raises(BusAccessError, match="not a bus users file"):
        load_users(path)
    with pytest.raises(BusAccessError, match="at least 16"):
        BusUser("dock-a", BusRole.DOCK, "short", "a")


def _listener() -> tuple[list[tuple[str, bytes]], asyncio.Event, Callable[[str, bytes], None]]:
    """What the service hears, and an event set when the legitimate message (b"real") came."""
    got: list[tuple[str, bytes]] = []
    second = asyncio.Event()

    def on(topic: str, payload: bytes) -> None:
        got.append((topic, payload))
        if payload == b"real":
            second.set()

    return got, second, on


async def _connect(address: BrokerAddress, identifier: str, clean: bool = True) -> aiomqtt.Client:
    client = aiomqtt.Client(**address.client_options(), identifier=identifier, clean_session=clean, timeout=5)
    await client.__aenter__()
    return client


def test_the_embedded_broker_refuses_strangers_and_forgeries() -> None:
    users = generate_users(AIRPORTS)

    async def run() -> None:
        broker = EmbeddedBroker(users=users)
        address = await broker.start()
        as_role = lambda role: login(address, users, role)  # noqa: E731
        dock_xili = address.login("dock-xili", user_for(users, BusRole.DOCK, "xili").password)
        got, second, on = _listener()

        service = BusClient(as_role(BusRole.ORCHESTRATOR), "dronepatrol-orchestrator")
        service.subscribe("dronepatrol/v1/#", on)
        await service.start()
        try:
            for bad, why in (
                (address, "anonymous"),
                (address.login("dock-xili", "not-the-password-at-all"), "wrong password"),
                (address.login("nobody", "0123456789abcdef0"), "unknown user"),
            ):
                with pytest.raises(aiomqtt.MqttError):
                    await _connect(bad, f"intruder-{why}")
            # Nobody else may take over the service's session, whatever they log in as.
            for thief in (address, as_role(BusRole.ALERTS)):
                with pytest.raises(aiomqtt.MqttError):
                    await _connect(thief, "dronepatrol-orchestrator", clean=True)
            dock = await _connect(dock_xili, "dock-xili-bridge")
            try:
                await dock.publish(dock_topic("taoyuan", "state"), b"forged", qos=1)
                await dock.publish(ALERTS_IN_TOPIC, b"forged", qos=1)
                await dock.publish(dock_topic("xili", "events"), b"real", qos=1)
                await asyncio.wait_for(second.wait(), 10)
            finally:
                await dock.__aexit__(None, None, None)
            assert got == [(dock_topic("xili", "events"), b"real")], "the forged messages were delivered"
            assert service.connected.is_set() and service.reconnects == 0, "the service was knocked off"
            assert broker.gate is not None
            refused = broker.gate.status()["refused"]
            assert refused == {"login": 5, "acl": 2}, refused
        finally:
            await service.stop()
            await broker.stop()

    asyncio.run(run())


def test_a_subscription_outside_the_grant_gets_nothing() -> None:
    users = generate_users(AIRPORTS)

    async def run() -> None:
        broker = EmbeddedBroker(users=users)
        address = await broker.start()
        try:
            vision = await _connect(login(address, users, BusRole.VISION), "vision-1")
            try:
                granted = await vision.subscribe(ALERTS_IN_TOPIC, qos=1)
                assert [getattr(g, "value", g) for g in granted] == [128], granted
                granted = await vision.subscribe("dronepatrol/v1/video/+/meta", qos=1)
                assert [getattr(g, "value", g) for g in granted] == [1], granted
            finally:
                await vision.__aexit__(None, None, None)
        finally:
            await broker.stop()

    asyncio.run(run())


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throw-away authority and a certificate for 127.0.0.1 signed by it (Debian's openssl)."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
    )
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    run(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-extfile", "san.ext",
    )  # fmt: skip
    return folder / "ca.crt", folder / "server.crt", folder / "server.key"


@pytest.mark.slow
def test_mosquitto_with_our_passwords_acl_and_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same users and rules on Debian's Mosquitto: `dronepatrol bus-users` writes the
    password list (hashed by Mosquitto's own mosquitto_passwd) and the ACL file; TLS with a
    certificate the client checks."""
    import shutil
    import subprocess

    from orchestrator.bus.users import USERS_FILE
    from orchestrator.cli import main
    from tests.services import MosquittoProcess

    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd is not installed")
    monkeypatch.setenv("DRONEPATROL_DATA_DIR", str(tmp_path))
    assert main(["bus-users", "--out", str(tmp_path / "bus")]) == 0
    users = load_users(tmp_path / USERS_FILE)
    assert [u.name for u in users if u.role is BusRole.DOCK][:2] == ["dock-xili", "dock-taoyuan"]
    passwords, acl = tmp_path / "bus" / "passwords", tmp_path / "bus" / "acl"
    subprocess.run(["mosquitto_passwd", "-U", str(passwords)], check=True, capture_output=True)
    assert all(u.password not in passwords.read_text() for u in users), "the passwords are hashed"
    ca, cert, key = _certificates(tmp_path)
    broker = MosquittoProcess(
        tmp_path,
        extra=f"allow_anonymous false\npassword_file {passwords}\nacl_file {acl}\n"
        f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n",
    )
    broker.start()
    plain = BrokerAddress("127.0.0.1", broker.port)
    tls = BrokerAddress("127.0.0.1", broker.port, tls=True, ca_file=str(ca))

    async def run() -> None:
        got, second, on = _listener()

        with pytest.raises(aiomqtt.MqttError):
            await _connect(tls, "anonymous")
        with pytest.raises(aiomqtt.MqttError):
            await _connect(login(plain, users, BusRole.OBSERVER), "no-tls")
        service = BusClient(login(tls, users, BusRole.ORCHESTRATOR), "dronepatrol-orchestrator")
        service.subscribe("dronepatrol/v1/#", on)
        await service.start()
        try:
            dock = await _connect(tls.login("dock-xili", user_for(users, BusRole.DOCK, "xili").password), "dock-x")
            try:
                await dock.publish(dock_topic("taoyuan", "state"), b"forged", qos=1)
                await dock.publish(ALERTS_IN_TOPIC, b"forged", qos=1)
                await dock.publish(dock_topic("xili", "events"), b"real", qos=1)
                await asyncio.wait_for(second.wait(), 10)
            finally:
                await dock.__aexit__(None, None, None)
            assert got == [(dock_topic("xili", "events"), b"real")]
        finally:
            await service.stop()

    try:
        asyncio.run(run())
    finally:
        broker.stop()


def test_a_dji_dock_speaks_only_under_its_own_serial_numbers(tmp_path: Path) -> None:
    """DJI's topics carry the serial number: a dock's login may publish for itself and its
    aircraft and hear the calls addressed to it, nothing for another dock."""
    dock_sn, aircraft_sn, other = "7CTXN00000001", "1581F5BK0000A1", "7CTXN00000002"
    user = dji_dock_user("yuehai", dock_sn, aircraft_sn)
    g = user.grant
    assert user.may_publish(f"thing/product/{dock_sn}/events") and user.may_publish(f"sys/product/{dock_sn}/status")
    assert user.may_publish(f"thing/product/{aircraft_sn}/osd")
    assert not user.may_publish(f"thing/product/{other}/osd") and not user.may_publish(
        f"thing/product/{dock_sn}/services"
    )
    assert not user.may_publish(f"thing/product/{aircraft_sn}/events"), "an aircraft's events come through its dock"
    assert user.may_subscribe(f"thing/product/{dock_sn}/services") and not user.may_subscribe(
        "thing/product/+/services"
    )
    assert f"topic write thing/product/{aircraft_sn}/osd" in mosquitto_acl([user]) and g.subscribe
    users = [*generate_users(AIRPORTS), user]
    save_users(tmp_path / "users.json", users)
    assert load_users(tmp_path / "users.json")[-1] == user, "the serial numbers are kept"

    async def run() -> None:
        broker = EmbeddedBroker(users=users)
        address = await broker.start()
        got, second, on = _listener()
        service = BusClient(login(address, users, BusRole.ORCHESTRATOR), "dronepatrol-orchestrator")
        service.subscribe("thing/product/+/osd", on)
        await service.start()
        try:
            dock = await _connect(address.login(user.name, user.password), "dji-yuehai")
            try:
                await dock.publish(f"thing/product/{other}/osd", b"forged", qos=1)
                await dock.publish(f"thing/product/{dock_sn}/osd", b"real", qos=1)
                await dock.publish(f"thing/product/{aircraft_sn}/osd", b"aircraft", qos=1)
                await asyncio.wait_for(second.wait(), 10)
                await eventually(lambda: len(got) >= 2, 5)  # the aircraft's, published after, arrives after
            finally:
                await dock.__aexit__(None, None, None)
            assert got == [(f"thing/product/{dock_sn}/osd", b"real"), (f"thing/product/{aircraft_sn}/osd", b"aircraft")]
            assert broker.gate is not None and broker.gate.status()["refused"] == {"acl": 1}
        finally:
            await service.stop()
            await broker.stop()

    asyncio.run(run())
