"""XMP packets: Vitrina's keywords merged into a sidecar, everything else in it kept.

A sidecar is shared with darktable, digiKam, Lightroom...: their keywords, properties,
comments and ``<?xpacket?>`` wrapper stay as they were. The packet also records which
keywords Vitrina added (``vitrina:keywords``), so that a corrected label replaces the
keyword Vitrina wrote before and never one another tool wrote. Text XML cannot hold
(control characters) never reaches the file.
"""

from __future__ import annotations

import contextlib
import io
import re
import xml.etree.ElementTree as ET
from xml.parsers import expat

from app.core.errors import VitrinaError
from app.core.tag_input import NOT_XML_TEXT

NS_X = "adobe:ns:meta/"
NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_DC = "http://purl.org/dc/elements/1.1/"
NS_VITRINA = "urn:vitrina:xmp:1.0/"
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'
# Bytes of characters XML cannot hold (as UTF-8): what an older Vitrina let into a keyword.
_NOT_XML_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]")
_LEADING_DECLARATION = re.compile(rb"^(?:\xef\xbb\xbf)?\s*(<\?xml\s.*?\?>)?", re.DOTALL)
_MISC = re.compile(rb"(?:\s|<!--.*?-->|<\?.*?\?>)*", re.DOTALL)  # what may follow the root
BROKEN_HINT = (
    "it was left as it is and this photo's keywords were not written. Repair it in the "
    "program that wrote it, or delete it so that Vitrina writes a new one; then write "
    "the sidecars again."
)


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


RDF_BAG, RDF_LI, RDF_DESCRIPTION = _q(NS_RDF, "Bag"), _q(NS_RDF, "li"), _q(NS_RDF, "Description")
DC_SUBJECT, OWNED = _q(NS_DC, "subject"), _q(NS_VITRINA, "keywords")


def clean_keywords(words: list[str]) -> list[str]:
    """The keywords as XML can hold them: characters it cannot dropped, empty ones too."""
    cleaned = (NOT_XML_TEXT.sub("", word).strip() for word in words)
    return list(dict.fromkeys(word for word in cleaned if word))


def merge_keywords(existing: bytes | None, keywords: list[str], source: str = "") -> bytes:
    """An XMP packet whose ``dc:subject`` holds ``keywords`` next to other tools' keywords.

    A keyword Vitrina added before and no longer gives (a corrected label) is taken out;
    everything else in ``existing`` is kept. Raises ``VitrinaError`` when ``existing`` is
    not an XMP packet, so a sidecar another tool wrote is never clobbered.
    """
    if existing:
        root, prolog, epilog = _parse(existing, source)
    else:
        _register_prefixes(b"<x/>")
        root, prolog, epilog = _empty_xmp(), DECLARATION + b"\n", b"\n"
    rdf = root if root.tag == _q(NS_RDF, "RDF") else root.find(_q(NS_RDF, "RDF"))
    if rdf is None:
        raise VitrinaError(f"{source}: the sidecar has no rdf:RDF element; {BROKEN_HINT}")
    description, subject = _subject(rdf)
    bag = subject.find(RDF_BAG)
    if bag is None:
        bag = ET.SubElement(subject, RDF_BAG)
    owned = set(_owned(rdf))
    words = clean_keywords(keywords)
    for li in bag.findall(RDF_LI):
        if li.text in owned and li.text not in words:
            bag.remove(li)
    present = [li.text or "" for li in bag.findall(RDF_LI)]
    ours = [word for word in words if word in owned or word not in present]
    for word in words:
        if word not in present:
            ET.SubElement(bag, RDF_LI).text = word
    record = _record_owned(rdf, description, ours)
    if existing:
        for element in (subject, record):
            if element is not None:
                depth, unit = _layout(root, element)
                ET.indent(element, space=unit, level=depth)
    else:
        ET.indent(root, space=" ")
    data = prolog + ET.tostring(root, encoding="utf-8") + epilog
    try:
        ET.fromstring(data)
    except ET.ParseError as exc:  # a prolog or epilog this module misread: write nothing
        raise VitrinaError(
            f"{source}: merging the keywords gave invalid XML ({exc}); {BROKEN_HINT}"
        ) from None
    return data


def _parse(data: bytes, source: str) -> tuple[ET.Element, bytes, bytes]:
    """(root, what comes before it, what comes after it) of an existing sidecar.

    A sidecar broken only by characters XML cannot hold (an older Vitrina wrote them into
    a keyword) is read without them; any other damage is reported.
    """
    try:
        return _parse_exactly(data)
    except (ET.ParseError, expat.ExpatError, ValueError, LookupError) as exc:
        problem = exc
    repaired = _NOT_XML_BYTES.sub(b"", data)
    if repaired != data:
        with contextlib.suppress(ET.ParseError, expat.ExpatError, ValueError, LookupError):
            return _parse_exactly(repaired)
    raise VitrinaError(f"{source}: the sidecar is not valid XML ({problem}); {BROKEN_HINT}")


