"""Who may say what on the bus: how a client reaches the broker, the roles of the bus's
users, and each role's topics.

A dock may publish only under its own airport's topics, the alert system only alerts, vision
only findings, and everyone else only reads; the same rules are enforced by the embedded
broker and written out as a Mosquitto ACL file, so a forged dock, a stolen alert-system
password or an anonymous client cannot speak for anyone else. Pure data, no client code:
`sim`, `vision` and the orchestrator all connect through `BrokerAddress.client_options()`.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from missions.errors import MissionsError
from missions.vocabulary import ALERTS_IN_TOPIC, ALERTS_REPLY_TOPIC, CAP_TOPIC, ROOT, SIM_CONTROL_TOPIC

DEFAULT_PORT = {"mqtt": 1883, "tcp": 1883, "mqtts": 8883, "ssl": 8883}


class BusAccessError(MissionsError, ValueError):
    """A broker URL, user or grant that cannot be used, or a broker that turned us away."""


@dataclass(frozen=True)
class BrokerAddress:
    """Where the broker is and how to log in: `mqtt://[user[:password]@]host[:port]`, or
    `mqtts://` for TLS (the server's certificate checked against `ca_file`, or the system's
    authorities when unset)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None

    @property
    def url(self) -> str:
        """The address without its password: what logs and terminals show."""
        user = f"{quote(self.username, safe='')}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"

    @property
    def login_url(self) -> str:
        """The address with its credentials: what one component hands another."""
        if not self.username:
            return self.url
        secret = f":{quote(self.password, safe='')}" if self.password is not None else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{quote(self.username, safe='')}{secret}@{self.host}:{self.port}"

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in DEFAULT_PORT or not parts.hostname:
            raise BusAccessError(
                f"'{_redact(url)}' is not an MQTT URL such as mqtt://127.0.0.1:1883 or mqtts://host:8883"
            )
        try:
            port = parts.port or DEFAULT_PORT[parts.scheme]
        except ValueError:
            raise BusAccessError(f"'{_redact(url)}': the port is not a number from 1 to 65535") from None
        return cls(
            parts.hostname,
            port,
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password is not None else None,
            tls=parts.scheme in ("mqtts", "ssl"),
        )

    def login(self, username: str | None, password: str | None) -> BrokerAddress:
        return replace(self, username=username, password=password)

    def with_ca(self, ca_file: str | None) -> BrokerAddress:
        return replace(self, ca_file=ca_file) if ca_file else self

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for an MQTT client (aiomqtt.Client): host, port, login, TLS."""
        options: dict[str, Any] = {"hostname": self.host, "port": self.port}
        if self.username:
            options["username"] = self.username
            options["password"] = self.password
        if self.tls:
            options["tls_context"] = ssl.create_default_context(cafile=self.ca_file)
        return options


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)


class BusRole(StrEnum):
    ORCHESTRATOR = "orchestrator"
    """The service: commands docks, publishes sorties, drones, incidents, CAP, alert decisions,
    and the findings of the detector it runs on the video of drones answering alerts."""
    DOCK = "dock"
    """One airport's dock (its cloud bridge): its own state, events, replies and video metadata."""
    SIM = "sim"
    """The simulator: every simulated dock at once, and the simulator's fault control."""
    VISION = "vision"
    """A detector: findings (of one airport's drone, or of any when no airport is given)."""
    ALERTS = "alerts"
    """The district's alert system: sends alerts, follows decisions, incidents, CAP and sorties."""
    OPERATOR = "operator"
    """An engineer at the simulator: reads everything, injects simulator faults."""
    OBSERVER = "observer"
    """A dashboard or recorder: reads everything, publishes nothing."""
    DJI_DOCK = "dji-dock"
    """One DJI dock on DJI's Cloud API topics: what it and its aircraft report, under their
    own serial numbers only, and the calls addressed to it."""


