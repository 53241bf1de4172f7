"""Catalog behaviour, on SQLite and PostgreSQL: photos, tags, audit, queries, embeddings."""

from __future__ import annotations

import numpy as np
import pytest
from catalog_fixtures import add_sample, decision, vector
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.catalog import (
    FREE_FORM,
    Catalog,
    DuplicatePhotoError,
    NewPhoto,
    PhotoFilter,
    PhotoNotFoundError,
)
from app.core.errors import CatalogError, ConflictError

pytest_plugins = ("catalog_fixtures",)


def test_add_tagged_photo_stores_photo_predictions_and_embedding(catalog: Catalog) -> None:
    photo = add_sample(catalog, 1)
    assert photo.review_state == "suggested" and photo.bundle == "tiny@1"
    assert catalog.find_by_hash(f"{1:064x}") == photo
    assert catalog.get_photo(photo.id) == photo
    predictions = catalog.predictions(photo.id)
    assert [(p.family, p.rank) for p in predictions] == [
        ("category", 1),
        ("category", 2),
        ("category", 3),
        ("colour", 1),
        ("colour", 2),
        ("colour", 3),
    ]
    top = {p.family: p for p in predictions if p.rank == 1}
    assert top["colour"].confident and not top["category"].confident
    np.testing.assert_array_equal(catalog.embedding(photo.id, "tiny@1/16"), vector(1))
    assert photo.added_at.tzinfo is not None


def test_photo_without_decisions_is_new(catalog: Catalog) -> None:
    photo = catalog.add_photo("/p/x.png", "f" * 64, 10, 2, 2)
    assert photo.review_state == "new" and catalog.predictions(photo.id) == []
    assert catalog.photos_missing_embedding("tiny@1/16") == [photo.id]
    assert catalog.count_photos_missing_embedding("tiny@1/16") == 1


def test_duplicate_content_is_refused_and_names_the_existing_photo(catalog: Catalog) -> None:
    first = add_sample(catalog, 3)
    with pytest.raises(DuplicatePhotoError) as caught:
        catalog.add_photo("/elsewhere/copy.jpg", first.sha256, 1, 1, 1)
    assert caught.value.existing == first
    assert "/elsewhere/copy.jpg" in str(caught.value) and first.path in str(caught.value)
    assert catalog.count() == 1


def test_failed_add_leaves_nothing_behind(catalog: Catalog) -> None:
    broken = [decision("colour", 0.5, ("red", 0.9)), object()]  # second one is not a decision
    with pytest.raises(AttributeError):
        catalog.add_tagged_photo("/p/a.jpg", "a" * 64, 1, 1, 1, "b@1", broken, "k", vector(0))
    assert catalog.count() == 0
    assert list(catalog.embeddings("k")) == []


def new_photo(seed: int, sha_seed: int | None = None, label: str | None = "red") -> NewPhoto:
    return NewPhoto(
        path=f"/batch/b{seed:05d}.jpg",
        sha256=f"{seed if sha_seed is None else sha_seed:064x}",
        size_bytes=10,
        width=4,
        height=3,
        bundle_label="tiny@1",
        decisions=[decision("colour", 0.5, (label, 0.9))],
        bundle_key="tiny@1/16",
        embedding=vector(seed),
    )


def test_batch_add_reports_each_duplicate_in_place(catalog: Catalog) -> None:
    known = add_sample(catalog, 1)
    results = catalog.add_tagged_photos(
        [new_photo(2), new_photo(3, sha_seed=1), new_photo(4), new_photo(5, sha_seed=2)]
    )
    first, again, second, copy = results
    assert isinstance(again, DuplicatePhotoError) and again.existing == known
    assert isinstance(copy, DuplicatePhotoError) and copy.existing == first
    assert "/batch/b00005.jpg" in str(copy)
    assert catalog.count() == 3
    assert [p.label for p in catalog.predictions(second.id)] == ["red"]
    np.testing.assert_array_equal(catalog.embedding(first.id, "tiny@1/16"), vector(2))


