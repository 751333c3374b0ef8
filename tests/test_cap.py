"""CAP 1.2 messages: valid against the OASIS schema, identifiers per GB/T 35965.1, updates
and cancels referencing the original."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from lxml import etree

from missions.cap import CapError, CapFinding, Issuer, Reference, cap_alert, cap_identifier, parse_cap

BJ = timezone(timedelta(hours=8))
T = datetime(2026, 12, 2, 9, 41, 7, 250000, tzinfo=BJ)
NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}


@pytest.fixture(scope="module")
def schema(cap_schema: etree.XMLSchema) -> etree.XMLSchema:
    return cap_schema


def _finding(kind: str = "fire", confidence: float = 0.83) -> CapFinding:
    return CapFinding(
        kind,
        22.584,
        113.995,
        35.0,
        confidence,
        T - timedelta(minutes=2),
        "Tanglang Shan, Nanshan",
        "Fire seen by the Taoyuan drone on its forest patrol; position to within 12 m.",
        "https://dronepatrol.example/api/v1/findings/f-1/frame.jpg",
        {"drone": "taoyuan", "sortie": "S-0042"},
    )


def test_identifiers_follow_the_national_pattern_in_beijing_time() -> None:
    ident = cap_identifier(Issuer(), datetime(2026, 12, 2, 1, 41, 7, tzinfo=UTC), 3)
    assert ident == "44030500000000_20261202094107_3" and len(ident) == 31
    with pytest.raises(CapError, match="0-9"):
        cap_identifier(Issuer(), T, 10)
    with pytest.raises(CapError, match="14 digits"):
        cap_identifier(Issuer(organisation="12"), T, 0)


def test_an_alert_validates_against_the_oasis_schema_and_says_what_where_how_sure(schema: etree.XMLSchema) -> None:
    ident = cap_identifier(Issuer(), T, 0)
    xml = cap_alert(_finding(), ident, T)
    doc = etree.fromstring(xml.encode())
    schema.assertValid(doc)
    assert doc.findtext("cap:sent", namespaces=NS) == "2026-12-02T09:41:07+08:00"
    assert doc.findtext("cap:msgType", namespaces=NS) == "Alert"
    info = doc.find("cap:info", NS)
    assert info.findtext("cap:category", namespaces=NS) == "Fire"
    assert info.findtext("cap:certainty", namespaces=NS) == "Observed"
    assert info.findtext("cap:area/cap:circle", namespaces=NS) == "22.584000,113.995000 0.035"
    assert info.findtext("cap:resource/cap:mimeType", namespaces=NS) == "image/jpeg"


def test_updates_and_cancels_reference_the_original_and_validate(schema: etree.XMLSchema) -> None:
    first = cap_identifier(Issuer(), T, 0)
    ref = Reference(Issuer().sender, first, T)
    later = T + timedelta(minutes=5)
    update = cap_alert(
        _finding(confidence=0.9), cap_identifier(Issuer(), later, 0), later, msg_type="Update", references=(ref,)
    )
    cancel = cap_alert(_finding(), cap_identifier(Issuer(), later, 1), later, msg_type="Cancel", references=(ref,))
    for xml in (update, cancel):
        doc = etree.fromstring(xml.encode())
        schema.assertValid(doc)
        assert doc.findtext("cap:references", namespaces=NS) == f"dronepatrol@440305,{first},2026-12-02T09:41:07+08:00"
    assert etree.fromstring(cancel.encode()).findtext("cap:info/cap:responseType", namespaces=NS) == "AllClear"


def test_parking_and_low_confidence_map_to_their_own_categories_and_certainty(schema: etree.XMLSchema) -> None:
    xml = cap_alert(_finding("illegal_parking", 0.55), cap_identifier(Issuer(), T, 0), T)
    doc = etree.fromstring(xml.encode())
    schema.assertValid(doc)
    assert doc.findtext("cap:info/cap:category", namespaces=NS) == "Transport"
    assert doc.findtext("cap:info/cap:certainty", namespaces=NS) == "Likely"


def test_malformed_requests_for_cap_are_refused_with_reasons() -> None:
    ident = cap_identifier(Issuer(), T, 0)
    with pytest.raises(CapError, match="must reference"):
        cap_alert(_finding(), ident, T, msg_type="Cancel")
    with pytest.raises(CapError, match="does not follow"):
        cap_alert(_finding(), "not-an-id", T)
    with pytest.raises(CapError, match="no CAP mapping"):
        cap_alert(_finding("boat"), ident, T)
    with pytest.raises(CapError, match="offset"):
        cap_alert(_finding(), ident, datetime(2026, 12, 2, 9))


def test_an_inbound_cap_alert_is_read_for_kind_place_and_urgency() -> None:
    xml = cap_alert(_finding(), "44030500000000_20261202094107_0", T)
    cap = parse_cap(xml)
    assert (cap.kind, cap.priority, cap.msg_type) == ("fire", 1, "Alert")
    assert (cap.lat, cap.lon, cap.radius_m) == (22.584, 113.995, 35.0)
    assert cap.identifier == "44030500000000_20261202094107_0" and cap.sender == "dronepatrol@440305"
    parking = parse_cap(cap_alert(_finding("illegal_parking"), "44030500000000_20261202094107_1", T))
    assert (parking.kind, parking.priority) == ("illegal_parking", 3)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda x: x.replace("<alert", "<!DOCTYPE a [<!ENTITY e 'x'>]><alert", 1), "DOCTYPE"),
        (lambda x: x[: len(x) // 2], "well-formed"),
        (lambda x: x.replace("urn:oasis:names:tc:emergency:cap:1.2", "urn:example"), "not a CAP 1.2"),
        (lambda x: x.replace("<status>Actual</status>", "<status>Test</status>"), "status Test"),
        (lambda x: x.replace("<msgType>Alert</msgType>", "<msgType>Ack</msgType>"), "msgType Ack"),
        (lambda x: x.replace("Fire seen by patrol drone", "Concert").replace(">Fire<", ">Other<"), "no alert kind"),
        (lambda x: x.replace("22.584000,113.995000 0.035", "north of the park"), "coordinates"),
        (lambda x: x.replace("22.584000,113.995000", "95.0,113.995000"), "WGS 84"),
    ],
)
def test_malformed_inbound_cap_is_refused_with_the_reason(mutate, reason: str) -> None:  # type: ignore[no-untyped-def]
    xml = cap_alert(_finding(), "44030500000000_20261202094107_0", T)
    with pytest.raises(CapError, match=reason):
        parse_cap(mutate(xml))


def test_a_doctype_in_utf16_is_refused_as_well() -> None:
    """A byte search for `<!DOCTYPE` misses it in UTF-16; the parser must refuse it itself."""
    xml = cap_alert(_finding(), "44030500000000_20261202094107_0", T)
    body = xml.split("?>", 1)[-1]
    bomb = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY e "x">]>' + body
    with pytest.raises(CapError, match="DOCTYPE"):
        parse_cap(bomb.encode("utf-16"))
    plain = '<?xml version="1.0" encoding="UTF-16"?>' + body
    assert parse_cap(plain.encode("utf-16")).kind == "fire", "UTF-16 itself is fine"


def test_every_alert_speaks_chinese_too_and_chinese_alerts_are_read(schema: etree.XMLSchema) -> None:
    """A zh-CN <info> block beside the en-US one (what a GB/T 35965.1 platform reads), valid
    against the schema; an inbound alert written only in Chinese is understood."""
    ident = cap_identifier(Issuer(), T, 1)
    doc = etree.fromstring(cap_alert(_finding("smoke"), ident, T).encode())
    schema.assertValid(doc)
    blocks = {i.findtext("cap:language", namespaces=NS): i for i in doc.findall("cap:info", NS)}
    assert set(blocks) == {"en-US", "zh-CN"}
    zh = blocks["zh-CN"]
    assert zh.findtext("cap:event", namespaces=NS) == "无人机巡查发现烟雾"
    assert "北纬 22.58400" in zh.findtext("cap:headline", namespaces=NS)
    assert "置信度 83%" in zh.findtext("cap:description", namespaces=NS)
    assert zh.findtext("cap:area/cap:circle", namespaces=NS) == blocks["en-US"].findtext(
        "cap:area/cap:circle", namespaces=NS
    )
    only_zh = cap_alert(_finding("fire"), cap_identifier(Issuer(), T, 2), T, languages=("zh-CN",))
    read = parse_cap(only_zh.replace("无人机巡查发现火情", "塘朗山森林火情"))
    assert read.kind == "fire" and read.headline.startswith("塘朗山森林火情")
    with pytest.raises(CapError, match="languages"):
        cap_alert(_finding(), ident, T, languages=("fr-FR",))
