"""The dashboard's two catalogues (zh-CN, the default, and en-US) against the page's
code: the same keys and placeholders in both, every key the code asks for present, every
state, phase, kind, zone and role the API can send translated, and no words left in the
page's HTML outside the catalogue. The browser test (test_dashboard.py) then checks
that nothing was missing while the page ran."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import get_args

import pytest

from missions.airspace import ZoneKind
from missions.alerting import ALERT_RULES, FINDING_RULES
from orchestrator.api.models import AlertStateName, IncidentStateName, SortieStateName
from orchestrator.api.routes.web import WEB
from orchestrator.fleet.machine import Phase
from orchestrator.settings import ApiUser

LANGUAGES = ("zh-CN", "en-US")


def _catalogue(lang: str) -> dict[str, str]:
    data = json.loads((WEB / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict) and all(isinstance(v, str) and v for v in data.values()), lang
    return data


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    zh, en = (_catalogue(lang) for lang in LANGUAGES)
    assert set(zh) == set(en), set(zh) ^ set(en)
    for key in zh:
        assert _placeholders(zh[key]) == _placeholders(en[key]), key
    words = {k: re.sub(r"\{\w+\}", "", v).replace("CAP", "") for k, v in zh.items()}
    latin = [k for k, v in words.items() if re.search(r"[A-Za-z]{2,}", v)]
    assert latin == [], f"Chinese catalogue entries still in English: {latin}"


def test_every_key_the_page_asks_for_is_in_the_catalogue() -> None:
    code = (WEB / "app.js").read_text(encoding="utf-8") + (WEB / "i18n.js").read_text(encoding="utf-8")
    html = (WEB / "index.html").read_text(encoding="utf-8")
    asked = set(re.findall(r"""\bt\(\s*["']([\w.]+)["']""", code))
    for pair in re.findall(r"""\?\s*["']([a-z_]+\.[\w.]+)["']\s*:\s*["']([a-z_]+\.[\w.]+)["']""", code):
        asked |= set(pair)  # t(cond ? "a.key" : "b.key")
    asked |= set(re.findall(r'data-i18n(?:-[a-z-]+)?="([\w.]+)"', html))
    templated = set(re.findall(r"t\(`([\w.]+)\$\{", code))
    assert templated <= {"map.layer_", "step."}, f"keys built at run time need their own check: {templated}"
    assert len(asked) > 60
    for lang in LANGUAGES:
        missing = asked - set(_catalogue(lang))
        assert not missing, f"{lang}: {sorted(missing)}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_value_the_api_sends_has_words(lang: str) -> None:
    cat = _catalogue(lang)
    groups = {
        "phase": [p.value for p in Phase],
        "sortie_state": list(get_args(SortieStateName)),
        "alert_state": list(get_args(AlertStateName)),
        "incident_state": list(get_args(IncidentStateName)),
        "kind": [*ALERT_RULES, *FINDING_RULES],
        "zone": [z.value for z in ZoneKind],
        "role": list(get_args(ApiUser.model_fields["role"].annotation)),
        "step": [s for s in get_args(IncidentStateName) if s != "new"],
        "map.layer": ["relief", "zones", "patrols", "tracks", "incidents", "alerts"],
    }
    for group, values in groups.items():
        sep = "_" if group == "map.layer" else "."
        missing = [v for v in values if f"{group}{sep}{v}" not in cat]
        assert not missing, f"{lang}: {group} {missing}"


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "title"):
            self._skip += 1
        for name, value in attrs:
            if name in ("title", "alt", "aria-label", "placeholder") and value:
                self.words.append(f"{name}={value}")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and re.search(r"[A-Za-z\u4e00-\u9fff]", data) and data.strip() != "dronepatrol":
            self.words.append(data.strip())


def test_the_page_itself_holds_no_words_outside_the_catalogue() -> None:
    parser = _Text()
    parser.feed((WEB / "index.html").read_text(encoding="utf-8"))
    assert parser.words == []
