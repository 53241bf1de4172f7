"""The window's learning from reviews (Tools menu, the offer, the threshold panel), on a
catalog the tiny bundle tagged and reviewed through the catalog API."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from ui_helpers import TIMEOUT, open_window, wait_review

from app.core.catalog import Catalog
from app.core.context import AppContext
from app.core.importer import import_paths
from app.ui.learning_actions import OFFER_AFTER
from app.ui.main_window import MainWindow

# The shop's photos: red, blue and a colour of its own, khaki, which the bundle lacks.
SHADES = {"red": (220, 20, 20), "blue": (20, 40, 220), "khaki": (195, 176, 145)}
CATEGORY = {"red": "t-shirt", "blue": "pants", "khaki": "pants"}
PHOTOS = 60  # 60 reviews a family (learning needs 30), 20 khaki (a new label needs 10)


def shoot(folder: Path) -> dict[str, str]:
    """PHOTOS small photos of the three shades with some noise; file name -> colour."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    truth = {}
    for i in range(PHOTOS):
        colour = list(SHADES)[i % len(SHADES)]
        rgb = np.clip(np.array(SHADES[colour]) + rng.normal(0, 20, 3), 0, 255).astype(np.uint8)
        name = f"p{i:03d}.png"
        Image.new("RGB", (32, 32), tuple(int(v) for v in rgb)).save(folder / name)
        truth[name] = colour
    return truth


@pytest.fixture
def reviewed(home: Path, tiny_bundle: Path) -> Path:
    """A catalog the tiny bundle tagged, every photo's colour and category set by staff."""
    db = home / "catalog.sqlite"
    truth = shoot(home / "shoot")
    with AppContext.open(db, tiny_bundle) as ctx:
        assert len(import_paths([home / "shoot"], ctx).added) == PHOTOS
        for photo in ctx.catalog.list_photos(limit=PHOTOS):
            colour = truth[Path(photo.path).name]
            ctx.catalog.set_tag(photo.id, "colour", colour)
            ctx.catalog.set_tag(photo.id, "category", CATEGORY[colour])
    return db


@pytest.fixture
def main_thread_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the fits and the learning's catalog reads that ran on the UI thread."""
    from app.core import learning

    seen: list[str] = []

    def watched(owner: object, name: str) -> None:
        real = getattr(owner, name)

        def call(*args, **kwargs):
            if threading.current_thread() is threading.main_thread():
                seen.append(name)
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, call)

    watched(learning, "learn_family")
    for name in ("reviews", "corrections", "feature_chunks", "replace_suggestions"):
        watched(Catalog, name)
    return seen


def learn(qtbot, window: MainWindow):
    with qtbot.waitSignal(window.learning.finished, timeout=TIMEOUT) as blocker:
        assert window.menus.learn.isEnabled()
        window.menus.learn.trigger()
        # One job over the catalog at a time: no import, re-tag or second run meanwhile.
        assert window.learning.running and window.menus.cancel_import.isEnabled()
        assert not window.menus.import_files.isEnabled() and not window.menus.retag.isEnabled()
        assert not window.menus.learn.isEnabled() and not window.menus.forget.isEnabled()
        assert not window.import_paths([Path("/nowhere")])
    return blocker.args[0]


def colour_labels(window: MainWindow) -> tuple[str, ...]:
    return next(f.labels for f in window.families if f.name == "colour")


