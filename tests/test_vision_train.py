"""Training and export run offline: a tiny dataset, one epoch, with every non-local
connection refused, then the exported model loads and runs under ONNX Runtime."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from missions.scenario import load_scenario
from sim.scene.dataset import write_dataset
from vision.detector import DetectorConfig, OnnxDetector, OpenVinoDetector
from vision.train import DEFAULT_INT8, DEFAULT_WEIGHTS

pytestmark = pytest.mark.slow


class NetworkAttempt(AssertionError):
    pass


def _local(host: object) -> bool:
    if not isinstance(host, str):
        return True
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail on any connection or name lookup that leaves the machine, and list them."""
    attempts: list[str] = []
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address):  # type: ignore[no-untyped-def]
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
            attempts.append(f"connect {address}")
            raise NetworkAttempt(f"network access attempted: {address}")
        return real_connect(self, address)

    def getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not _local(host):
            attempts.append(f"lookup {host}")
            raise NetworkAttempt(f"name lookup attempted: {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield attempts


def test_train_export_and_detect_without_touching_the_network(tmp_path: Path, no_network: list[str]) -> None:
    from vision.train import TrainConfig, train

    data = tmp_path / "ds"
    write_dataset(load_scenario(None), 8, data, seed=3, progress=False)
    cfg = TrainConfig(epochs=1, imgsz=96, batch=4, threads=2)
    onnx_path = train(cfg, tmp_path / "work", data=data, install_to=tmp_path / "models")
    assert no_network == [], no_network
    assert onnx_path.is_file() and (tmp_path / "models" / DEFAULT_WEIGHTS.name).is_file()
    det = OnnxDetector(onnx_path, DetectorConfig(imgsz=96, conf=0.001))
    assert sorted(det.classes.values()) == ["fire", "smoke", "vehicle"]
    boxes = det.detect([np.zeros((120, 200, 3), np.uint8)])
    assert len(boxes) == 1
    int8 = OpenVinoDetector(tmp_path / "models" / DEFAULT_INT8.name, DetectorConfig(imgsz=96, conf=0.001))
    assert int8.classes == det.classes and len(int8.detect([np.zeros((120, 200, 3), np.uint8)])) == 1


def test_training_refuses_a_folder_without_data_yaml(tmp_path: Path) -> None:
    from vision.train import TrainConfig, train

    with pytest.raises(FileNotFoundError, match=r"data\.yaml"):
        train(TrainConfig(epochs=1), tmp_path / "work", data=tmp_path)