def _parse_exactly(data: bytes) -> tuple[ET.Element, bytes, bytes]:
    builder = ET.TreeBuilder(insert_comments=True, insert_pis=True)
    parser = ET.XMLParser(target=builder)
    parser.feed(data)
    root = parser.close()
    _register_prefixes(data)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:  # UTF-16 and the like: rewritten as UTF-8, without the rest
        return root, DECLARATION + b"\n", b"\n"
    start, end = _root_span(data)
    declaration = _LEADING_DECLARATION.match(data[:start])
    prolog = data[declaration.end() : start]
    if declaration.group(1):  # re-encoded as UTF-8, whatever it said
        prolog = DECLARATION + prolog
    return root, prolog, data[end:]


def _root_span(data: bytes) -> tuple[int, int]:
    """Byte offsets where the root element starts and where what follows it begins."""
    parser = expat.ParserCreate()
    depth, start, last_end = 0, 0, 0

    def opened(name: str, attributes: dict) -> None:
        nonlocal depth, start
        if depth == 0:
            start = parser.CurrentByteIndex
        depth += 1

    def closed(name: str) -> None:
        nonlocal depth, last_end
        depth -= 1
        if depth == 0:
            last_end = parser.CurrentByteIndex

    parser.StartElementHandler, parser.EndElementHandler = opened, closed
    parser.Parse(data, True)
    end = data.find(b">", last_end) + 1
    while end and _MISC.fullmatch(data, end) is None:  # a '>' inside the root's attributes
        end = data.find(b">", end) + 1
    return start, end or len(data)


def _register_prefixes(data: bytes) -> None:
    """Keep the prefixes a sidecar already uses, so a rewrite does not turn them into ns0."""
    for prefix, uri in (("x", NS_X), ("rdf", NS_RDF), ("dc", NS_DC), ("vitrina", NS_VITRINA)):
        ET.register_namespace(prefix, uri)
    for _, (prefix, uri) in ET.iterparse(io.BytesIO(data), events=("start-ns",)):
        with contextlib.suppress(ValueError):
            ET.register_namespace(prefix, uri)


def _empty_xmp() -> ET.Element:
    root = ET.Element(_q(NS_X, "xmpmeta"))
    rdf = ET.SubElement(root, _q(NS_RDF, "RDF"))
    ET.SubElement(rdf, RDF_DESCRIPTION, {_q(NS_RDF, "about"): ""})
    return root


def _subject(rdf: ET.Element) -> tuple[ET.Element, ET.Element]:
    """(description, its dc:subject): the first one, created in the first description."""
    descriptions = rdf.findall(RDF_DESCRIPTION)
    for description in descriptions:
        subject = description.find(DC_SUBJECT)
        if subject is not None:
            return description, subject
    if descriptions:
        description = descriptions[0]
    else:
        description = _append(rdf, RDF_DESCRIPTION)
        description.set(_q(NS_RDF, "about"), "")
    return description, _append(description, DC_SUBJECT)


def _owned(rdf: ET.Element) -> list[str]:
    """The keywords Vitrina added the last time it wrote this sidecar."""
    return [li.text or "" for record in rdf.iter(OWNED) for li in record.iter(RDF_LI)]


def _record_owned(rdf: ET.Element, description: ET.Element, words: list[str]) -> ET.Element | None:
    """Write ``words`` as the keywords Vitrina added (no record when there are none)."""
    record = description.find(OWNED) if words else None
    for parent in rdf.iter(RDF_DESCRIPTION):
        for stale in parent.findall(OWNED):
            if stale is not record:
                _remove(parent, stale)
    if not words:
        return None
    if record is None:
        record = _append(description, OWNED)
    del record[:]
    bag = ET.SubElement(record, RDF_BAG)
    for word in words:
        ET.SubElement(bag, RDF_LI).text = word
    return record


def _append(parent: ET.Element, tag: str) -> ET.Element:
    """A new last child, indented like its siblings."""
    children = list(parent)
    child = ET.SubElement(parent, tag)
    if children:
        child.tail, children[-1].tail = children[-1].tail, parent.text
    return child


def _remove(parent: ET.Element, child: ET.Element) -> None:
    """Take ``child`` out, leaving the indentation of what follows it as it was."""
    children = list(parent)
    index = children.index(child)
    if index == len(children) - 1:
        if index:
            children[index - 1].tail = child.tail
        else:
            parent.text = child.tail
    parent.remove(child)


def _layout(root: ET.Element, target: ET.Element) -> tuple[int, str]:
    """The depth of ``target`` and the indent unit the file uses, to indent what we add alike."""
    parents = {child: parent for parent in root.iter() for child in parent}
    depth, node = 0, target
    while node in parents:
        node = parents[node]
        depth += 1
    parent = parents.get(target)
    before = ""
    if parent is not None:
        siblings = list(parent)
        index = siblings.index(target)
        before = (siblings[index - 1].tail if index else parent.text) or ""
    indent = before.rsplit("\n", 1)[-1]
    if depth and indent and len(indent) % depth == 0:
        return depth, indent[: len(indent) // depth]
    return depth, " "
