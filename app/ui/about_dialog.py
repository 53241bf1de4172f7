"""Help → About: what Vitrina is, its version, the catalog and bundle open, where the docs are.

Kept to one screen (it scrolls if a path is long): how a bundle was trained and how good
it is stay in its manifest.json, which About links to, not in the dialog. The bundle's
facts are copied from it in the background (``bundle_info``), so the dialog never loads
a model on the window's thread.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication, QTextOption
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from app.core.paths import REPO_ROOT

if TYPE_CHECKING:
    from app.core.bundle import Bundle, BundleSet

DOCS_DIR = REPO_ROOT / "docs"
DOCS = (
    ("window.md", "The window: layout, keys, importing, review"),
    ("cli.md", "The command line (vitrina)"),
    ("bundle.md", "Model bundles"),
    ("quality.md", "How good the default bundle is"),
)
SIZE = (560, 400)  # a usual About; the text scrolls beyond it
SCREEN_SHARE = 0.8  # never taller or wider than this share of the screen


@dataclass(frozen=True)
class BundleInfo:
    """What About and the title show of a bundle: name@version, folder, backbone, date;
    and whether a catalog can learn from its reviews with it (a ``features`` output)."""

    label: str
    path: str
    backbone: str = ""
    created: str = ""
    learns: bool = False


def bundle_info(bundle: Bundle | BundleSet) -> BundleInfo:
    """A set's backbone and date come from its first member that records them."""
    manifests = [bundle.manifest, *(m.manifest for m in getattr(bundle, "members", ()))]
    backbone = next((str(m["backbone"]) for m in manifests if m.get("backbone")), "")
    created = next(
        (
            str(m["provenance"]["created"])
            for m in manifests
            if isinstance(m.get("provenance"), dict) and m["provenance"].get("created")
        ),
        "",
    )
    return BundleInfo(
        bundle.label, str(bundle.path), backbone, created[:10], bundle.features is not None
    )


def app_version() -> str:
    try:
        return version("vitrina")
    except PackageNotFoundError:
        return "(version unknown: not installed)"


def _link(path: Path, text: str) -> str:
    return f"<a href='{QUrl.fromLocalFile(str(path)).toString()}'>{html.escape(text)}</a>"


def _docs_html(docs_dir: Path) -> str:
    links = [
        f"<li>{_link(docs_dir / name, text)}</li>"
        for name, text in DOCS
        if (docs_dir / name).exists()
    ]
    if not links:
        return "<p>The documentation is in the <code>docs/</code> folder of the source.</p>"
    return "<p><b>Documentation</b></p><ul>" + "".join(links) + "</ul>"


def about_html(
    catalog: str, info: BundleInfo | None, problem: str = "", docs_dir: Path = DOCS_DIR
) -> str:
    """Name and version, catalog, bundle (or why there is none), links to the docs."""
    parts = [
        f"<h3>Vitrina {html.escape(app_version())}</h3>",
        "<p>Tags product photos with a model bundle; you review the suggestions "
        "by keyboard. Press F1 for the keys.</p>",
        f"<p><b>Catalog:</b> {html.escape(catalog or 'none open')}</p>",
    ]
    if info is None:
        reason = problem or "No catalog is open, so no bundle is loaded."
        parts.append(f"<p><b>Model bundle:</b> none. {html.escape(reason)}</p>")
    else:
        details = ", ".join(
            part for part in (info.backbone, f"made {info.created}" if info.created else "") if part
        )
        manifest = Path(info.path) / "manifest.json"
        parts.append(
            f"<p><b>Model bundle:</b> {html.escape(info.label)}"
            + (f" ({html.escape(details)})" if details else "")
            + f"<br>{html.escape(info.path)}<br>"
            + _link(manifest, "manifest.json")
            + ": thresholds, how it was trained, its measured quality</p>"
        )
    parts.append(_docs_html(docs_dir))
    return "".join(parts)


class AboutDialog(QDialog):
    """A usual-sized dialog whose text scrolls; links open in the desktop's viewer."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Vitrina")
        self.text = QTextBrowser()
        self.text.setObjectName("aboutText")
        self.text.setOpenExternalLinks(True)
        self.text.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.text.setHtml(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        screen = (parent.screen() if parent else None) or QGuiApplication.primaryScreen()
        room = screen.availableGeometry()
        self.setMaximumSize(int(room.width() * SCREEN_SHARE), int(room.height() * SCREEN_SHARE))
        self.resize(min(SIZE[0], self.maximumWidth()), min(SIZE[1], self.maximumHeight()))


def show_about(parent: QWidget, text: str) -> AboutDialog:
    """Window-modal without blocking the event loop; the caller hears ``finished``."""
    dialog = AboutDialog(text, parent)
    dialog.finished.connect(lambda _: dialog.deleteLater())
    dialog.open()
    return dialog
