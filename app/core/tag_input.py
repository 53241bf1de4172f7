"""Text people type: a bundle's names typed loosely, free tags the catalog can hold, paths.

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
NOT_A_PATH = re.compile("[\x00\ud800-\udfff]")  # no catalog path holds a NUL or undecoded bytes


def match_name(names: Iterable[str], text: str) -> str | None:
    """The one of ``names`` that ``text`` means, ignoring case and surrounding spaces."""
    names = list(names)
    typed = text.strip()
    if typed in names:
        return typed
    folded = typed.casefold()
    return next((name for name in names if name.casefold() == folded), None)


def tag_text_problem(text: str) -> str | None:
    """What is wrong with ``text`` as a tag and what to do, or None when a tag can hold it."""
    if not text.strip():
        return "a tag cannot be empty; give it some text"
    bad = NOT_XML_TEXT.search(text)
    if bad is not None and "\ud800" <= bad.group() <= "\udfff":
        return f"{text!r} holds bytes that are not UTF-8; type it again as UTF-8 text"
    if bad is not None:
        return f"{text!r} holds the control character {bad.group()!r}; take it out"
    if len(text) > MAX_TAG_LENGTH:
        return f"it has {len(text)} characters and a tag holds at most {MAX_TAG_LENGTH}; shorten it"
    return None
