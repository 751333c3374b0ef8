"""MAVLink 2 signing for the service's drones: the key, and commissioning a drone with it.

The service signs everything it sends and hears only signed messages, so a stranger on the
drone network can neither command a drone nor pass for one. The key is `signing_key` in
the settings or, when unset, made at first start in `<data_dir>/mavlink-signing.key`
(mode 0600). A drone learns it at commissioning: `dronepatrol commission` sends it
SETUP_SIGNING (unsigned while the drone has no key yet; over its USB or a private link on
a real ArduPilot), then checks that the drone's heartbeats now come signed with it.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from missions.errors import MissionsError
from orchestrator.links.mavlink_link import LinkError, MavlinkLink

log = logging.getLogger("dronepatrol.links")

KEY_FILE = "mavlink-signing.key"
EPOCH_2015 = 1420070400


class SigningError(MissionsError, ValueError):
    """A key file that cannot be used."""


def signing_timestamp(now: float | None = None) -> int:
    """MAVLink 2 signing time: 10 us units since 2015-01-01 UTC."""
    return int(((time.time() if now is None else now) - EPOCH_2015) * 100_000)


def key_at_first_start(data_dir: Path) -> tuple[bytes, Path, bool]:
    """The key in the data folder, made (32 random bytes, hex, 0600) if there is none."""
    path = data_dir / KEY_FILE
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        key = secrets.token_bytes(32)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key.hex() + "\n")
        return key, path, True
    except (OSError, UnicodeDecodeError) as exc:
        raise SigningError(f"{path}: cannot read the signing key ({exc})") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise SigningError(f"{path}: not a MAVLink signing key (64 hex digits)")
    return key, path, False


@dataclass(frozen=True)
class Commissioned:
    url: str
    ok: bool
    what: str


async def commission(url: str, key: bytes, wait_s: float = 10.0) -> Commissioned:
    """Give the drone at `url` the key and check that it signs with it."""
    signed = MavlinkLink(url, signing_key=key, name=f"{url} (signed)")
    await signed.open()
    try:
        await signed.wait_heartbeat(min(3.0, wait_s))
        return Commissioned(url, True, "already signs with this key")
    except LinkError:
        pass
    finally:
        await signed.close()
    plain = MavlinkLink(url, name=url)
    await plain.open()
    try:
        try:
            await plain.wait_heartbeat(wait_s)
        except LinkError:
            return Commissioned(url, False, "no heartbeat, signed with this key or unsigned: another key, or no drone")
        plain.send(
            mavlink2.MAVLink_setup_signing_message(
                plain.target_system, plain.target_component, list(key), signing_timestamp()
            )
        )
    finally:
        await plain.close()
    check = MavlinkLink(url, signing_key=key, name=f"{url} (signed)")
    await check.open()
    try:
        await check.wait_heartbeat(wait_s)
        return Commissioned(url, True, "key set; its heartbeats come signed")
    except LinkError:
        return Commissioned(url, False, "sent the key, but no signed heartbeat followed (refused over this link?)")
    finally:
        await check.close()
