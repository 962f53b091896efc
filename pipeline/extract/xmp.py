"""Read the few XMP properties detection needs from a packet's text.

XMP is RDF/XML, so the same property can be an attribute of rdf:Description,
a child element with text, a child with rdf:resource, or an rdf:Alt/Seq/Bag,
and any prefix may be bound to the namespace. Properties are returned under
canonical "prefix:Name" keys keyed off the namespace URI, not the prefix the
file happened to use.

Safety: XMP never needs a DTD, so packets declaring one are refused before
the XML parser sees them (no entity expansion, no external entities), and the
packet is capped. Packets that are not well-formed XML (truncated APP1
segments, stray bytes) are read by a forgiving regex pass instead.
"""
from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

from alice.pipeline.metadata import Metadata

MAX_PACKET = 8 * 1024 * 1024     # extended XMP in JPEG tops out near this; more is not metadata
MAX_VALUE = 1024 * 1024          # one property value (JSON records live in single properties)
MAX_PROPERTIES = 5000

NAMESPACES: dict[str, str] = {
    "http://iptc.org/std/Iptc4xmpExt/2008-02-29/": "Iptc4xmpExt",
    "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/": "Iptc4xmpCore",
    "http://ns.adobe.com/photoshop/1.0/": "photoshop",
    "http://ns.adobe.com/xap/1.0/": "xmp",
    "http://ns.adobe.com/xap/1.0/mm/": "xmpMM",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://purl.org/dc/terms/": "dcterms",
    "http://ns.adobe.com/exif/1.0/": "exif",
    "http://ns.adobe.com/tiff/1.0/": "tiff",
    "http://www.tc260.org.cn/ns/AIGC/1.0/": "TC260",
    "https://alicemultiverse.dev/ns/1.0/": "alice",
}
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

_DTD_RE = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
EMPTY: Mapping[str, str] = MappingProxyType({})


def packet_of(meta: Metadata) -> str | None:
    """The XMP packet of a file, wherever the container kept it.

    PNG writers put XMP in an iTXt chunk keyword "XML:com.adobe.xmp" (some,
    like Midjourney, in tEXt), which may reach us only as a text chunk.
    """
    if meta.xmp:
        return meta.xmp
    for key in ("XML:com.adobe.xmp", "xmp", "XMP"):
        value = meta.text.get(key)
        if value:
            return value
    return None


def read_xmp(packet: str | bytes | None) -> Mapping[str, str]:
    """Known-namespace properties of an XMP packet as {"prefix:Name": value}.

    Never raises; an unreadable packet gives an empty mapping. The result is
    shared between callers (cached), hence read-only.
    """
    if packet is None:
        return EMPTY
    if isinstance(packet, (bytes, bytearray)):
        packet = bytes(packet[:MAX_PACKET]).decode("utf-8", "replace")
    if not isinstance(packet, str) or not packet.strip():
        return EMPTY
    return _read_cached(packet[:MAX_PACKET])


@lru_cache(maxsize=16)
def _read_cached(packet: str) -> Mapping[str, str]:
    # Several detectors ask about the same packet; parse it once.
    start = packet.find("<")
    if start < 0:
        return EMPTY
    text = packet[start:].replace("\x00", "")
    if _DTD_RE.search(text):
        return MappingProxyType(_read_regex(_DTD_RE.split(text, 1)[0]))
    try:
        root = ET.fromstring(text)
    except (ET.ParseError, ValueError, RecursionError):
        return MappingProxyType(_read_regex(text))
    return MappingProxyType(_read_tree(root))


def _qualify(tag: str) -> str | None:
    if not tag.startswith("{"):
        return None
    uri, _, local = tag[1:].partition("}")
    prefix = NAMESPACES.get(uri)
    return f"{prefix}:{local}" if prefix else None


def _cap(value: str) -> str:
    return value.strip()[:MAX_VALUE]


def _element_value(elem: ET.Element) -> str | None:
    resource = elem.get(f"{{{RDF}}}resource")
    if resource is not None:
        return _cap(resource)
    for container in ("Alt", "Seq", "Bag"):
        node = elem.find(f"{{{RDF}}}{container}")
        if node is None:
            continue
        items = [li for li in node.findall(f"{{{RDF}}}li")]
        if not items:
            return None
        if container == "Alt":
            default = next((li for li in items if li.get(XML_LANG) == "x-default"), items[0])
            return _cap(default.text or "")
        return _cap("; ".join((li.text or "").strip() for li in items if (li.text or "").strip()))
    if len(elem) == 0:
        return _cap(elem.text or "")
    return None   # a structure (rdf:parseType="Resource"): not a property we read


def _read_tree(root: ET.Element) -> dict[str, str]:
    found: dict[str, str] = {}
    for desc in root.iter(f"{{{RDF}}}Description"):
        for attr, value in desc.attrib.items():
            key = _qualify(attr)
            if key and key not in found:
                found[key] = _cap(value)
        for child in desc:
            key = _qualify(child.tag)
            if key and key not in found:
                text = _element_value(child)
                if text is not None:
                    found[key] = text
        if len(found) >= MAX_PROPERTIES:
            break
    return found


_XMLNS_RE = re.compile(r"""xmlns:([A-Za-z_][\w.-]*)\s*=\s*["']([^"']*)["']""")
_ATTR_RE = re.compile(r"""(?<![\w:])([A-Za-z_][\w.-]*):([A-Za-z_][\w.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ELEM_RE = re.compile(r"<([A-Za-z_][\w.-]*):([A-Za-z_][\w.-]*)(\s[^>]*)?>([^<]*)</\1:\2\s*>", re.DOTALL)
_RESOURCE_RE = re.compile(r"""rdf:resource\s*=\s*["']([^"']*)["']""")
_EMPTY_ELEM_RE = re.compile(r"<([A-Za-z_][\w.-]*):([A-Za-z_][\w.-]*)(\s[^>]*?)/>")


def _read_regex(text: str) -> dict[str, str]:
    """Best effort over damaged packets: flat properties only, no structures."""
    prefixes = {p: NAMESPACES[uri] for p, uri in _XMLNS_RE.findall(text) if uri in NAMESPACES}
    found: dict[str, str] = {}

    def put(prefix: str, local: str, value: str) -> None:
        canonical = prefixes.get(prefix)
        key = f"{canonical}:{local}" if canonical else None
        if key and key not in found and len(found) < MAX_PROPERTIES:
            found[key] = _cap(html.unescape(value))

    for match in _ATTR_RE.finditer(text):
        if match.group(1) != "xmlns":
            put(match.group(1), match.group(2), match.group(3) if match.group(3) is not None else match.group(4))
    for match in _ELEM_RE.finditer(text):
        if match.group(4).strip():
            put(match.group(1), match.group(2), match.group(4))
    for match in _EMPTY_ELEM_RE.finditer(text):
        resource = _RESOURCE_RE.search(match.group(3) or "")
        if resource:
            put(match.group(1), match.group(2), resource.group(1))
    return found