def test_batch_with_a_bad_photo_saves_the_others_whole(catalog: Catalog) -> None:
    results = catalog.add_tagged_photos([new_photo(1), new_photo(2, label=None), new_photo(3)])
    assert isinstance(results[1], CatalogError)
    assert catalog.count() == 2 and catalog.find_by_hash(f"{2:064x}") is None
    assert {photo_id for photo_id, _ in catalog.embeddings("tiny@1/16")} == {
        results[0].id,
        results[2].id,
    }


def test_resolve_by_id_and_path(catalog: Catalog) -> None:
    photo = add_sample(catalog, 4)
    assert catalog.resolve(str(photo.id)) == photo
    assert catalog.resolve(photo.path) == photo
    with pytest.raises(PhotoNotFoundError, match="not in the catalog"):
        catalog.resolve("/nowhere.jpg")
    with pytest.raises(PhotoNotFoundError):
        catalog.get_photo(999)


def test_accept_set_reject_replace_the_family_value_and_audit_each_change(
    catalog: Catalog,
) -> None:
    photo = add_sample(catalog, 5)
    assert catalog.tag_version(photo.id, "colour") == 0
    accepted = catalog.accept(photo.id, "colour", "red", "alice", expected_version=0)
    assert accepted is not None
    assert (accepted.status, accepted.source, accepted.version) == ("accepted", "model", 1)
    assert accepted.model == "tiny@1"
    corrected = catalog.set_tag(photo.id, "colour", "blue", "bob", expected_version=1)
    assert corrected is not None and (corrected.value, corrected.source) == ("blue", "human")
    assert [t.value for t in catalog.tags(photo.id)] == ["blue"]
    assert catalog.accept(photo.id, "colour", "blue", "bob") is None  # nothing changed
    assert catalog.reject(photo.id, "colour", "red", "carol") is None  # blue stays accepted
    rejected = catalog.reject(photo.id, "colour", "blue", "carol", expected_version=2)
    assert rejected is not None and rejected.status == "rejected" and rejected.version == 3
    events = catalog.audit(photo.id)
    assert [
        (e.action, e.value, e.previous_value, e.previous_status, e.version) for e in events
    ] == [
        ("accept", "red", None, None, 1),
        ("set", "blue", "red", "accepted", 2),
        ("reject", "blue", "blue", "accepted", 3),
    ]
    assert [e.actor for e in events] == ["alice", "bob", "carol"]


def test_stale_expected_version_raises_conflict_naming_the_other_actor(catalog: Catalog) -> None:
    photo = add_sample(catalog, 6)
    seen = catalog.tag_version(photo.id, "colour")
    catalog.accept(photo.id, "colour", "red", "alice", expected_version=seen)
    with pytest.raises(ConflictError) as caught:
        catalog.set_tag(photo.id, "colour", "green", "bob", expected_version=seen)
    message = str(caught.value)
    assert f"Photo {photo.id}" in message and "'colour'" in message and "alice" in message
    assert [t.value for t in catalog.tags(photo.id)] == ["red"]
    assert len(catalog.audit(photo.id)) == 1
    assert isinstance(caught.value, CatalogError)


def test_version_keeps_counting_after_removal(catalog: Catalog) -> None:
    """A slot removed and re-created must not reuse an old version (no ABA)."""
    photo = add_sample(catalog, 7)
    catalog.accept(photo.id, "colour", "red", "alice")
    assert catalog.remove_tag(photo.id, "colour", "red", "bob", expected_version=1)
    assert catalog.tag_version(photo.id, "colour") == 2
    with pytest.raises(ConflictError, match="removed by bob"):
        catalog.accept(photo.id, "colour", "blue", "carol", expected_version=1)
    recreated = catalog.accept(photo.id, "colour", "blue", "carol", expected_version=2)
    assert recreated is not None and recreated.version == 3
    with pytest.raises(ConflictError):
        catalog.set_tag(photo.id, "colour", "green", "dave", expected_version=1)


