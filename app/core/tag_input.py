"""Tags as people type them: a bundle's names typed loosely, and free text the catalog can hold.

A spreadsheet leaves "Watch" or " striped " where the bundle says "watch" and "striped";
`vitrina set` and `vitrina import-tags` both read them through :func:`match_name`. A free
tag must fit the catalog's column and be text XML can hold (it goes into XMP sidecars).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from app.core.catalog.models import Tag

MAX_TAG_LENGTH: int = Tag.__table__.c.value.type.length  # the catalog's tags.value column
# What XML 1.0 cannot hold (C0 controls but tab, newline, CR; U+FFFE/U+FFFF), and lone
# surrogates: bytes a terminal passed that are not UTF-8 (`vitrina tag 1 $'\xff'`).
NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def match_name(names: Iterable[str], text: str) -> str | None:
    """The one of ``names`` that ``text`` means, ignoring case and surrounding spaces."""
    names = list(names)
    typed = text.strip()
    if typed in names:
        return typed
    folded = typed.casefold()
    return next((name for name in names if name.casefold() == folded), None)


def free_tag_problem(text: str) -> str | None:
    """Why ``text`` cannot be a free tag (a sentence without the fix), or None when it can."""
    if not text.strip():
        return "a free-form tag cannot be empty"
    bad = NOT_XML_TEXT.search(text)
    if bad is not None:
        what = "bytes that are not UTF-8" if "\ud800" <= bad.group() <= "\udfff" else None
        return f"{text!r} holds {what or f'the control character {bad.group()!r}'}"
    if len(text) > MAX_TAG_LENGTH:
        return f"a tag holds at most {MAX_TAG_LENGTH} characters and this one has {len(text)}"
    return None
