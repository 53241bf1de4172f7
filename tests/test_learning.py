"""Learning from reviews (app.core.learning): the correction, its cross-validated verdict,
its threshold, new labels, and review sets meant to break it."""

from __future__ import annotations

import numpy as np
import pytest

from app.core import learning
from app.core.learning import Correction, FamilyReviews, learn_family

LABELS = ("red", "blue", "green", "black")


def shop(n: int, seed: int = 0, bundle_skill: float = 0.0, dim: int = 16):
    """Photos whose true label is a linear function of their features; the bundle knows
    it only as well as ``bundle_skill`` (0: a uniform guess, 1: sure and right)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim))
    truth = (x @ np.random.default_rng(99).normal(size=(dim, len(LABELS)))).argmax(axis=1)
    probs = np.full((n, len(LABELS)), (1 - bundle_skill) / len(LABELS))
    probs[np.arange(n), truth] += bundle_skill
    return x, probs, truth


def reviews(x, probs, labels, rejected=None) -> FamilyReviews:
    n = len(labels)
    return FamilyReviews(
        "colour", LABELS, x, probs, tuple(labels), tuple(rejected or ("",) * n), 0.95, 0.6
    )


def test_many_reviews_teach_what_the_bundle_does_not_know() -> None:
    x, probs, truth = shop(1600)
    correction = learn_family(reviews(x[:800], probs[:800], [LABELS[t] for t in truth[:800]]))
    assert correction.applied and correction.top1_learned > correction.top1_bundle + 0.3
    adapted = correction.adapt(x[800:], probs[800:])
    assert (adapted.argmax(axis=1) == truth[800:]).mean() > 0.8
    kept = adapted.max(axis=1) >= correction.threshold
    assert (adapted.argmax(axis=1) == truth[800:])[kept].mean() > 0.9  # the promise holds
    assert correction.precision_low >= 0.95 and 0 < correction.coverage <= 1


def test_a_good_bundle_is_not_made_worse() -> None:
    x, probs, truth = shop(600, bundle_skill=0.9)
    correction = learn_family(reviews(x, probs, [LABELS[t] for t in truth]))
    adapted = correction.adapt(x, probs)
    assert (adapted.argmax(axis=1) == truth).mean() >= (probs.argmax(axis=1) == truth).mean()


def test_contradictory_reviews_are_not_applied() -> None:
    """Reviews that say nothing (labels at random) must leave the bundle's suggestions."""
    x, probs, _ = shop(500, bundle_skill=0.5)
    noise = np.random.default_rng(5).integers(0, len(LABELS), size=500)
    correction = learn_family(reviews(x, probs, [LABELS[t] for t in noise]))
    assert not correction.applied and "does not help" in correction.message
    np.testing.assert_allclose(correction.adapt(x, probs), probs)


def test_too_few_reviews_keep_the_bundle() -> None:
    x, probs, truth = shop(10)
    correction = learn_family(reviews(x, probs, [LABELS[t] for t in truth]))
    assert not correction.applied and correction.threshold is None
    assert "10 usable reviews" in correction.message


def test_one_label_only_teaches_nothing() -> None:
    x, probs, _ = shop(200)
    correction = learn_family(reviews(x, probs, ["red"] * 200))
    assert not correction.applied and correction.threshold is None
    assert "every accepted colour is 'red'" in correction.message


def test_a_label_the_bundle_lacks_becomes_a_suggestion_once_it_has_enough_examples() -> None:
    x, probs, truth = shop(900)
    labels = [LABELS[t] for t in truth]
    khaki = x[:, 0] > 1.3  # the shop names these photos khaki
    labels = ["khaki" if k else label for k, label in zip(khaki, labels, strict=True)]
    labels[0] = "paisley"  # one photo is not enough
    correction = learn_family(reviews(x, probs, labels))
    assert correction.labels == (*LABELS, "khaki") and correction.new_labels == ("khaki",)
    assert correction.ignored == {"paisley": 1}
    adapted = correction.adapt(x[khaki], probs[khaki])
    assert (np.array(correction.labels)[adapted.argmax(axis=1)] == "khaki").mean() > 0.7


def test_rejections_push_a_label_down() -> None:
    x, probs, truth = shop(400, bundle_skill=0.2)
    wrong = (truth + 1) % len(LABELS)
    rejected = [LABELS[w] for w in wrong]
    correction = learn_family(reviews(x, probs, [""] * 400, rejected))
    before = probs[np.arange(400), wrong].mean()
    after = correction.adapt(x, probs)[np.arange(400), wrong].mean() if correction.applied else 0
    assert correction.reviews == 400 and after < before


def test_a_stored_correction_answers_as_the_learned_one() -> None:
    x, probs, truth = shop(400)
    correction = learn_family(reviews(x, probs, [LABELS[t] for t in truth]))
    again = Correction.stored("colour", correction.summary(), correction.packed_weights())
    np.testing.assert_allclose(again.adapt(x, probs), correction.adapt(x, probs), atol=1e-5)
    assert again.threshold == correction.threshold and again.labels == correction.labels


@pytest.mark.parametrize("kept,correct,expected", [(100, 100, 0.99), (20, 19, 0.89)])
def test_the_precision_bound_is_below_the_estimate(kept, correct, expected) -> None:
    assert learning._wilson_low(correct, kept) == pytest.approx(expected, abs=0.02)
    assert learning._wilson_low(correct, kept) < correct / kept


def test_repeated_shots_of_a_product_make_no_promise_the_rest_of_the_shoot_breaks() -> None:
    """A shoot photographs each product several times in a row. Scored on folds that mix
    the shots, the correction recognises the product, not its label, and looks right; the
    rest of the shoot holds new products. Folds must follow the shoot's order."""
    rng = np.random.default_rng(3)
    products, shots, dim = 100, 8, 64
    centres = rng.normal(size=(products, dim))
    label_of = rng.integers(0, len(LABELS), size=products)  # nothing in the photo tells it
    product = np.repeat(np.arange(products), shots)
    x = centres[product] + 0.05 * rng.normal(size=(len(product), dim))
    probs = np.full((len(product), len(LABELS)), 1 / len(LABELS))
    truth = label_of[product]
    half = products // 2 * shots
    correction = learn_family(reviews(x[:half], probs[:half], [LABELS[t] for t in truth[:half]]))
    assert not correction.applied, correction.message
    adapted = correction.adapt(x[half:], probs[half:])
    confident = adapted.max(axis=1) >= correction.threshold
    assert not confident.any()


def test_the_penalty_is_the_strongest_within_the_noise_of_the_best() -> None:
    """A photo or two more right out of 300 is noise: the smaller change to the bundle
    wins; a clear margin is not noise."""
    positive = np.zeros(300, dtype=np.int64)
    labelled = np.ones(300, dtype=bool)

    def scored(right: int) -> np.ndarray:
        probs = np.tile([0.2, 0.8], (300, 1))
        probs[:right] = [0.8, 0.2]
        return probs

    close = {3.0: scored(291), 30.0: scored(290), 300.0: scored(289)}
    assert learning._chosen_penalty(close, positive, labelled) == 300.0
    clear = {3.0: scored(291), 30.0: scored(250), 300.0: scored(200)}
    assert learning._chosen_penalty(clear, positive, labelled) == 3.0
