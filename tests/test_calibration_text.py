"""What the threshold panel says under each slider about the bundle's calibration."""

from __future__ import annotations

from app.core.bundle import Family
from app.ui.calibration_text import details, set_on_line


def test_a_source_where_the_promise_fails_is_named_under_the_slider() -> None:
    """Sleeve on worn dresses never reaches 95 %: the line must say so, not only list 0.67."""
    family = Family(
        "sleeve",
        "sleeve",
        ("short", "long"),
        0.588,
        {
            "set_on": "held-out sources",
            "target_precision": 0.95,
            "precision": 0.9488,
            "coverage": 0.9522,
            "unreached": ["dresses"],
            "held_out": {
                "unreached": ["dresses", "shop"],
                "by_source": {"dresses": {"n": 1119, "precision": 0.672, "coverage": 0.681}},
            },
        },
    )
    line = set_on_line(family)
    assert line.startswith("Set on held-out sources: precision 0.95 on 95%")
    assert line.endswith("held-out sources: dresses 0.67 on 68% · 95% not reached on dresses, shop")
    assert "Target not reached on, held out: dresses, shop" in details(family)
