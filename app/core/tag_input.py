"""Text people type: a bundle's names typed loosely, free tags the catalog can hold, paths.

A spreadsheet leaves "Watch" or " striped " where the bundle says "watch" and "striped";
`vitrina set` and `vitrina import-tags` both read them through :func:`match_name`. A free
tag must fit the catalog's column and be text XML can hold (it goes into XMP sidecars).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from app.core.catalog.models import Tag
from app.core.errors import VitrinaError

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


def family_label(
    families: Mapping[str, Sequence[str]], typed_family: str, typed_label: str
) -> tuple[str, str, bool]:
    """(family, label, new) as the catalog stores a typed pair.

    The family must be one of ``families`` (any case and spaces). The label is the
    family's own spelling when it names one of its labels; otherwise it is the shop's own
    label (``new``), kept lower-case with single spaces, which the catalog learns to
    suggest once it has enough examples (app.core.learning). Raises VitrinaError.
    """
    family = match_name(families, typed_family)
    if family is None:
        raise VitrinaError(
            f"{typed_family!r} is not a family of the bundle (its families: "
            f"{', '.join(families)}); for a free-form tag use the free_tags column or "
            "`vitrina tag PHOTO TEXT`."
        )
    known = match_name(families[family], typed_label)
    if known is not None:
        return family, known, False
    label = " ".join(typed_label.split()).lower()
    problem = tag_text_problem(label)
    if problem is None and not label[:1].isalnum():
        problem = "a new label starts with a letter or a digit (is it a spreadsheet formula?)"
    if problem:
        raise VitrinaError(f"{family} {typed_label!r}: {problem}.")
    return family, label, True


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
