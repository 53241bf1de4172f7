"""The review state follows one rule (docs/architecture.md), for the CLI and the window:
``reviewed`` once a human decided every predicted family, recomputed after every edit."""

from __future__ import annotations

from catalog_fixtures import add_sample

from app.core.catalog import Catalog

pytest_plugins = ("catalog_fixtures",)


def state(catalog: Catalog, photo_id: int) -> str:
    return catalog.get_photo(photo_id).review_state


def test_accept_confident_leaves_an_uncertain_family_open(catalog: Catalog) -> None:
    photo = add_sample(catalog, 1)  # colour confident, category uncertain
    assert [t.family for t in catalog.accept_confident(photo.id, "alice")] == ["colour"]
    assert state(catalog, photo.id) == "suggested"
    catalog.accept_confident_many([photo.id], "alice")
    assert state(catalog, photo.id) == "suggested"
    catalog.set_tag(photo.id, "category", "dress", "alice")
    assert state(catalog, photo.id) == "reviewed"


def test_taking_a_decision_back_makes_the_photo_suggested_again(catalog: Catalog) -> None:
    photo = add_sample(catalog, 2)
    catalog.accept_confident(photo.id, "alice")
    catalog.set_tag(photo.id, "category", "coat", "alice")
    assert state(catalog, photo.id) == "reviewed"
    # The window's undo of the correction removes the tag it wrote.
    assert catalog.remove_tag(photo.id, "category", "coat", "alice")
    assert state(catalog, photo.id) == "suggested"
    catalog.reject(photo.id, "category", "shirt", "alice")  # a rejection is a decision
    assert state(catalog, photo.id) == "reviewed"
    catalog.remove_tag(photo.id, "colour", "red", "alice")
    assert state(catalog, photo.id) == "suggested"


def test_a_photo_without_predictions_stays_new(catalog: Catalog) -> None:
    photo = catalog.add_photo("/p/untagged.jpg", "a" * 64, 1, 1, 1)
    catalog.add_free_tag(photo.id, "sale", "alice")
    catalog.set_tag(photo.id, "colour", "red", "alice")
    assert state(catalog, photo.id) == "new"
    assert catalog.accept_confident(photo.id, "alice") == []
    assert state(catalog, photo.id) == "new"
