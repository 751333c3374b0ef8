"""The embedded broker's door and rules: who logs in, which client ids they may use, and
what each user may publish and subscribe to (missions.bus_access), with a count of every
refusal so /health and the log can say what was turned away."""

from __future__ import annotations

import hmac
import logging
from collections import Counter

from missions.bus_access import BusUser

log = logging.getLogger("dronepatrol.bus")


def _text(value: str | bytes | None) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


class BusGate:
    def __init__(self, users: list[BusUser]) -> None:
        names = [u.name for u in users]
        if len(set(names)) != len(names):
            raise ValueError("bus user names must be unique")
        self.users = {u.name: u for u in users}
        self.owners: dict[str, str] = {}
        """client id -> the user who first used it: nobody else may take that session over."""
        self.refused: Counter[str] = Counter()
        self.last_refusal: str | None = None

    def check_connect(
        self, username: str | bytes | None, password: str | bytes | None, client_id: str | None, will_topic: str | None
    ) -> str | None:
        """None to let the client in, else why not."""
        name, secret = _text(username), _text(password)
        user = self.users.get(name or "")
        if not name:
            return "anonymous client (no user name)"
        if user is None or secret is None or not hmac.compare_digest(user.password.encode(), secret.encode()):
            return f"bad user name or password for {name!r}"
        owner = self.owners.get(client_id or "")
        if owner is not None and owner != name:
            return f"user {name} may not use client id {client_id!r} (it belongs to {owner})"
        if will_topic is not None and not user.may_publish(will_topic):
            return f"user {name} may not leave a will on {will_topic!r}"
        if client_id:
            self.owners[client_id] = name
        return None

    def may(self, username: str | None, action: str, topic: str) -> bool:
        user = self.users.get(username or "")
        if user is None:
            allowed = False
        elif action == "publish":
            allowed = user.may_publish(topic)
        elif action == "subscribe":
            allowed = user.may_subscribe(topic)
        else:
            allowed = user.may_receive(topic)
        if not allowed and action != "receive":
            self.refuse("acl", f"user {username} may not {action} {topic[:120]!r}")
        return allowed

    def refuse(self, kind: str, why: str) -> None:
        """Count and log a refusal: `login` (a CONNECT turned away) or `acl` (a publish or
        subscription outside the user's grant)."""
        self.refused[kind] += 1
        self.last_refusal = why
        log.warning("bus refused: %s", why)

    def status(self) -> dict[str, object]:
        return {"users": len(self.users), "refused": dict(self.refused), "last_refusal": self.last_refusal}
