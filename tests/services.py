"""The real servers the integration tests run against: PostgreSQL and Mosquitto.

`.ci/run` installs and starts both from Debian's packages and exports their URLs:
DRONEPATROL_TEST_POSTGRES (an admin URL; each test gets its own fresh database) and
DRONEPATROL_TEST_MQTT. Unset, those variants are skipped, unless
DRONEPATROL_TEST_REQUIRE_SERVICES=1 (CI), where a missing server is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from orchestrator.bus.broker import free_tcp_port

POSTGRES_ENV = "DRONEPATROL_TEST_POSTGRES"
MQTT_ENV = "DRONEPATROL_TEST_MQTT"


def _missing(what: str, env: str) -> None:
    message = f"{what} not configured ({env} unset)"
    if os.environ.get("DRONEPATROL_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    admin = os.environ.get(POSTGRES_ENV)
    if not admin:
        _missing("PostgreSQL", POSTGRES_ENV)
        raise AssertionError  # unreachable: _missing raises
    import psycopg

    name = f"dp_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'dronepatrol.db'}"
    else:
        with postgres_database() as url:
            yield url


def mosquitto_url() -> str:
    url = os.environ.get(MQTT_ENV)
    if not url:
        _missing("Mosquitto", MQTT_ENV)
    return str(url)


class MosquittoProcess:
    """A Mosquitto of our own on a free port (persistence on), for tests that restart it or
    configure it (`extra`: lines that replace `allow_anonymous true`)."""

    def __init__(self, workdir: Path, extra: str = "") -> None:
        binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
        if binary is None:
            _missing("the mosquitto binary", "PATH")
        self.binary = str(binary)
        self.port = free_tcp_port()
        self.workdir = workdir
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n" + (extra or "allow_anonymous true\n") + f"persistence true\n"
            f"persistence_location {workdir}/\nautosave_interval 1\nlog_type all\n"
            # As root it would drop to its own user, who may not write our folder.
             + ("user root\n" if os.geteuid() == 0 else ""),
            encoding="utf-8",
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log = (self.workdir / "mosquitto.log").open("ab")
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=self.log, stderr=self.log)
        import socket

        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(5)
            self.proc = None
            self.log.close()


CHROMIUM_ENV = "DRONEPATROL_TEST_CHROMIUM"


def chromium_path() -> str:
    """Debian's Chromium for Playwright (never a browser Playwright downloads)."""
    path = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or ""
    if not path or not Path(path).exists():
        _missing("Chromium", CHROMIUM_ENV)
    return path


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Headless on a machine with no network: no background connections to refuse."""
