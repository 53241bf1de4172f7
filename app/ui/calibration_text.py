"""How a family's threshold was set, in words: a line for the threshold panel, the rest
for its tooltip.

The bundle's manifest (docs/bundle.md) or this catalog's learning (app.core.adaptation)
puts it in ``Family.calibration``. Keys come and go as calibration improves, so every one
is optional and whatever is there is shown; nothing here decides a threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.core.bundle import Family

SHOWN_KEYS = ("set_on", "split", "target_precision", "precision", "coverage", "by_source")


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def learned(calibration: Mapping[str, Any]) -> bool:
    """True when this catalog's reviews set the threshold (not the bundle's calibration).
    Families reach the window from a context that has imported app.core.adaptation already,
    so importing it here costs nothing (and the window starts without it)."""
    from app.core.adaptation import SET_ON_REVIEWS

    return calibration.get("set_on") == SET_ON_REVIEWS


def _figures(calibration: Mapping[str, Any]) -> str:
    """ "precision 0.96 on 58%" (either half may be missing)."""
    precision = _number(calibration.get("precision"))
    coverage = _number(calibration.get("coverage"))
    parts = []
    if precision is not None:
        parts.append(f"precision {precision:.2f}")
    if coverage is not None:
        parts.append(f"on {coverage:.0%}")
    return " ".join(parts)


def _sources(by_source: object) -> str:
    """ "catalog 0.97 on 61%, clothing 0.95 on 52%" (precision, then coverage)."""
    if not isinstance(by_source, Mapping):
        return ""
    shown = [
        f"{name} {_figures(figures).removeprefix('precision ')}"
        for name, figures in by_source.items()
        if isinstance(figures, Mapping) and _figures(figures)
    ]
    return ", ".join(shown)


def _where(calibration: Mapping[str, Any]) -> str:
    return str(calibration.get("set_on") or calibration.get("split") or "the bundle's calibration")


def _learned_line(calibration: Mapping[str, Any]) -> str:
    where = calibration["set_on"]
    reviews = calibration.get("reviews")
    photos = f"{reviews:,} reviewed photos" if isinstance(reviews, int) else "the reviewed photos"
    precision = _number(calibration.get("precision"))
    if precision is None:
        target = _number(calibration.get("target_precision")) or 0.95
        return (
            f"{where}: no threshold reaches {target:.0%} precision on {photos}, so "
            "none is marked confident"
        )
    low = _number(calibration.get("precision_low"))
    at_least = f" (at least {low:.2f})" if low is not None else ""
    coverage = _number(calibration.get("coverage"))
    share = f"{coverage:.0%} of " if coverage is not None else ""
    return f"{where}: precision {precision:.2f}{at_least} on {share}{photos}"


def unreached_sources(calibration: Mapping[str, Any]) -> list[str]:
    """Sources where the target precision holds at no threshold, in-source or held out:
    the confident suggestions make no promise there."""
    held_out = calibration.get("held_out")
    lists = [
        calibration.get("unreached"),
        held_out.get("unreached") if isinstance(held_out, Mapping) else None,
    ]
    return sorted({str(name) for names in lists if isinstance(names, list) for name in names})


def _bundle_line(calibration: Mapping[str, Any]) -> str:
    parts = [_figures(calibration)]
    parts.append(_sources(calibration.get("by_source")))
    held_out = calibration.get("held_out")
    if isinstance(held_out, Mapping) and _sources(held_out.get("by_source")):
        parts.append(f"held-out sources: {_sources(held_out.get('by_source'))}")
    unreached = unreached_sources(calibration)
    if unreached:
        target = _number(calibration.get("target_precision")) or 0.95
        parts.append(f"{target:.0%} not reached on {', '.join(unreached)}")
    shown = " · ".join(part for part in parts if part)
    return f"{_where(calibration)}: {shown}" if shown else _where(calibration)


def set_on_line(family: Family, override: float | None = None) -> str:
    """One line under a family's slider: what its threshold was set on and what it holds
    there; with the user's own ``override`` in force, says so first."""
    calibration = family.calibration
    line = _learned_line(calibration) if learned(calibration) else _bundle_line(calibration)
    if override is None:
        return f"Set on {line}"
    return f"Your setting; the calibrated {family.threshold:.2f} was set on {line}"


def _bundle_details(calibration: Mapping[str, Any]) -> list[str]:
    lines = [f"Set on {_where(calibration)}."]
    target = _number(calibration.get("target_precision"))
    if target is not None:
        lines.append(f"Target precision {target:.2f}.")
    if _figures(calibration):
        lines.append(f"Reached {_figures(calibration)} of the photos.")
    for name, figures in (calibration.get("by_source") or {}).items():
        if isinstance(figures, Mapping):
            count = f" ({figures['n']:,} photos)" if isinstance(figures.get("n"), int) else ""
            lines.append(f"{name}{count}: {_figures(figures)}")
    for key, value in calibration.items():
        if key in SHOWN_KEYS or value in (None, "", [], {}):
            continue
        if key == "held_out" and isinstance(value, Mapping):
            lines.append(f"Held-out sources: {_sources(value.get('by_source')) or value}")
            if value.get("unreached"):
                lines.append(f"Target not reached on, held out: {', '.join(value['unreached'])}")
        elif key == "unreached":
            lines.append(f"Target not reached on: {', '.join(map(str, value))}")
        else:
            lines.append(f"{key.replace('_', ' ').capitalize()}: {value}")
    return lines


def details(family: Family) -> str:
    """The tooltip: everything the calibration says, a fact a line; after learning, the
    bundle's own threshold and calibration too, to compare."""
    calibration = family.calibration
    if not learned(calibration):
        return "\n".join(_bundle_details(calibration))
    lines = [
        f"Set on {_learned_line(calibration)}.",
        "Estimated by cross-validation: never on the photos the correction was fitted on.",
    ]
    before = _number(calibration.get("bundle_threshold"))
    bundle = calibration.get("bundle")
    if before is not None:
        lines.append(f"\nBefore learning, the bundle's threshold {before:.2f}:")
    if isinstance(bundle, Mapping):
        lines += _bundle_details(bundle)
    return "\n".join(lines)