def test_learning_sets_thresholds_on_the_reviews_and_forget_restores_the_bundle(
    qtbot, reviewed: Path, tiny_bundle: Path, main_thread_reads: list[str]
):
    window = open_window(qtbot, reviewed, tiny_bundle)
    notes = window.thresholds._notes
    assert notes["colour"].text().startswith("Set on tiny test bundle")
    assert "khaki" not in colour_labels(window)
    qtbot.waitUntil(lambda: window.model.item(PHOTOS - 1) is not None, timeout=TIMEOUT)
    khaki = window.model.item(2).id  # p002: the third shade
    window.controller.select_row(2)
    wait_review(qtbot, window, khaki)
    assert window.review.review.family("colour").decision.top.label != "khaki"
    # Esc while the families are fitted: nothing is stored, nothing changes.
    with qtbot.waitSignal(window.learning.finished, timeout=TIMEOUT) as blocker:
        window.menus.learn.trigger()
        window.menus.cancel_import.trigger()
    assert blocker.args[0].cancelled and "nothing was changed" in blocker.args[0].headline
    assert window.ctx.catalog.corrections() == []
    main_thread_reads.clear()  # that read was the test's own
    assert notes["colour"].text().startswith("Set on tiny test bundle")
    reloads: list[int] = []
    window.model.reloaded.connect(lambda: reloads.append(1))

    outcome = learn(qtbot, window)

    assert not outcome.cancelled and "Learned from this catalog's reviews" in outcome.headline
    # What each threshold was set on, at a glance, and the learned figures on hover.
    for family in ("colour", "category"):
        line = notes[family].text()
        assert line.startswith("Set on this catalog's reviews: ") and "60 reviewed photos" in line
        assert "cross-validation" in notes[family].toolTip()
        assert "Before learning, the bundle's threshold 0.50" in notes[family].toolTip()
    learned = {f.name: f.threshold for f in window.families}
    slider = window.thresholds._sliders["colour"]
    assert slider.value() == round(learned["colour"] * 100) and window.thresholds.overrides() == {}
    # The grid and the open photo show the refreshed suggestions.
    qtbot.waitUntil(lambda: bool(reloads), timeout=TIMEOUT)
    qtbot.waitUntil(
        lambda: window.review.review.family("colour").decision.top.label == "khaki",
        timeout=TIMEOUT,
    )
    # The shop's own label is a label of the family now: filters and C's list offer it.
    assert "khaki" in colour_labels(window)
    window.filter_bar.family.setCurrentIndex(window.filter_bar.family.findData("colour"))
    assert window.filter_bar.label.findData("khaki") > 0
    assert "khaki" in window.controller._family_labels()["colour"]
    box = window.learning.result_box
    assert box is not None and box.isVisible()
    assert "colour: 60 reviews, applied" in box.text() and "khaki" in box.text()
    box.accept()
    assert main_thread_reads == []  # the fits and the features stayed off the UI thread

    window.learning.confirm = lambda _question: False
    assert not window.learning.forget() and not window.learning.running
    window.learning.confirm = lambda _question: True
    with qtbot.waitSignal(window.learning.finished, timeout=TIMEOUT) as blocker:
        assert window.learning.forget()
    assert "the bundle's suggestions and thresholds are back" in blocker.args[0].headline
    assert notes["colour"].text().startswith("Set on tiny test bundle")
    assert "khaki" not in colour_labels(window)
    assert window.thresholds._sliders["colour"].value() == 50  # a new slider
    qtbot.waitUntil(
        lambda: window.review.review.family("colour").decision.top.label != "khaki",
        timeout=TIMEOUT,
    )
    assert main_thread_reads == []


def test_a_users_threshold_stays_after_learning_and_says_so(
    qtbot, reviewed: Path, tiny_bundle: Path
):
    window = open_window(qtbot, reviewed, tiny_bundle)
    with qtbot.waitSignal(window.thresholds.changed, timeout=TIMEOUT):
        window.thresholds.set_value("colour", 0.97)
    assert (
        window.thresholds._notes["colour"]
        .text()
        .startswith("Your setting; the calibrated 0.50 was set on tiny test bundle")
    )

    learn(qtbot, window)

    assert window.overrides == {"colour": 0.97}
    assert window.thresholds._sliders["colour"].value() == 97
    line = window.thresholds._notes["colour"].text()
    assert line.startswith("Your setting; the calibrated ") and "this catalog's reviews" in line
    assert "Your own threshold for colour still applies" in window.learning.result_box.text()
    window.learning.result_box.accept()
    with qtbot.waitSignal(window.thresholds.changed, timeout=TIMEOUT):
        window.thresholds.reset()
    assert window.overrides == {}
    assert window.thresholds._notes["colour"].text().startswith("Set on this catalog's reviews")


