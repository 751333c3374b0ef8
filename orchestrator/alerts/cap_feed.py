"""The CAP messages as an Atom feed (RFC 4287), the way public alert hubs publish CAP:
one entry per message, newest first, each linking its CAP document and carrying it
inline, so a reader can take the feed alone or fetch each message."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime

from missions.cap import CAP_NS, cap_time
from orchestrator.store.records import CapMessage

ATOM_NS = "http://www.w3.org/2005/Atom"


def cap_feed(messages: Sequence[CapMessage], base_url: str, sender: str, now: datetime) -> str:
    ET.register_namespace("", ATOM_NS)
    ET.register_namespace("cap", CAP_NS)

    def el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        e = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            e.text = text
        return e

    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    el(feed, "id", f"urn:dronepatrol:cap:{sender}")
    el(feed, "title", "Nanshan District drone patrol: CAP alerts")
    el(feed, "updated", cap_time(messages[0].sent if messages else now))
    author = el(feed, "author")
    el(author, "name", sender)
    el(feed, "link", rel="self", href=f"{base_url}/api/v1/cap/feed", type="application/atom+xml")
    for m in messages:
        alert = ET.fromstring(m.xml.split("?>", 1)[-1].strip())
        headline = alert.findtext(f"{{{CAP_NS}}}info/{{{CAP_NS}}}headline") or m.identifier
        entry = el(feed, "entry")
        el(entry, "id", f"urn:cap:{m.identifier}")
        el(entry, "title", f"{m.msg_type}: {headline}")
        el(entry, "updated", cap_time(m.sent))
        el(entry, "link", rel="alternate", href=f"{base_url}/api/v1/cap/{m.identifier}", type="application/cap+xml")
        el(entry, "category", term=m.msg_type)
        content = el(entry, "content", type="application/cap+xml")
        content.append(alert)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(feed, encoding="unicode")
