"""The embedded MQTT broker: amqtt inside the process, on loopback, when no broker URL is
configured. Production points at Mosquitto or an EMQX cluster instead; every client
speaks plain MQTT either way."""

from __future__ import annotations

import logging
import socket
import warnings
from typing import Any

from missions.bus_access import BrokerAddress, BusUser
from orchestrator.bus.gate import BusGate

log = logging.getLogger("dronepatrol.bus")


def free_tcp_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def free_udp_base(count: int, step: int = 10, host: str = "127.0.0.1") -> int:
    """A first UDP port with `count` ports free at `step` apart (one simulated drone each,
    as SITL instances are spaced), tried at random in 20000-40000."""
    import random

    for _ in range(100):
        base = random.randrange(20000, 40000 - count * step, step)
        socks: list[socket.socket] = []
        try:
            for i in range(count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((host, base + i * step))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise OSError(f"no {count} free UDP ports {step} apart on {host}")


class EmbeddedBroker:
    """An amqtt broker on loopback; start() returns its address.

    With `users`, a client must log in as one of them and may publish and subscribe only
    where its role allows (missions.bus_access); without, anyone may connect (tests of a
    single component only: every command passes users).
    """

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, users: list[BusUser] | None = None) -> None:
        self.address = BrokerAddress(host, port or free_tcp_port(host))
        self.gate = BusGate(users) if users is not None else None
        self._broker: Any = None

    async def start(self) -> BrokerAddress:
        from orchestrator.bus import broker_access

        broker_class = _broker_class()
        plugins: dict[str, Any]
        if self.gate is None:
            plugins = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
        else:
            key = broker_access.register(self.gate)
            plugins = {
                "orchestrator.bus.broker_access.LoginPlugin": {"gate": key},
                "orchestrator.bus.broker_access.TopicPlugin": {"gate": key},
            }
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.address.host}:{self.address.port}"}},
            "plugins": plugins,
        }
        broker = broker_class(config, gate=self.gate)
        self._broker = broker
        await broker.start()
        log.info(
            "embedded MQTT broker on %s (%s)",
            self.address.url,
            f"{len(self.gate.users)} users, ACLs on" if self.gate else "anonymous clients allowed",
        )
        return self.address

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None
        if self.gate is not None:
            from orchestrator.bus import broker_access

            broker_access.unregister(self.gate)


def _broker_class() -> Any:
    """amqtt's Broker, with two changes.

    - Each client's socket is closed when its session ends (amqtt leaves it for the
      garbage collector, which then warns about an unclosed transport).
    - With a gate, the CONNECT is checked (login, who owns the client id, the will's topic)
      before amqtt looks up the session: amqtt would otherwise take over or wipe the session
      of a connected client that uses the same id, and only then refuse the newcomer's
      password; an anonymous client could knock the service off the bus.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from amqtt.broker import Broker
        from amqtt.errors import MQTTError
        from amqtt.mqtt.connack import NOT_AUTHORIZED, ConnackPacket
        from amqtt.mqtt.connect import ConnectPacket

    class ClosingBroker(Broker):  # type: ignore[misc]
        def __init__(self, config: dict[str, Any], gate: BusGate | None) -> None:
            super().__init__(config)
            self.gate = gate

        async def stream_connected(self, reader, writer, listener_name):  # type: ignore[no-untyped-def]
            try:
                await super().stream_connected(reader, writer, listener_name)
            finally:
                writer.close()  # no wait: at shutdown this task is being cancelled

        async def _initialize_client_session(self, reader, writer, remote_address, remote_port):  # type: ignore[no-untyped-def]
            if self.gate is None:
                return await super()._initialize_client_session(reader, writer, remote_address, remote_port)
            connect = await ConnectPacket.from_stream(reader)
            refusal = self.gate.check_connect(
                connect.username, connect.password, connect.client_id, connect.will_topic if connect.will_flag else None
            )
            if refusal is not None:
                self.gate.refuse("login", f"{remote_address}:{remote_port}: {refusal}")
                await ConnackPacket.build(0, NOT_AUTHORIZED).to_stream(writer)
                raise MQTTError(refusal)
            return await super()._initialize_client_session(
                _Replay(connect.to_bytes()), writer, remote_address, remote_port
            )

    return ClosingBroker


class _Replay:
    """A reader that gives back a CONNECT already read, for amqtt to read it again."""

    def __init__(self, data: bytes) -> None:
        self._data = bytearray(data)

    async def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = len(self._data)
        out = bytes(self._data[:n])
        del self._data[:n]
        return out

    def feed_eof(self) -> None:
        pass
