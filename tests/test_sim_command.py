"""`dronepatrol sim` passes its video options on: no cameras, a chosen port."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from orchestrator.bus.broker import free_tcp_port
from tests.conftest import REPO, free_udp_base

pytestmark = pytest.mark.slow


def _announced(*extra: str) -> list[str]:
    """The lines `dronepatrol sim` prints before it runs (up to its `mqtt` line)."""
    cmd = [sys.executable, "-m", "orchestrator.cli", "sim", "--base-port", str(free_udp_base()), *extra]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
            if line.startswith("mqtt "):
                return lines
        raise AssertionError(f"sim did not start: {lines}")
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()


def test_no_video_starts_no_cameras() -> None:
    lines = _announced("--no-video")
    assert sum(" mavlink " in line for line in lines) == 8
    assert not any(" video " in line for line in lines), lines


def test_the_video_port_is_the_one_asked_for() -> None:
    port = free_tcp_port("127.0.0.1")
    lines = _announced("--video-port", str(port), "--video-fps", "2")
    videos = [line for line in lines if " video " in line]
    assert len(videos) == 8 and all(f":{port}/" in line for line in videos), videos
