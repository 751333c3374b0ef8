"""Identifiers that arrive from outside (finding ids, alert senders' ids) become MQTT topic
levels, file names, URL path segments and HTML attributes. One rule keeps every one of
those safe: a letter or digit, then letters, digits, `.`, `_` or `-`, at most 128 in all.
No `/` (a topic level or a path segment), no `+` or `#` (MQTT wildcards, which a broker
refuses in a published topic), no quotes, spaces or `<>` (HTML), no NUL."""

from __future__ import annotations

import re

IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_identifier(text: object, what: str = "id") -> str:
    """`text` when it is a safe identifier, else ValueError saying why."""
    if not isinstance(text, str):
        raise ValueError(f"{what}: a string is expected")
    if not IDENTIFIER.fullmatch(text):
        shown = text[:40].encode("unicode_escape").decode()
        raise ValueError(
            f"{what} {shown!r}: letters, digits, '.', '_' and '-' only (first a letter or digit), at most 128"
        )
    return text
