"""Rights metadata: read the credit of an upload, write the minimal XMP packet outputs carry.

**What is read** (``read_credit``): creator, credit line, copyright notice, caption and
source, so that the CMS can prefill them (issue 12; thumbor#1502 and imgproxy#771 asked
for the same). Two sources, both as Pillow exposes them on the opened source image:

- IPTC IIM, the Photoshop APP13 resource 0x0404 of a JPEG (``IptcImagePlugin.getiptcinfo``):
  2:80 By-line, 2:110 Credit, 2:116 Copyright Notice, 2:120 Caption/Abstract, 2:115 Source.
  Repeated datasets are joined with ``"; "``. Bytes are UTF-8 when 1:90 (coded character
  set) is ``ESC % G``; without it UTF-8 is still tried first, since most current tools
  write UTF-8 and forget 1:90, and Latin-1 is the fallback (it decodes any byte).
- XMP, the packet Pillow puts in ``im.info["xmp"]``: JPEG APP1 ``http://ns.adobe.com/xap/1.0/``,
  PNG iTXt ``XML:com.adobe.xmp``, the WebP ``XMP`` chunk, the AVIF XMP item. Properties:
  ``dc:creator`` (rdf:Seq), ``photoshop:Credit``, ``dc:rights`` and ``dc:description``
  (rdf:Alt, ``x-default`` preferred) and ``photoshop:Source``, as elements or attributes.

**Precedence: XMP wins** field by field where both carry a value. The IPTC Photo Metadata
Standard treats IIM as the legacy serialisation and XMP as the current one, and the Metadata
Working Group's guidelines have a reader prefer XMP when both are present. We do not check
the IIM digest (Photoshop resource 0x0425) that MWG uses to detect an IIM edited later by a
legacy tool: such an edit loses, an accepted simplification.

**Hostile metadata is ignored, never raised.** XMP is parsed only with ``defusedxml``, which
refuses any DTD, entity declaration or external reference (billion laughs, XXE): such a
packet, malformed XML, or a packet over ``MAX_PACKET_BYTES`` is skipped as a whole and the
IIM values stand. Every field is bounded: control characters removed, whitespace runs made
one space, at most ``MAX_FIELD_CHARS`` characters. Nothing here touches a file or a socket.

**What outputs keep** (``xmp_packet``, ``save_params``): creator, credit and copyright only,
as a minimal XMP packet, so that attribution travels with every copy (the EU copyright
directive 2019/790 protects rights-management information; the IPTC standard names these
three as the rights fields). Caption and source are editorial, not rights, and stay in the
description. GPS, camera EXIF, maker notes and comments never reach an output.
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from dataclasses import asdict, dataclass, replace
from typing import Any

import defusedxml
import defusedxml.ElementTree
from PIL import Image, ImageFile, IptcImagePlugin

log = logging.getLogger(__name__)

MAX_PACKET_BYTES = 256 * 1024
MAX_FIELD_CHARS = 2000

_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_PS = "{http://ns.adobe.com/photoshop/1.0/}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# Credit field -> (XMP property, IIM dataset).
_FIELDS: dict[str, tuple[str, tuple[int, int]]] = {
    "creator": (f"{_DC}creator", (2, 80)),
    "credit": (f"{_PS}Credit", (2, 110)),
    "copyright": (f"{_DC}rights", (2, 116)),
    "caption": (f"{_DC}description", (2, 120)),
    "source": (f"{_PS}Source", (2, 115)),
}
_UTF8_ESCAPE = b"\x1b%G"
_WHITESPACE = re.compile(r"\s+")
# XML 1.0 cannot carry these at all; a packet holding one would not parse.
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")
# Pillow formats whose save() takes ``xmp=`` (checked against Pillow 13.0; none of the
# three falls back to ``im.info["xmp"]``, so an absent parameter means no XMP).
_XMP_FORMATS = {"webp": "WEBP", "avif": "AVIF", "jpeg": "JPEG", "jpg": "JPEG"}


@dataclass(frozen=True, slots=True)
class Credit:
    """The credit of one image; ``None`` where the source says nothing."""

    creator: str | None = None
    credit: str | None = None
    copyright: str | None = None
    caption: str | None = None
    source: str | None = None

    def to_dict(self) -> dict[str, str]:
        """The description's ``credit`` object: present fields only."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def rights(self) -> Credit:
        """Only what outputs carry: creator, credit and copyright."""
        return replace(self, caption=None, source=None)


def clean(text: str) -> str | None:
    """``text`` made safe to show and to write as XML: ``None`` when nothing is left.

    Whitespace runs become one space, other control characters and what XML 1.0 cannot
    carry are removed, and the result is cut to ``MAX_FIELD_CHARS`` characters.
    """
    text = _NOT_XML.sub("", _WHITESPACE.sub(" ", text))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cc")
    text = text.strip()[:MAX_FIELD_CHARS].strip()
    return text or None


def read_credit(im: Image.Image) -> Credit:
    """The credit of the source image ``im``, as opened by Pillow and not yet transformed.

    Pass the opened source itself: Pillow's IIM reader recognises a JPEG by its class, and a
    transformed copy is a plain ``Image``. Never raises for bad metadata: what cannot be read
    safely is left out (logged at debug).
    """
    iim = _read_iim(im)
    xmp = _read_xmp(im.info.get("xmp"))
    return Credit(**{name: xmp.get(name) or iim.get(name) for name in _FIELDS})


