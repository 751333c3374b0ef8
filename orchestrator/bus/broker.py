"""The embedded MQTT broker: amqtt inside the process, on loopback, when no broker URL is
configured. Production points at Mosquitto or an EMQX cluster instead; every client
speaks plain MQTT either way."""

from __future__ import annotations

import logging
import socket
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("dronepatrol.bus")


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise ValueError(f"'{url}' is not an MQTT URL such as mqtt://127.0.0.1:1883")
        return cls(parts.hostname, parts.port or 1883)


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
    """An amqtt broker on loopback; start() returns its address."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.address = BrokerAddress(host, port or free_tcp_port(host))
        self._broker: Any = None

    async def start(self) -> BrokerAddress:
        broker_class = _broker_class()
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.address.host}:{self.address.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        broker = broker_class(config)
        self._broker = broker
        await broker.start()
        log.info("embedded MQTT broker on %s", self.address.url)
        return self.address

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None


def _broker_class() -> Any:
    """amqtt's Broker, closing each client's socket when its session ends.

    amqtt leaves the server side of a finished connection for the garbage collector,
    which then warns about an unclosed transport; closing it here keeps shutdown clean.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from amqtt.broker import Broker

    class ClosingBroker(Broker):  # type: ignore[misc]
        async def stream_connected(self, reader, writer, listener_name):  # type: ignore[no-untyped-def]
            try:
                await super().stream_connected(reader, writer, listener_name)
            finally:
                writer.close()  # no wait: at shutdown this task is being cancelled

    return ClosingBroker
