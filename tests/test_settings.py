from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.settings import ConfigError, Settings


def test_yaml_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "dronepatrol.yaml"
    cfg.write_text("version: 1\ndata_dir: /srv/dronepatrol\nlog_level: WARNING\n")
    s = Settings.load(cfg)
    assert s.data_dir == Path("/srv/dronepatrol") and s.log_level == "WARNING"
    monkeypatch.setenv("DRONEPATROL_LOG_LEVEL", "DEBUG")
    assert Settings.load(cfg).log_level == "DEBUG"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("colour: red\n", "colour"), ("log_level: LOUD\n", "log_level"), ("- a\n- b\n", "mapping"), ("a: [\n", "YAML")],
)
def test_bad_settings_are_refused(tmp_path: Path, text: str, fragment: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=fragment):
        Settings.load(cfg)


def test_cli_refuses_a_bad_config_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("scenaro: x\n")
    assert main(["--config", str(cfg), "plan"]) == 2
    assert "scenaro" in capsys.readouterr().err


def test_vision_settings_are_checked(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("vision:\n  imgsz: 640\n  class_conf: {smoke: 0.4}\n")
    s = Settings.load(good)
    assert s.vision.imgsz == 640 and s.vision.class_conf == {"smoke": 0.4}
    for body, why in [
        ("vision:\n  imgsz: 300\n", "vision.imgsz"),
        ("vision:\n  class_conf: {boat: 0.5}\n", "vision.class_conf"),
        ("vision:\n  confirm_k: 7\n  confirm_n: 6\n", "cannot exceed"),
        ("vision:\n  modle: x.onnx\n", "vision.modle"),
    ]:
        bad = tmp_path / "bad.yaml"
        bad.write_text(body)
        with pytest.raises(ConfigError, match=why):
            Settings.load(bad)


def test_alert_settings_refuse_unknown_kinds_and_short_secrets(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nalerts:\n  policy: {meteor: launch}\n")
    with pytest.raises(ConfigError, match="unknown alert kinds"):
        Settings.load(bad)
    bad.write_text("version: 1\nalerts:\n  webhooks: [{url: 'https://x.example', secret: short}]\n")
    with pytest.raises(ConfigError, match="secret"):
        Settings.load(bad)
    bad.write_text("version: 1\nalerts:\n  webhooks: [{url: 'ftp://x.example', secret: 0123456789abcdef}]\n")
    with pytest.raises(ConfigError, match="url"):
        Settings.load(bad)