def _read_iim(im: Image.Image) -> dict[str, str]:
    if not isinstance(im, ImageFile.ImageFile):
        return {}
    try:
        info = IptcImagePlugin.getiptcinfo(im) or {}
    except (SyntaxError, OSError, ValueError, IndexError, KeyError, TypeError) as exc:
        # Pillow raises SyntaxError/OSError for a malformed IIM block; the rest are cheap
        # insurance against a reader that was never written for hostile input.
        log.debug("IPTC IIM block ignored: %s", exc)
        return {}
    charset = _values(info.get((1, 90)))
    utf8 = bool(charset) and charset[0].startswith(_UTF8_ESCAPE)
    found: dict[str, str] = {}
    for name, (_, dataset) in _FIELDS.items():
        parts = [clean(_decode(v, utf8)) for v in _values(info.get(dataset))]
        text = clean("; ".join(p for p in parts if p))
        if text:
            found[name] = text
    return found


def _values(raw: object) -> list[bytes]:
    items = raw if isinstance(raw, list) else [raw]
    return [v for v in items if isinstance(v, bytes) and v]


def _decode(value: bytes, utf8: bool) -> str:
    if utf8:
        return value.decode("utf-8", errors="replace")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _read_xmp(raw: object) -> dict[str, str]:
    """The credit fields of one XMP packet; empty when the packet is absent or refused."""
    data = raw.encode("utf-8", errors="replace") if isinstance(raw, str) else raw
    if not isinstance(data, bytes) or not data:
        return {}
    if len(data) > MAX_PACKET_BYTES:
        log.debug("XMP packet of %d bytes ignored (over %d)", len(data), MAX_PACKET_BYTES)
        return {}
    try:
        root = defusedxml.ElementTree.fromstring(data.strip(b"\x00 \t\r\n"), forbid_dtd=True)
    except (defusedxml.DefusedXmlException, defusedxml.ElementTree.ParseError, ValueError) as exc:
        log.debug("XMP packet ignored: %s", exc)
        return {}
    found: dict[str, str] = {}
    for desc in root.iter(f"{_RDF}Description"):
        for name, (prop, _) in _FIELDS.items():
            if name not in found and (text := _property(desc, prop)):
                found[name] = text
    return found


def _property(desc: Any, prop: str) -> str | None:
    """One property of an ``rdf:Description``: attribute form, simple element or container."""
    if prop in desc.attrib:
        return clean(desc.attrib[prop])
    element = desc.find(prop)
    if element is None:
        return None
    items = [li for container in element for li in container.iter(f"{_RDF}li")]
    if not items:
        return clean("".join(element.itertext()))
    if element.find(f"{_RDF}Alt") is not None:
        default = [li for li in items if li.get(_XML_LANG) == "x-default"]
        items = (default or items)[:1]
    parts = [clean("".join(li.itertext())) for li in items]
    return clean("; ".join(p for p in parts if p))


def xmp_packet(credit: Credit) -> bytes | None:
    """A minimal XMP packet with only creator, credit and copyright; ``None`` without any.

    Built as text with every value escaped (and cleaned again, so that a ``Credit`` made
    elsewhere cannot break the XML). No padding: outputs are never edited in place. The
    packet stays far below JPEG's 65,504-byte APP1 limit: three fields of at most
    ``MAX_FIELD_CHARS`` characters, 4 UTF-8 bytes and 5 escaped bytes at worst.
    """
    creator, line, rights = (
        clean(v) if v else None for v in (credit.creator, credit.credit, credit.copyright)
    )
    if not (creator or line or rights):
        return None
    props = []
    if creator:
        props.append(
            f"<dc:creator><rdf:Seq><rdf:li>{_escape(creator)}</rdf:li></rdf:Seq></dc:creator>"
        )
    if line:
        props.append(f"<photoshop:Credit>{_escape(line)}</photoshop:Credit>")
    if rights:
        props.append(
            '<dc:rights><rdf:Alt><rdf:li xml:lang="x-default">'
            f"{_escape(rights)}</rdf:li></rdf:Alt></dc:rights>"
        )
    body = "\n".join(f"   {p}" for p in props)
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">\n'
        f"{body}\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    ).encode()


def save_params(fmt: str, packet: bytes | None) -> dict[str, Any]:
    """The extra ``Image.save`` parameters that embed ``packet`` in a ``fmt`` output.

    ``fmt`` is a format name of the registry (``webp``, ``avif``, ``jpeg``; case ignored).
    Without a packet the answer is ``xmp=b""``, which writes exactly the bytes an absent
    parameter writes, and keeps it so should a later Pillow default to the source's XMP.
    Raises ``ValueError`` for a format whose Pillow encoder cannot carry XMP, rather than
    dropping the credit in silence.
    """
    if fmt.lower() not in _XMP_FORMATS:
        raise ValueError(f"{fmt!r} outputs cannot carry XMP with Pillow")
    return {"xmp": packet or b""}


def _escape(text: str) -> str:
    """XML character data: the standard library's escaping, through ``html`` so that
    this module imports nothing of ``xml`` (untrusted XML is parsed by defusedxml only)."""
    return html.escape(text, quote=False)