def test_free_tags_are_added_once_and_removed(catalog: Catalog) -> None:
    photo = add_sample(catalog, 8)
    tag = catalog.add_free_tag(photo.id, "summer sale", "alice")
    assert tag is not None and tag.family is None and tag.source == "human"
    assert catalog.add_free_tag(photo.id, "summer sale", "bob") is None
    catalog.add_free_tag(photo.id, "outlet", "alice")
    assert [t.value for t in catalog.tags(photo.id)] == ["outlet", "summer sale"]
    assert catalog.remove_tag(photo.id, None, "outlet", "alice")
    assert not catalog.remove_tag(photo.id, None, "outlet", "alice")
    assert catalog.tag_version(photo.id, None, "outlet") == 2
    assert [e.action for e in catalog.audit(photo.id)] == ["add", "add", "remove"]


def test_review_state_follows_human_decisions(catalog: Catalog) -> None:
    photo = add_sample(catalog, 9)
    catalog.accept(photo.id, "colour", "red", "alice")
    assert catalog.get_photo(photo.id).review_state == "suggested"
    catalog.reject(photo.id, "category", "shirt", "alice")
    assert catalog.get_photo(photo.id).review_state == "reviewed"


def test_accept_confident_accepts_only_undecided_confident_families(catalog: Catalog) -> None:
    photo = add_sample(catalog, 10)
    accepted = catalog.accept_confident(photo.id, "alice")
    assert [(t.family, t.value) for t in accepted] == [("colour", "red")]
    assert catalog.get_photo(photo.id).review_state == "suggested"  # category is open
    assert catalog.accept_confident(photo.id, "alice") == []
    other = add_sample(catalog, 11)
    catalog.set_tag(other.id, "colour", "black", "bob")
    accepted = catalog.accept_confident(other.id, "alice", thresholds={"category": 0.3})
    assert [(t.family, t.value) for t in accepted] == [("category", "shirt")]
    assert {t.family: t.value for t in catalog.tags(other.id)}["colour"] == "black"
    assert [e.action for e in catalog.audit(other.id)] == ["set", "accept_confident"]


def test_accept_confident_can_use_fresh_decisions(catalog: Catalog) -> None:
    photo = add_sample(catalog, 12)
    fresh = [decision("category", 0.6, ("coat", 0.9), ("shirt", 0.1))]
    accepted = catalog.accept_confident(photo.id, "alice", decisions=fresh)
    assert [(t.family, t.value) for t in accepted] == [("category", "coat")]


def test_bulk_edits_are_one_transaction(catalog: Catalog) -> None:
    ids = [add_sample(catalog, seed).id for seed in range(20, 25)]
    catalog.accept(ids[2], "colour", "red", "alice")
    with pytest.raises(ConflictError):
        catalog.set_tag_many(ids, "colour", "navy", "bob", expected_versions={ids[2]: 0})
    assert all(catalog.tags(i) == [] for i in ids if i != ids[2])
    rows = catalog.set_tag_many(ids, "colour", "navy", "bob")
    assert [r.value for r in rows if r] == ["navy"] * 5
    catalog.add_free_tag_many(ids[:2], "sale", "bob")
    assert catalog.remove_tag_many(ids, None, "sale", "bob") == [True, True, False, False, False]
    confident = catalog.accept_confident_many(ids, "carol", thresholds={"category": 0.1})
    assert sorted(confident) == ids
    assert all(len(tags) == 1 for tags in confident.values())
    assert catalog.count(PhotoFilter(review_state="reviewed")) == 5


def test_edit_of_missing_photo_says_so(catalog: Catalog) -> None:
    with pytest.raises(PhotoNotFoundError, match="Photo 4242"):
        catalog.accept(4242, "colour", "red", "alice")


