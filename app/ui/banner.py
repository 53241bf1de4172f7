"""A message strip at the top of the window for what stays true until the user acts
(no bundle, no catalog, photos another bundle tagged)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

STYLES = {
    "warning": "background: #fff4d6; color: #5c4400; border: 1px solid #e8c66a;",
    "error": "background: #fde2e0; color: #6d1b14; border: 1px solid #e49a93;",
    "info": "background: #e3effd; color: #123a66; border: 1px solid #9cbfe8;",
}

NO_BUNDLE_HELP = (
    "Tagging and similar items are off: {problem} You can still browse and review the "
    "tags already in the catalog. To get a bundle, train one with <code>vitrina-train</code> "
    "or copy one into <code>models_onnx/default</code>, then use File → Choose bundle…."
)
NO_CATALOG_HELP = (
    "{problem}<br>Choose another catalog with File → Open catalog… or File → Settings… "
    "(the window stays usable; nothing was changed)."
)

OTHER_BUNDLE_HELP = (
    "{count:,} photo(s) were tagged by another model bundle, not {bundle}: they have no "
    "similar items yet, and their suggestions are the other bundle's. File → Re-tag with "
    "this bundle tags them again (accepted tags stay)."
)


class Banner(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QPushButton("✕")
        close.setFlat(True)
        close.setFixedWidth(28)
        close.setToolTip("Hide this message")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.text, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_text(self, text: str, kind: str = "warning") -> None:
        self.setStyleSheet(
            f"#banner {{ {STYLES.get(kind, STYLES['warning'])} border-radius: 4px; }}"
        )
        self.text.setText(text)
        self.show()

    def show_no_bundle(self, problem: str) -> None:
        self.show_text(NO_BUNDLE_HELP.format(problem=problem))

    def show_no_catalog(self, problem: str) -> None:
        self.show_text(NO_CATALOG_HELP.format(problem=problem), "error")

    def show_other_bundle(self, count: int, bundle: str) -> None:
        self.show_text(OTHER_BUNDLE_HELP.format(count=count, bundle=bundle), "info")
