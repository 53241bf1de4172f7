"""The words a catalog row holds for states: one spelling each, compared as plain strings
(a StrEnum equals its value), so the database, the window and the CLI agree."""

from __future__ import annotations

from enum import StrEnum


class ReviewState(StrEnum):
    """Where a photo stands: no suggestions, suggestions not all decided, all decided."""

    NEW = "new"
    SUGGESTED = "suggested"
    REVIEWED = "reviewed"


class TagStatus(StrEnum):
    """A decision in a tag slot: the value holds, or the photo is not that."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


class TagSource(StrEnum):
    """Who put the value in the slot: a suggestion accepted as is, or a person's own."""

    MODEL = "model"
    HUMAN = "human"