def test_filters_search_tags_labels_state_and_uncertainty(catalog: Catalog) -> None:
    plain = add_sample(catalog, 30)
    dress = add_sample(
        catalog,
        31,
        [decision("category", 0.6, ("dress", 0.9)), decision("colour", 0.5, ("Blue", 0.3))],
    )
    untagged = catalog.add_photo("/other/100%_wool.jpg", "e" * 64, 5, 5, 5)
    catalog.add_free_tag(plain.id, "Summer_Sale", "alice")

    def ids(**kwargs: object) -> list[int]:
        flt = PhotoFilter(**kwargs)  # type: ignore[arg-type]
        listed = [p.id for p in catalog.list_photos(flt, 0, 100)]
        assert catalog.count(flt) == len(listed) and catalog.photo_ids(flt) == listed
        return listed

    assert ids() == [plain.id, dress.id, untagged.id]
    assert ids(text="summer_") == [plain.id]  # "_" is literal, not a wildcard
    assert ids(text="100%") == [untagged.id]
    assert ids(text="blue") == [dress.id]  # top label, any case
    assert ids(text="dress") == [dress.id]  # rank-2 "dress" of plain does not count
    assert ids(family="category", label="dress") == [dress.id]
    assert ids(family="colour") == [plain.id, dress.id]
    assert ids(review_state="new") == [untagged.id]
    assert ids(uncertain_only=True) == [plain.id, dress.id]
    assert ids(uncertain_only=True, thresholds={"category": 0.3, "colour": 0.2}) == []
    catalog.set_tag(plain.id, "colour", "teal", "alice")
    assert ids(family="colour", label="teal") == [plain.id]
    assert [p.id for p in catalog.list_photos(None, 1, 1)] == [dress.id]


def test_uncertain_among_a_page_matches_the_uncertain_filter(catalog: Catalog) -> None:
    plain = add_sample(catalog, 32)
    sure = add_sample(
        catalog,
        33,
        [decision("category", 0.5, ("dress", 0.9)), decision("colour", 0.5, ("blue", 0.8))],
    )
    untagged = catalog.add_photo("/other/none.jpg", "f" * 64, 5, 5, 5)
    page = [plain.id, sure.id, untagged.id]
    assert catalog.uncertain_among(page) == set(catalog.photo_ids(PhotoFilter(uncertain_only=True)))
    assert catalog.uncertain_among(page) == {plain.id}
    assert catalog.uncertain_among([sure.id, untagged.id]) == set()
    assert catalog.uncertain_among(page, {"category": 0.95}) == {plain.id, sure.id}
    assert catalog.uncertain_among(page, {"category": 0.0, "colour": 0.0}) == set()
    assert catalog.uncertain_among([]) == set()


def test_stats_counts_states_tags_and_confident_share(catalog: Catalog) -> None:
    first, second = add_sample(catalog, 40), add_sample(catalog, 41)
    catalog.add_photo("/p/new.jpg", "d" * 64, 1, 1, 1)
    catalog.accept(first.id, "colour", "red", "alice")
    catalog.reject(first.id, "category", "shirt", "alice")
    catalog.add_free_tag(second.id, "sale", "alice")
    stats = catalog.stats()
    assert stats["photos"] == 3
    assert stats["review_state"] == {"new": 1, "suggested": 1, "reviewed": 1}
    assert stats["tags"] == {
        FREE_FORM: {"accepted": 1, "rejected": 0},
        "category": {"accepted": 0, "rejected": 1},
        "colour": {"accepted": 1, "rejected": 0},
    }
    assert stats["confident_share"] == {"category": 0.0, "colour": 1.0}
    assert catalog.stats({"category": 0.4})["confident_share"]["category"] == 1.0
    assert stats["embeddings"] == {"tiny@1/16": 2}


