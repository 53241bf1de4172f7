"""Label maps: data files (``training/labelmaps/*.json``) that turn a source's own columns
into Vitrina's four families. Kept as data so a new shop's vocabulary needs no code."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

LABELMAP_DIR = Path(__file__).with_name("labelmaps")
FAMILIES = ("category", "colour", "pattern", "sleeve")
NOT_A_LABEL = frozenset({"unsure", "multi"})


@cache
def vocabulary() -> dict[str, tuple[str, ...]]:
    """Family -> labels in output order, from ``families.json``."""
    data = json.loads((LABELMAP_DIR / "families.json").read_text(encoding="utf-8"))
    return {name: tuple(labels) for name, labels in data["families"].items()}


@cache
def gates() -> dict[str, dict]:
    """Family -> its ``applies_to`` gate (docs/bundle.md), from ``families.json``."""
    data = json.loads((LABELMAP_DIR / "families.json").read_text(encoding="utf-8"))
    return data.get("applies_to", {})


@dataclass(frozen=True)
class LabelMap:
    """One source's mapping, loaded from ``labelmaps/<name>.json``."""

    name: str
    spec: dict

    @classmethod
    def load(cls, name: str) -> LabelMap:
        path = LABELMAP_DIR / f"{name}.json"
        return cls(name, json.loads(path.read_text(encoding="utf-8")))

    def fits(self, header: list[str], folder: str) -> bool:
        """True when a labels.csv header has every column this map reads (and, for a map
        that names its ``folder``, the data sits in a folder of that name: a bare
        ``image,pattern`` CSV of one's own must not be read through the dresses map)."""
        return (
            set(self.spec["signature"]) <= set(header) and self.spec.get("folder", folder) == folder
        )

    def checked_labels(self) -> dict[str, dict[str, str | None]]:
        """Image -> hand-checked labels from the map's ``checked_labels`` CSV (if any).

        The CSV has the map's image column and one column per family. An empty cell was
        not checked; the labeller's ``unsure``/``multi`` is None: checked, and no label
        holds (so a mapped label there is dropped, not trusted).
        """
        name = self.spec.get("checked_labels")
        if not name:
            return {}
        result = {}
        with (LABELMAP_DIR / name).open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                labels = {
                    f: None if value in NOT_A_LABEL else value
                    for f in FAMILIES
                    if (value := (row.get(f) or "").strip())
                }
                if labels:
                    result[row[self.spec["image_column"]]] = labels
        return result

    def held_out(self) -> dict[str, str]:
        """Image -> "val" or "test" from the map's ``held_out`` CSV: pinned photos, so a
        backbone fine-tuned on the other photos of the source never meets them in training,
        whatever the label maps or other sources change (which move a drawn split)."""
        name = self.spec.get("held_out")
        if not name:
            return {}
        with (LABELMAP_DIR / name).open(newline="", encoding="utf-8") as handle:
            return {row[self.spec["image_column"]]: row["split"] for row in csv.DictReader(handle)}

    def pattern_applies(self, labels: dict[str, str]) -> bool:
        """Whether a photo with these mapped labels can have a pattern: the map's pattern
        ``categories`` (catalog: garments, not watches or bags), or any photo if it has none."""
        spec = self.spec.get("pattern") or {}
        return "categories" not in spec or labels.get("category") in spec["categories"]

    def labels_for(self, row: dict[str, str]) -> dict[str, str] | None:
        """The family labels one CSV row gets; None when the row is excluded."""
        for column_family, values in self.spec.get("exclude", {}).items():
            if row.get(self.spec[column_family]["column"]) in values:
                return None
        labels: dict[str, str] = {}
        cat_spec = self.spec["category"]
        raw_category = row.get(cat_spec.get("column", ""), "")
        category = cat_spec.get("value") or cat_spec["map"].get(raw_category)
        title = self._title(row)
        for override in cat_spec.get("title_overrides", []):
            if category == override["when_category"] and re.search(override["pattern"], title):
                category = override["label"]
        if category:
            labels["category"] = category
        colour_spec = self.spec.get("colour")
        if colour_spec and (colour := colour_spec["map"].get(row.get(colour_spec["column"], ""))):
            labels["colour"] = colour
        pattern_spec = self.spec.get("pattern")
        if pattern_spec and "column" in pattern_spec:
            pattern = pattern_spec["map"].get(row.get(pattern_spec["column"], ""))
            if pattern:
                labels["pattern"] = pattern
        elif pattern_spec and category in pattern_spec["categories"]:
            pattern = _single_match(pattern_spec["rules"], title, pattern_spec.get("fallback"))
            if pattern:
                labels["pattern"] = pattern
        sleeve = self._sleeve(raw_category, category, title)
        if sleeve:
            labels["sleeve"] = sleeve
        return labels

    def _title(self, row: dict[str, str]) -> str:
        title_spec = self.spec.get("title")
        if not title_spec:
            return ""
        title = row.get(title_spec["column"], "").lower()
        for brand in title_spec.get("strip", []):
            title = re.sub(rf"\b{brand}", " ", title)
        return title

    def _sleeve(self, raw_category: str, category: str | None, title: str) -> str | None:
        spec = self.spec.get("sleeve")
        if not spec:
            return None
        if "rules" in spec and category in spec.get("categories", ()):
            from_title = _single_match(spec["rules"], title)
            if from_title:
                return from_title
        by_category = spec["from_category"]
        return by_category.get(raw_category) or by_category.get(category or "")


def _single_match(rules: dict[str, str], text: str, fallback: str | None = None) -> str | None:
    """The one label whose pattern matches ``text``; None for none or several.

    ``fallback`` (e.g. "printed") yields to a more specific match ("flower print" is floral).
    """
    hits = [label for label, pattern in rules.items() if re.search(pattern, text)]
    if fallback in hits and len(hits) > 1:
        hits.remove(fallback)
    return hits[0] if len(hits) == 1 else None


def detect(labels_csv: Path) -> LabelMap | None:
    """The shipped label map whose columns a labels.csv has, if any."""
    with labels_csv.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    for path in sorted(LABELMAP_DIR.glob("*.json")):
        if path.stem == "families":
            continue
        labelmap = LabelMap.load(path.stem)
        if labelmap.fits(header, labels_csv.parent.name):
            return labelmap
    return None
