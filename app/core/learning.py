"""What a catalog learns from its own reviews: a correction per family on top of the bundle.

Every reviewed photo is an example: its accepted (or corrected) label is a positive, a
rejected label a negative. The correction is a multinomial logistic layer over the
photo's stored features (the bundle's ``features`` output) whose offset is the bundle's
own log-probabilities, so with no weight it *is* the bundle, and an L2 penalty keeps the
weights small: a few reviews move it a little, many move it more. Labels staff use that
the bundle lacks become labels of their own once they have enough examples.

Cross-validation decides, per family, whether the correction helps (it is applied only
where it beats the bundle on reviews it was not fitted on) and where the threshold goes:
the lowest confidence whose kept out-of-fold photos reach the target precision with its
lower confidence bound, so the promise holds on this catalog's photos.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize

MIN_REVIEWS = 30  # per family: fewer and the bundle stays as it is
MIN_NEW_LABEL = 5  # examples before a label the bundle lacks becomes a suggestion
MIN_KEPT = 20  # out-of-fold photos a threshold must keep to be trusted at all
FOLDS = 5
PENALTIES = (3.0, 30.0, 300.0)  # L2 strengths tried by cross-validation (standardised features)
MANY_REVIEWS = 3000  # past this, three folds and the weaker penalty only
FEW_FOLDS = 3
BOUND_Z = 1.0  # one-sided z of the precision's lower bound (about 84 % confidence)
HELPS_Z = 1.0  # how sure the wins over the bundle must be (paired, one-sided)
NEW_LABEL_LOGP = -9.0  # the bundle's log-probability of a label it does not have
LOGP_FLOOR = -12.0  # log-probabilities below count as this in the design
EPS = 1e-7
FITS_PER_FAMILY = len(PENALTIES) * FOLDS
MAX_ITERATIONS = 150

Step = Callable[[], None]  # called after each fit: FITS_PER_FAMILY per family


@dataclass(frozen=True)
class FamilyReviews:
    """One family's reviewed photos in the catalog's order: features (N, D), bundle
    probabilities (N, K) over ``bundle_labels``, and per photo the accepted label or the
    rejected one (or "")."""

    family: str
    bundle_labels: tuple[str, ...]
    features: np.ndarray
    probabilities: np.ndarray
    accepted: tuple[str, ...]
    rejected: tuple[str, ...]
    target_precision: float = 0.95
    bundle_threshold: float = 0.5


@dataclass
class Correction:
    """A family's learned correction, or the reason there is none; ``applied`` says
    whether suggestions use it, ``threshold`` whether this catalog re-set the threshold."""

    family: str
    labels: tuple[str, ...]  # the bundle's labels, then new ones
    weights: np.ndarray | None  # (D, L)
    bias: np.ndarray | None  # (L,)
    applied: bool
    reviews: int
    message: str
    threshold: float | None = None  # None: keep the bundle's
    precision: float | None = None  # out-of-fold, at the threshold
    precision_low: float | None = None  # its lower bound
    coverage: float | None = None  # out-of-fold share of reviewed photos kept
    top1_bundle: float | None = None  # the bundle on the reviews
    top1_learned: float | None = None  # the correction, out of fold
    new_labels: tuple[str, ...] = ()
    penalty: float | None = None
    ignored: dict[str, int] = field(default_factory=dict)  # label -> reviews left out

    def summary(self) -> dict[str, Any]:
        """Everything but the weights, as JSON-ready values (what the catalog stores)."""
        fields = {name: getattr(self, name) for name in SUMMARY_FIELDS}
        return fields | {"labels": list(self.labels), "new_labels": list(self.new_labels)}

    def packed_weights(self) -> np.ndarray | None:
        """Weights with the bias as their last row, (D + 1, L), or None when not applied."""
        if self.weights is None or self.bias is None:
            return None
        return np.vstack([self.weights, self.bias[None, :]]).astype(np.float32)

    @classmethod
    def stored(cls, family: str, summary: dict[str, Any], packed: np.ndarray | None) -> Correction:
        """The correction :meth:`summary` and :meth:`packed_weights` described."""
        values = {name: summary.get(name) for name in SUMMARY_FIELDS}
        weights = bias = None
        if packed is not None:
            weights, bias = packed[:-1].astype(np.float64), packed[-1].astype(np.float64)
        return cls(
            family=family,
            labels=tuple(summary["labels"]),
            weights=weights,
            bias=bias,
            new_labels=tuple(summary.get("new_labels", ())),
            **values,
        )

    def adapt(self, features: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
        """Probabilities over ``labels`` for photos the bundle gave ``probabilities``."""
        if not self.applied or self.weights is None or self.bias is None:
            return extended(probabilities, len(self.labels))
        design = _design(features, probabilities)
        logits = _offset(probabilities, len(self.labels)) + design @ self.weights + self.bias
        return _softmax(logits)


SUMMARY_FIELDS = (
    "applied",
    "reviews",
    "message",
    "threshold",
    "precision",
    "precision_low",
    "coverage",
    "top1_bundle",
    "top1_learned",
    "penalty",
    "ignored",
)


def extended(probabilities: np.ndarray, width: int) -> np.ndarray:
    """Probabilities (N, K) padded with zeros for labels the bundle lacks (N, width)."""
    extra = width - probabilities.shape[1]
    if extra <= 0:
        return probabilities
    return np.hstack([probabilities, np.zeros((len(probabilities), extra), probabilities.dtype)])


def _offset(probabilities: np.ndarray, width: int) -> np.ndarray:
    logp = np.log(np.clip(probabilities.astype(np.float64), EPS, 1.0))
    extra = width - logp.shape[1]
    if extra > 0:
        logp = np.hstack([logp, np.full((len(logp), extra), NEW_LABEL_LOGP)])
    return logp


def _design(features: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """What the correction's weights multiply: the photo's features and the bundle's own
    log-probabilities (scaled to about unit spread), so it can also re-weigh a label the
    bundle is over- or under-confident about on this catalog's photos."""
    logp = np.log(np.clip(probabilities.astype(np.float64), EPS, 1.0))
    scaled = np.maximum(logp, LOGP_FLOOR) / -LOGP_FLOOR * 3.0
    return np.hstack([features.astype(np.float64), scaled])


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _fit(
    x: np.ndarray,
    offset: np.ndarray,
    positive: np.ndarray,
    negative: np.ndarray,
    penalty: float,
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Weights (D, L) and bias (L,) minimising the reviews' log-loss plus the L2 penalty.

    ``positive``: the accepted label's index or -1; ``negative``: the rejected one or -1.
    """
    d = x.shape[1]
    width = offset.shape[1]
    pos = positive >= 0
    neg = (negative >= 0) & (positive == -1)
    pos_rows, pos_cols = np.nonzero(pos)[0], positive[pos]
    neg_rows, neg_cols = np.nonzero(neg)[0], negative[neg]

    x32 = x.astype(np.float32)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[: d * width].reshape(d, width)
        b = theta[d * width :]
        p = _softmax(offset + x32 @ w.astype(np.float32) + b)
        value = -np.log(p[pos_rows, pos_cols] + EPS).sum()
        grad_logits = np.zeros_like(p)
        grad_logits[pos_rows] = p[pos_rows]
        grad_logits[pos_rows, pos_cols] -= 1.0
        if len(neg_rows):
            q = p[neg_rows, neg_cols]
            value -= np.log(1.0 - q + EPS).sum()
            # d/dz of -log(1 - p_r): p_r / (1 - p_r) * (onehot_r - p)
            factor = (q / (1.0 - q + EPS))[:, None]
            part = -factor * p[neg_rows]
            part[np.arange(len(neg_rows)), neg_cols] += factor[:, 0]
            grad_logits[neg_rows] += part
        value += 0.5 * penalty * (np.sum(w * w) + 0.1 * np.sum(b * b))
        grad_w = (x32.T @ grad_logits.astype(np.float32)).astype(np.float64) + penalty * w
        grad_b = grad_logits.sum(axis=0) + 0.1 * penalty * b
        return float(value), np.concatenate([grad_w.ravel(), grad_b])

    theta = (
        np.zeros(d * width + width)
        if start is None
        else np.concatenate([start[0].ravel(), start[1]])
    )
    # A correction needs no more digits than the reviews' noise allows: a loose tolerance
    # keeps 10,000 reviews within seconds.
    options = {"maxiter": MAX_ITERATIONS, "ftol": 1e-6}
    result = minimize(loss, theta, jac=True, method="L-BFGS-B", options=options)
    theta = result.x
    return theta[: d * width].reshape(d, width), theta[d * width :]


def _wilson_low(correct: int, kept: int, z: float = BOUND_Z) -> float:
    """The lower end of the Wilson interval of a precision of ``correct``/``kept``."""
    if kept == 0:
        return 0.0
    p = correct / kept
    denominator = 1 + z * z / kept
    centre = p + z * z / (2 * kept)
    spread = z * math.sqrt(p * (1 - p) / kept + z * z / (4 * kept * kept))
    return (centre - spread) / denominator


def choose_threshold(
    confidence: np.ndarray, correct: np.ndarray, target: float
) -> tuple[float, float, float, float] | None:
    """(threshold, precision, its lower bound, coverage): the lowest confidence whose kept
    photos (at least MIN_KEPT) reach ``target`` with their lower bound; None if none does."""
    order = np.argsort(-confidence, kind="stable")
    conf, hits = confidence[order], np.cumsum(correct[order])
    best = None
    for i in range(MIN_KEPT - 1, len(conf)):
        if i + 1 < len(conf) and conf[i + 1] == conf[i]:
            continue  # a threshold keeps every photo of equal confidence
        kept = i + 1
        low = _wilson_low(int(hits[i]), kept)
        if low >= target:
            best = (float(conf[i]), float(hits[i] / kept), low, kept / len(conf))
    return best


def _folds(n: int) -> np.ndarray:
    """Fold of each review: contiguous runs of the catalog's order (import order, which is
    the shoot's), so every fold model is scored on a stretch of the shoot it never saw, as
    the photos not reviewed yet will be. Random folds would mix each stretch into training
    and promise on the rest of a shoot what only held on its start. Past MANY_REVIEWS,
    three folds: each fold model has plenty, and time stays in seconds."""
    folds = FOLDS if n <= MANY_REVIEWS else FEW_FOLDS
    return np.arange(n) * folds // n


def _chosen_penalty(
    out_of_fold: dict[float, np.ndarray], positive: np.ndarray, labelled: np.ndarray
) -> float:
    """The strongest penalty (the smallest change to the bundle) whose out-of-fold top-1
    is within one standard error of the best one's (the one-standard-error rule): the
    penalty that scored best on a few hundred reviews is often best by their noise, and a
    correction that changes more than its reviews prove drifts on the rest of a shoot."""
    top1 = {
        p: (probs.argmax(axis=1) == positive)[labelled].mean() for p, probs in out_of_fold.items()
    }
    best = max(top1.values())
    error = math.sqrt(best * (1 - best) / max(int(labelled.sum()), 1))
    return max(p for p, value in top1.items() if value >= best - error)


def learn_family(reviews: FamilyReviews, step: Step | None = None) -> Correction:
    """Fit, cross-validate and calibrate one family's correction (see the module's doc);
    ``step()`` after each of its FITS_PER_FAMILY fits (fewer when there is nothing to fit)."""
    family = reviews.family
    counts = Counter(label for label in reviews.accepted if label)
    bundle_labels = reviews.bundle_labels
    new_labels = tuple(
        sorted(
            label
            for label, n in counts.items()
            if label not in bundle_labels and n >= MIN_NEW_LABEL
        )
    )
    labels = bundle_labels + new_labels
    index = {label: i for i, label in enumerate(labels)}
    ignored = {label: n for label, n in counts.items() if label not in index}  # too few to learn
    # -2: accepted as a label too rare to learn yet. Such a photo teaches nothing, but no
    # suggestion can be right for it, so it counts as an error in every estimate.
    positive = np.array(
        [index.get(label, -2) if label else -1 for label in reviews.accepted], dtype=np.int64
    )
    negative = np.array(
        [index.get(label, -1) if label else -1 for label in reviews.rejected], dtype=np.int64
    )
    keep = (positive != -1) | (negative >= 0)
    x = reviews.features[keep].astype(np.float64)
    probs = reviews.probabilities[keep]
    positive, negative = positive[keep], negative[keep]
    used = int(keep.sum())
    base = dict(
        family=family,
        labels=labels,
        weights=None,
        bias=None,
        applied=False,
        reviews=used,
        new_labels=new_labels,
        ignored=ignored,
    )
    labelled = positive != -1
    distinct = len(set(positive[positive >= 0].tolist()))
    if used < MIN_REVIEWS:
        return Correction(
            **base,
            message=f"{used} usable reviews; {MIN_REVIEWS} are needed before {family} can "
            "learn. The bundle's suggestions and threshold stay.",
        )
    if distinct < 2:
        known = positive[positive >= 0]
        only = labels[int(known[0])] if len(known) else "nothing"
        return Correction(
            **base,
            message=f"every accepted {family} is {only!r}: with one label there is nothing to "
            "tell apart. The bundle's suggestions and threshold stay.",
        )
    offset = _offset(probs, len(labels))
    x = _design(x, probs)
    folds = _folds(used)
    bundle_conf = extended(probs, len(labels))
    bundle_right = bundle_conf.argmax(axis=1) == positive
    scored: dict[float, tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]] = {}
    penalties = PENALTIES if used <= MANY_REVIEWS else PENALTIES[:1]
    for fold in range(folds.max() + 1):
        train, held = folds != fold, folds == fold
        start = None
        for penalty in sorted(penalties, reverse=True):  # the stronger penalty warm-starts
            w, b = start = _fit(
                x[train], offset[train], positive[train], negative[train], penalty, start
            )
            out_of_fold, fitted = scored.setdefault(penalty, (np.zeros_like(offset), []))
            out_of_fold[held] = _softmax(offset[held] + x[held] @ w + b)
            fitted.append((w, b))
            if step is not None:
                step()
    penalty = _chosen_penalty({p: scored[p][0] for p in penalties}, positive, labelled)
    learned, fitted = scored[penalty]
    learned_right = learned.argmax(axis=1) == positive
    wins = int((learned_right & ~bundle_right)[labelled].sum())
    losses = int((bundle_right & ~learned_right)[labelled].sum())
    helps = wins - losses > HELPS_Z * math.sqrt(max(wins + losses, 1))
    top1_bundle = float(bundle_right[labelled].mean())
    top1_learned = float(learned_right[labelled].mean())
    honest = learned if helps else bundle_conf
    right = (learned_right if helps else bundle_right)[labelled]
    chosen = choose_threshold(honest[labelled].max(axis=1), right, reviews.target_precision)
    weights = bias = None
    if helps:
        # The mean of the fold models: the same kind of model the out-of-fold estimates and
        # the threshold were measured on (one fitted on every review is more confident).
        weights = np.mean([w for w, _ in fitted], axis=0)
        bias = np.mean([b for _, b in fitted], axis=0)
    verdict = (
        f"learned from {used} reviews: top-1 {top1_bundle:.2f} -> {top1_learned:.2f} "
        "(cross-validated)"
        if helps
        else f"the correction does not help on {used} reviews (top-1 {top1_bundle:.2f} -> "
        f"{top1_learned:.2f}, cross-validated); the bundle's suggestions stay"
    )
    target = reviews.target_precision
    measured = base | {
        "weights": weights,
        "bias": bias,
        "applied": helps,
        "top1_bundle": top1_bundle,
        "top1_learned": top1_learned,
        "penalty": penalty,
    }
    if chosen is None:
        return Correction(
            **measured,
            message=f"{verdict}; no threshold reaches {target:.0%} precision on these reviews, "
            "so no suggestion is marked confident",
            threshold=1.0,
        )
    threshold, precision, low, coverage = chosen
    return Correction(
        **measured,
        message=f"{verdict}; threshold {threshold:.2f} keeps {coverage:.0%} at precision "
        f"{precision:.2f} (at least {low:.2f})",
        threshold=threshold,
        precision=precision,
        precision_low=low,
        coverage=coverage,
    )


def learn(families: Sequence[FamilyReviews], step: Step | None = None) -> list[Correction]:
    """Every family's correction, in order."""
    return [learn_family(reviews, step) for reviews in families]