@dataclass(frozen=True)
class Grant:
    """Topic filters a user may publish to and subscribe to (MQTT wildcards allowed)."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


DOCK_LEAVES = ("osd", "state", "events", "services_reply")
DJI_FROM_DOCK = ("osd", "state", "events", "requests", "services_reply", "property/set_reply")
DJI_TO_DOCK = ("services", "events_reply", "requests_reply", "property/set")
DJI_FROM_AIRCRAFT = ("osd", "state")


def grant(role: BusRole, airport: str | None = None, serials: tuple[str, ...] = ()) -> Grant:
    """What a role may do; `airport` narrows a dock or vision user to one airport; a DJI
    dock user's `serials` are its dock's and its aircraft's serial numbers."""
    a = airport or "+"
    if role is BusRole.DOCK and airport is None:
        raise BusAccessError("a dock user belongs to one airport")
    if role is BusRole.DJI_DOCK and len(serials) != 2:
        raise BusAccessError("a DJI dock user names its dock's and its aircraft's serial numbers")
    match role:
        case BusRole.ORCHESTRATOR:
            return Grant(
                (
                    f"{ROOT}/dock/+/services",
                    f"{ROOT}/orchestrator/#",
                    f"{ROOT}/incidents/#",
                    CAP_TOPIC,
                    ALERTS_REPLY_TOPIC,
                    f"{ROOT}/vision/+/findings",
                    *(f"thing/product/+/{leaf}" for leaf in DJI_TO_DOCK),
                    "sys/product/+/status_reply",
                ),
                (f"{ROOT}/#", *(f"thing/product/+/{leaf}" for leaf in DJI_FROM_DOCK), "sys/product/+/status"),
            )
        case BusRole.DJI_DOCK:
            dock, aircraft = serials
            return Grant(
                (
                    *(f"thing/product/{dock}/{leaf}" for leaf in DJI_FROM_DOCK),
                    *(f"thing/product/{aircraft}/{leaf}" for leaf in DJI_FROM_AIRCRAFT),
                    f"sys/product/{dock}/status",
                ),
                (*(f"thing/product/{dock}/{leaf}" for leaf in DJI_TO_DOCK), f"sys/product/{dock}/status_reply"),
            )
        case BusRole.DOCK | BusRole.SIM:
            own = (*(f"{ROOT}/dock/{a}/{leaf}" for leaf in DOCK_LEAVES), f"{ROOT}/video/{a}/meta")
            reads = (f"{ROOT}/dock/{a}/services",)
            return Grant(own, (*reads, SIM_CONTROL_TOPIC)) if role is BusRole.SIM else Grant(own, reads)
        case BusRole.VISION:
            return Grant((f"{ROOT}/vision/{a}/findings",), (f"{ROOT}/video/{a}/meta",))
        case BusRole.ALERTS:
            return Grant(
                (ALERTS_IN_TOPIC,),
                (ALERTS_REPLY_TOPIC, f"{ROOT}/incidents/#", CAP_TOPIC, f"{ROOT}/orchestrator/+/sorties"),
            )
        case BusRole.OPERATOR:
            return Grant((SIM_CONTROL_TOPIC,), (f"{ROOT}/#",))
        case BusRole.OBSERVER:
            return Grant((), (f"{ROOT}/#",))
    raise BusAccessError(f"unknown role {role!r}")  # pragma: no cover - the match is exhaustive


def covers(allowed: str, requested: str) -> bool:
    """Whether the filter `allowed` includes everything `requested` names: a topic to publish
    to, or a filter to subscribe with (`requested` may use wildcards only where `allowed`
    has them: `a/+/b` covers `a/x/b` and `a/+/b`, not `a/#`)."""
    want, have = requested.split("/"), allowed.split("/")
    for i, level in enumerate(have):
        if level == "#":
            return True
        if i >= len(want) or want[i] == "#":
            return False
        if level != "+" and level != want[i]:
            return False
    return len(want) == len(have)


USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class BusUser:
    name: str
    role: BusRole
    password: str
    airport: str | None = None
    serials: tuple[str, ...] = ()
    """A DJI dock user's dock and aircraft serial numbers."""

    def __post_init__(self) -> None:
        if not USER_NAME.match(self.name):
            raise BusAccessError(f"user name {self.name!r}: letters, digits, '_', '.', '-' (at most 64)")
        if len(self.password) < 16:
            raise BusAccessError(f"user {self.name}: a password of at least 16 characters")

    @property
    def grant(self) -> Grant:
        return grant(self.role, self.airport, self.serials)

    def may_publish(self, topic: str) -> bool:
        return any(covers(p, topic) for p in self.grant.publish)

    def may_subscribe(self, topic_filter: str) -> bool:
        return any(covers(p, topic_filter) for p in self.grant.subscribe)

    def may_receive(self, topic: str) -> bool:
        return self.may_subscribe(topic)


def mosquitto_acl(users: list[BusUser]) -> str:
    """The same rules as a Mosquitto `acl_file` (anything not granted is denied)."""
    lines = ["# dronepatrol bus users: what each may publish (write) and read; generated"]
    for u in users:
        lines += ["", f"user {u.name}"]
        lines += [f"topic write {t}" for t in u.grant.publish]
        lines += [f"topic read {t}" for t in u.grant.subscribe]
    return "\n".join(lines) + "\n"


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def transport_problems(address: BrokerAddress) -> list[str]:
    """What is unsafe about reaching this broker: off this machine, the link must be
    encrypted (TLS) and the client must log in."""
    if address.host in LOOPBACK or address.host.startswith("127."):
        return []
    problems = []
    if not address.tls:
        problems.append("not on this machine and not TLS (use mqtts://)")
    if not address.username:
        problems.append("no user name (the broker must refuse anonymous clients)")
    return problems
