"""The bus's users and passwords: generated at first start, kept in a file only the service
may read, and written out for Mosquitto (password list and ACL file) when the district runs
its own broker.

One user per dock (`dock-<airport>`, which may speak only for that airport), and one each
for the service, the simulator, vision, the alert system, an operator and an observer.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from missions.bus_access import BrokerAddress, BusAccessError, BusRole, BusUser, mosquitto_acl

USERS_FILE = "mqtt-users.json"


def generate_users(airports: list[str]) -> list[BusUser]:
    def password() -> str:
        return secrets.token_urlsafe(18)

    users = [BusUser(role.value, role, password()) for role in BusRole if role not in (BusRole.DOCK, BusRole.DJI_DOCK)]
    users += [BusUser(f"dock-{a}", BusRole.DOCK, password(), airport=a) for a in airports]
    return users


def dji_dock_user(airport: str, dock_sn: str, aircraft_sn: str) -> BusUser:
    """A login for one DJI dock (entered on its RC in DJI Pilot 2): it may speak only under
    its own and its aircraft's serial numbers."""
    return BusUser(f"dji-{airport}", BusRole.DJI_DOCK, secrets.token_urlsafe(18), airport, (dock_sn, aircraft_sn))


def user_for(users: list[BusUser], role: BusRole, airport: str | None = None) -> BusUser:
    for u in users:
        if u.role is role and (airport is None or u.airport == airport):
            return u
    raise BusAccessError(f"no bus user with role {role.value}" + (f" for {airport}" if airport else ""))


def save_users(path: Path, users: list[BusUser]) -> None:
    """Written 0600: these are the passwords of every client of the bus."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {"name": u.name, "role": u.role.value, "airport": u.airport, "password": u.password}
        | ({"serials": list(u.serials)} if u.serials else {})
        for u in users
    ]
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"version": 1, "users": rows}, f, indent=1)
    tmp.replace(path)


def load_users(path: Path) -> list[BusUser]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = data["users"]
        users = [
            BusUser(
                str(r["name"]),
                BusRole(r["role"]),
                str(r["password"]),
                r.get("airport") or None,
                tuple(str(x) for x in r.get("serials") or ()),
            )
            for r in rows
        ]
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BusAccessError(f"{path}: not a bus users file ({exc})") from None
    if len({u.name for u in users}) != len(users):
        raise BusAccessError(f"{path}: a user name appears twice")
    return users


def users_at_first_start(data_dir: Path, airports: list[str]) -> tuple[list[BusUser], Path, bool]:
    """The users file in the data folder, created with fresh passwords if there is none
    (then True), and a dock user added for any airport that has none yet."""
    path = data_dir / USERS_FILE
    try:
        users = load_users(path)
        created = False
    except FileNotFoundError:
        users, created = generate_users(airports), True
    missing = [a for a in airports if not any(u.role is BusRole.DOCK and u.airport == a for u in users)]
    if missing or created:
        users += [u for u in generate_users(missing) if u.role is BusRole.DOCK]
        save_users(path, users)
    return users, path, created


def write_mosquitto_files(folder: Path, users: list[BusUser]) -> tuple[Path, Path]:
    """`passwords` (user:password lines; hash them in place with `mosquitto_passwd -U`)
    and `acl` for Mosquitto's `password_file` and `acl_file`."""
    folder.mkdir(parents=True, exist_ok=True)
    passwords, acl = folder / "passwords", folder / "acl"
    fd = os.open(passwords, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.writelines(f"{u.name}:{u.password}\n" for u in users)
    acl.write_text(mosquitto_acl(users), encoding="utf-8")
    return passwords, acl


def login(address: BrokerAddress, users: list[BusUser] | None, role: BusRole) -> BrokerAddress:
    """The address logged in as the user of that role (unchanged without users: an external
    broker whose URL carries its own login)."""
    if users is None:
        return address
    user = user_for(users, role)
    return address.login(user.name, user.password)