def test_the_offer_to_learn_comes_after_enough_new_decisions(
    qtbot, reviewed: Path, tiny_bundle: Path
):
    """120 decisions: no offer. Past OFFER_AFTER, the status bar offers it after an edit;
    Later waits for OFFER_AFTER more; Learn now learns, and the count starts again."""
    window = open_window(qtbot, reviewed, tiny_bundle)
    offer = window.learning.offer
    qtbot.waitUntil(lambda: window.learning._count == 2 * PHOTOS, timeout=TIMEOUT)
    assert not offer.isVisible()
    catalog = Catalog.open(reviewed)  # a colleague reviewing on the same catalog
    ids = catalog.photo_ids()
    for photo_id in ids[: (OFFER_AFTER - 2 * PHOTOS) // 2]:  # changes its mind: 2 decisions
        catalog.set_tag(photo_id, "category", "dress")
        catalog.set_tag(photo_id, "category", "shoes")
    catalog.close()
    qtbot.waitUntil(lambda: window.model.item(0) is not None, timeout=TIMEOUT)
    window.controller.select_row(0)
    wait_review(qtbot, window, ids[0])
    window.controller.set_label("colour", "blue")  # an edit in the window: count again

    qtbot.waitUntil(offer.isVisible, timeout=TIMEOUT)
    assert f"{OFFER_AFTER + 1} new reviews to learn from" in offer.text.text()
    offer.text.linkActivated.emit("later")
    assert not offer.isVisible()
    window.learning.check_offer()
    qtbot.waitUntil(lambda: not window.learning._checking, timeout=TIMEOUT)
    assert not offer.isVisible()

    window.learning._later = 0  # as if OFFER_AFTER more had been made since Later
    window.learning.check_offer()
    qtbot.waitUntil(offer.isVisible, timeout=TIMEOUT)
    with qtbot.waitSignal(window.learning.finished, timeout=TIMEOUT):
        offer.text.linkActivated.emit("learn")
    assert not offer.isVisible()
    window.learning.check_offer()
    qtbot.waitUntil(lambda: window.learning._count == 0, timeout=TIMEOUT)
    assert not offer.isVisible()


def test_change_label_takes_a_shops_own_label(qtbot):
    """C's list offers typed text that is no label as a new one (how "khaki" gets in),
    after the matches; a label typed in another case is the family's own."""
    from app.ui.label_picker import LabelPicker

    picker = LabelPicker({"colour": ("red", "blue", "black")}, "colour")
    qtbot.addWidget(picker)
    picker.search.setText(" Khaki ")
    assert [picker.list.item(i).text() for i in range(picker.list.count())] == [
        "+ new label “Khaki”"
    ]
    assert picker.choice() == ("colour", "Khaki")
    picker.search.setText("bl")
    assert picker.list.count() == 3 and picker.choice() == ("colour", "blue")
    picker.search.setText("BLUE")
    assert picker.list.count() == 1 and picker.choice() == ("colour", "blue")
    picker.search.setText("x" * 300)
    assert picker.list.item(0).text().startswith("Cannot be a label: it has 300 characters")
    assert picker.choice() is None


def test_a_bundle_without_features_says_it_cannot_learn(qtbot, home: Path, tmp_path: Path):
    from tinybundle import make_tiny_bundle

    bundle = make_tiny_bundle(tmp_path / "plain", features=False)
    window = open_window(qtbot, home / "catalog.sqlite", bundle)
    assert not window.learning.learn() and not window.learning.running
    assert "has no features output" in window.statusBar().currentMessage()
