"""Tag edits the window makes, each returning how to undo it (Qt-free; runs off the UI thread).

Every edit goes through the Catalog's methods, with the version the user last saw,
so an edit never overwrites a change it did not see (ConflictError instead).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.core.catalog.states import TagSource, TagStatus

if TYPE_CHECKING:
    from app.core.catalog import Catalog, TagRow


Undo = Callable[["Catalog"], None]


@dataclass
class EditResult:
    """Photos the edit touched, and how to take it back."""

    photo_ids: list[int]
    undo: Undo
    changed: int = 0
    notes: list[str] = field(default_factory=list)
    # Set by ``undo`` when the edit checked versions: the same edit expecting the versions
    # the undo left, so a redo is not refused as a conflict with its own undo.
    redo: Callable[[Catalog], EditResult] | None = None


def _slot(catalog: Catalog, photo_id: int, family: str | None, value: str) -> TagRow | None:
    for tag in catalog.tags(photo_id):
        if tag.family == family and (family is not None or tag.value == value):
            return tag
    return None


def _restore(
    catalog: Catalog, photo_id: int, family: str | None, before: TagRow | None, after: TagRow
) -> None:
    """Put a slot back as it was before ``after`` was written."""
    if before is None:
        catalog.remove_tag(photo_id, family, after.value, expected_version=after.version)
        return
    assert family is not None
    if before.status == TagStatus.ACCEPTED:
        write = catalog.set_tag if before.source == TagSource.HUMAN else catalog.accept
        write(photo_id, family, before.value, expected_version=after.version)
        return
    catalog.remove_tag(photo_id, family, after.value, expected_version=after.version)
    catalog.reject(photo_id, family, before.value)


def change_slot(
    catalog: Catalog,
    action: str,
    photo_ids: Iterable[int],
    family: str | None,
    value: str,
    seen_versions: Mapping[int, int] | None = None,
) -> EditResult:
    """``action`` is accept, reject, set or add (a free-form tag, ``family`` None)."""
    ids = sorted(set(photo_ids))
    before = {pid: _slot(catalog, pid, family, value) for pid in ids}
    if action == "add":
        after = catalog.add_free_tag_many(ids, value)
    else:
        many = {
            "accept": catalog.accept_many,
            "reject": catalog.reject_many,
            "set": catalog.set_tag_many,
        }
        assert family is not None
        after = many[action](ids, family, value, expected_versions=seen_versions)
    written = [(pid, tag) for pid, tag in zip(ids, after, strict=True) if tag is not None]

    def undo(cat: Catalog) -> None:
        for pid, tag in written:
            _restore(cat, pid, family, before[pid], tag)
        if seen_versions is not None:
            now = {pid: cat.tag_version(pid, family, value) for pid in seen_versions}
            result.redo = lambda c: change_slot(c, action, ids, family, value, now)

    result = EditResult(ids, undo, changed=len(written))
    return result


def remove_free_tag(catalog: Catalog, photo_id: int, tag: TagRow) -> EditResult:
    catalog.remove_tag(photo_id, None, tag.value, expected_version=tag.version)

    def undo(cat: Catalog) -> None:
        cat.add_free_tag(photo_id, tag.value)

    return EditResult([photo_id], undo, changed=1)


def accept_confident(
    catalog: Catalog, photo_ids: Iterable[int], thresholds: Mapping[str, float]
) -> EditResult:
    """Accept every undecided confident suggestion; a photo is reviewed only if no
    uncertain family is left open, and the undo's removals make it suggested again."""
    ids = sorted(set(photo_ids))
    accepted = catalog.accept_confident_many(ids, thresholds=dict(thresholds))
    written = [(pid, tag) for pid, tags in accepted.items() for tag in tags]

    def undo(cat: Catalog) -> None:
        for pid, tag in written:
            cat.remove_tag(pid, tag.family, tag.value, expected_version=tag.version)

    return EditResult(ids, undo, changed=len(written))