def test_embeddings_stream_in_chunks_in_id_order(catalog: Catalog) -> None:
    ids = [add_sample(catalog, seed).id for seed in range(50, 57)]
    chunks = list(catalog.embedding_chunks("tiny@1/16", chunk_size=3))
    assert [len(c[0]) for c in chunks] == [3, 3, 1]
    assert chunks[0][1].dtype == np.float32 and chunks[0][1].shape == (3, 16)
    streamed = list(catalog.embeddings("tiny@1/16"))
    assert [i for i, _ in streamed] == ids
    np.testing.assert_array_equal(streamed[-1][1], vector(56))
    assert list(catalog.embeddings("other@2/8")) == []
    catalog.store_embedding(ids[0], "other@2/8", np.ones(8))
    assert [i for i, _ in catalog.embeddings("other@2/8")] == [ids[0]]
    assert catalog.photos_missing_embedding("other@2/8") == ids[1:]


def test_count_of_photos_missing_embedding_matches_their_list(catalog: Catalog) -> None:
    ids = [add_sample(catalog, seed).id for seed in range(70, 75)]
    for photo_id in ids[:2]:
        catalog.store_embedding(photo_id, "other@2/8", np.ones(8))
    missing = catalog.photos_missing_embedding("other@2/8")
    assert missing == ids[2:]
    assert catalog.count_photos_missing_embedding("other@2/8") == len(missing) == 3
    assert catalog.photos_missing_embedding("tiny@1/16") == []
    assert catalog.count_photos_missing_embedding("tiny@1/16") == 0


def test_export_rows_all_and_accepted_only(catalog: Catalog) -> None:
    first, second = add_sample(catalog, 60), add_sample(catalog, 61)
    catalog.accept(first.id, "colour", "red", "alice")
    catalog.reject(first.id, "category", "shirt", "alice")
    catalog.add_free_tag(first.id, "sale", "alice")
    rows = list(catalog.export_rows())
    assert [r.photo.id for r in rows] == [first.id, second.id]
    assert rows[0].accepted == {"colour": "red"} and rows[0].rejected == {"category": "shirt"}
    assert rows[0].free_tags == ("sale",)
    assert rows[1].top["category"].label == "shirt" and not rows[1].top["category"].confident
    only = list(catalog.export_rows(accepted_only=True))
    assert [r.photo.id for r in only] == [first.id] and only[0].top == {}


def test_record_predictions_replaces_them(catalog: Catalog) -> None:
    photo = catalog.add_photo("/p/late.jpg", "c" * 64, 1, 1, 1)
    catalog.record_predictions(photo.id, "tiny@2", [decision("colour", 0.5, ("red", 0.7))])
    assert [p.bundle for p in catalog.predictions(photo.id)] == ["tiny@2"]
    assert catalog.get_photo(photo.id).review_state == "suggested"


def test_remove_photos_cascades(catalog: Catalog) -> None:
    photo = add_sample(catalog, 70)
    other = add_sample(catalog, 71)
    catalog.accept(photo.id, "colour", "red", "alice")
    catalog.add_free_tag(photo.id, "summer sale")
    catalog.reject(other.id, "colour", "red", "alice")
    assert catalog.accepted_tag_count([photo.id, other.id, 999]) == 2
    assert catalog.remove_photos([photo.id, 999]).ids == [photo.id]
    assert catalog.remove_photos([photo.id]).ids == []
    assert catalog.count() == 1 and catalog.predictions(photo.id) == []
    assert {event.photo_id for event in catalog.audit()} == {other.id}
    assert [i for i, _ in catalog.embeddings("tiny@1/16")] == [other.id]
    assert catalog.accepted_tag_count([photo.id, other.id]) == 0


def _without_ids(rows: list) -> list[dict]:
    return [{k: v for k, v in vars(row).items() if k != "id"} for row in rows]


