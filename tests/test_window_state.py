"""WindowState: the thresholds held once (in the AppContext), the families and the names of
what is open, and the signals the window's helpers follow."""

from __future__ import annotations

from types import SimpleNamespace

from app.core.bundle import Family
from app.ui.window_state import WindowState


def family(name: str) -> Family:
    return Family(name, name, ("a", "b"), 0.5, {})


def opened_catalog() -> SimpleNamespace:
    ctx = SimpleNamespace(thresholds={})
    return SimpleNamespace(
        ctx=ctx,
        families=(family("colour"), family("category")),
        catalog_name="shop.sqlite",
        bundle=SimpleNamespace(label="tiny@1"),
        bundle_problem="",
    )


def test_thresholds_live_in_the_context_and_changes_are_signalled() -> None:
    state, heard = WindowState(), []
    state.thresholds_changed.connect(lambda: heard.append("thresholds"))
    state.families_changed.connect(lambda: heard.append("families"))
    opened = opened_catalog()
    state.opened(opened, {"colour": 0.7, "gone": 0.9})  # a family the bundle lacks is dropped
    assert state.thresholds == {"colour": 0.7} and opened.ctx.thresholds is state.thresholds
    before = state.thresholds
    state.set_thresholds({"colour": 0.8})
    assert opened.ctx.thresholds == {"colour": 0.8} and before == {"colour": 0.7}  # a new dict
    state.set_families([family("colour")])
    assert heard == ["thresholds", "families"] and state.has_bundle


def test_closing_keeps_the_names_until_the_next_open_and_a_failed_open_clears_them() -> None:
    state = WindowState()
    state.opened(opened_catalog(), {})
    state.closed()
    assert state.ctx is None and state.thresholds == {} and not state.has_bundle
    assert state.catalog_name == "shop.sqlite"
    state.open_failed()
    assert (state.catalog_name, state.bundle_info, state.bundle_problem) == ("", None, "")
