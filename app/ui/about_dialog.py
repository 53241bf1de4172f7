"""Help → About: which catalog and bundle are open, where the bundle came from, how good it is.

The bundle's facts are copied from its manifest in the background (``bundle_info``), so
the dialog never loads a model on the window's thread.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

if TYPE_CHECKING:
    from app.core.bundle import Bundle, BundleSet


@dataclass(frozen=True)
class BundleInfo:
    """What About shows of a bundle: identity, per-family thresholds, provenance, metrics."""

    label: str
    path: str
    backbone: str = ""
    thresholds: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)


def bundle_info(bundle: Bundle | BundleSet) -> BundleInfo:
    """A set's members each carry their own provenance and metrics: merge them by member."""
    manifest = bundle.manifest
    provenance = dict(manifest.get("provenance") or {})
    metrics = dict(manifest.get("metrics") or {})
    backbone = str(manifest.get("backbone") or "")
    for member in getattr(bundle, "members", ()):
        own = member.manifest
        if own.get("provenance"):
            provenance.setdefault(member.name, own["provenance"])
        metrics.update(own.get("metrics") or {})
        backbone = backbone or str(own.get("backbone") or "")
    return BundleInfo(
        bundle.label,
        str(bundle.path),
        backbone,
        {f.name: f.threshold for f in bundle.families},
        provenance,
        metrics,
    )


def _value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_value(v)}" for k, v in value.items())
    return str(value)


def _table(rows: dict[str, Any]) -> str:
    cells = "".join(
        f"<tr><td><b>{html.escape(str(k))}</b></td><td>{html.escape(_value(v))}</td></tr>"
        for k, v in rows.items()
    )
    return f"<table cellspacing='3'>{cells}</table>"


def about_html(catalog: str, info: BundleInfo | None, problem: str = "") -> str:
    """The About text: catalog, bundle (or why there is none), provenance and metrics."""
    parts = ["<h3>Vitrina</h3>", f"<p><b>Catalog:</b> {html.escape(catalog or 'none open')}</p>"]
    if info is None:
        reason = problem or "No catalog is open, so no bundle is loaded."
        return "".join(parts) + f"<p><b>Model bundle:</b> none. {html.escape(reason)}</p>"
    parts.append(
        f"<p><b>Model bundle:</b> {html.escape(info.label)}"
        + (f" ({html.escape(info.backbone)})" if info.backbone else "")
        + f"<br>{html.escape(info.path)}</p>"
    )
    if info.thresholds:
        parts.append("<p><b>Calibrated thresholds</b></p>" + _table(info.thresholds))
    parts.append("<p><b>Provenance</b></p>")
    parts.append(_table(info.provenance) if info.provenance else "<p>Not recorded.</p>")
    parts.append("<p><b>Metrics</b> (held-out data)</p>")
    parts.append(_table(info.metrics) if info.metrics else "<p>Not recorded.</p>")
    return "".join(parts)


def show_about(parent: QWidget, text: str) -> None:
    box = QMessageBox(parent)
    box.setWindowTitle("About Vitrina")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(text)
    box.exec()