def test_restore_photos_puts_back_every_row(catalog: Catalog) -> None:
    """An undone removal: the photo, its suggestions, tags, audit and embedding as they were,
    and its tags' versions go on counting."""
    photo = add_sample(catalog, 72)
    catalog.accept(photo.id, "colour", "red", "alice")
    catalog.add_free_tag(photo.id, "summer sale")
    catalog.reject(photo.id, "pattern", "striped", "bob")
    before = (
        catalog.get_photo(photo.id),
        catalog.predictions(photo.id),
        _without_ids(catalog.tags(photo.id)),
        _without_ids(catalog.audit(photo.id)),
    )
    removed = catalog.remove_photos([photo.id])
    assert catalog.count() == 0
    assert catalog.restore_photos(removed) == {photo.id: photo.id}
    after = (
        catalog.get_photo(photo.id),
        catalog.predictions(photo.id),
        _without_ids(catalog.tags(photo.id)),
        _without_ids(catalog.audit(photo.id)),
    )
    assert after == before
    np.testing.assert_array_equal(catalog.embedding(photo.id, "tiny@1/16"), vector(72))
    red = next(tag for tag in catalog.tags(photo.id) if tag.family == "colour")
    assert catalog.set_tag(photo.id, "colour", "blue", expected_version=red.version) is not None


def test_restore_leaves_out_photos_imported_again_and_renumbers_taken_ids(
    catalog: Catalog,
) -> None:
    first, second = add_sample(catalog, 73), add_sample(catalog, 74)
    catalog.accept(second.id, "colour", "red", "alice")
    removed = catalog.remove_photos([first.id, second.id])
    again = add_sample(catalog, 73)  # the same content, imported since
    newcomer = add_sample(catalog, 75)  # SQLite may hand it a removed photo's id
    back = catalog.restore_photos(removed)
    assert list(back) == [second.id]
    assert back[second.id] not in {again.id, newcomer.id}
    restored = catalog.get_photo(back[second.id])
    assert restored.sha256 == second.sha256 and restored.path == second.path
    assert [tag.value for tag in catalog.tags(restored.id)] == ["red"]
    assert catalog.count() == 3 and catalog.get_photo(again.id).sha256 == first.sha256


def test_reopen_keeps_everything(catalog_url: str) -> None:
    with Catalog.open(catalog_url) as first:
        photo = add_sample(first, 80)
        first.accept(photo.id, "colour", "red", "alice")
    with Catalog.open(catalog_url) as again:
        assert [t.value for t in again.tags(photo.id)] == ["red"]
        assert again.dialect in ("sqlite", "postgresql")


@given(
    values=st.lists(st.text(alphabet="aB%_\\ é", min_size=1, max_size=6), min_size=1, max_size=5),
    query=st.text(alphabet="aB%_\\ é", min_size=1, max_size=3),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_text_filter_is_a_literal_case_insensitive_substring(values: list[str], query: str) -> None:
    with Catalog.open("sqlite:///:memory:") as catalog:
        for seed, value in enumerate(values):
            photo = catalog.add_photo(f"/{seed}.jpg", f"{seed:064x}", 1, 1, 1)
            catalog.add_free_tag(photo.id, value, "prop")
        needle = query.strip().lower()
        expected = [
            seed + 1
            for seed, value in enumerate(values)
            if needle in value.lower() or needle in f"/{seed}.jpg"
        ]
        assert catalog.photo_ids(PhotoFilter(text=query)) == expected


def test_an_unknown_photo_names_the_catalog_file_and_odd_digits_are_paths(tmp_path) -> None:
    from app.core.catalog import PhotoNotFoundError

    path = tmp_path / "c.sqlite"
    with Catalog.open(path) as catalog:
        with pytest.raises(PhotoNotFoundError) as info:
            catalog.resolve("12")
        assert f"not in the catalog {path}" in str(info.value) and "Catalog(" not in str(info.value)
        with pytest.raises(PhotoNotFoundError, match="²"):
            catalog.resolve("²")  # a digit to str.isdigit, but no photo id
