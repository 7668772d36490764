"""Metadata writers for the tests: IPTC IIM in a Photoshop APP13 segment, XMP packets.

Written by hand, byte by byte, so that the reader under test never checks its own output.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape

from PIL import Image

UTF8 = b"\x1b%G"  # IIM 1:90, coded character set: UTF-8

IimFields = Mapping[tuple[int, int], Sequence[bytes]]


def iim(fields: IimFields) -> bytes:
    """An IIM stream: one 0x1C dataset per value, repeated datasets in order."""
    out = bytearray()
    for (record, dataset), values in fields.items():
        for value in values:
            out += struct.pack(">BBBH", 0x1C, record, dataset, len(value)) + value
    return bytes(out)


def app13(fields: IimFields | bytes) -> bytes:
    """The APP13 segment carrying ``fields`` (or a raw IIM stream) as Photoshop resource 0x0404."""
    data = fields if isinstance(fields, bytes) else iim(fields)
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(data))
    resource += data + (b"\x00" if len(data) % 2 else b"")
    body = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def xmp(props: str, *, prolog: str = "") -> bytes:
    """An XMP packet whose rdf:Description holds ``props`` (XML, written by the caller)."""
    return (
        f"{prolog}"
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">'
        f"{props}</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def seq(prop: str, *values: str) -> str:
    items = "".join(f"<rdf:li>{escape(v)}</rdf:li>" for v in values)
    return f"<{prop}><rdf:Seq>{items}</rdf:Seq></{prop}>"


def alt(prop: str, **by_lang: str) -> str:
    items = "".join(
        f'<rdf:li xml:lang="{lang.replace("_", "-")}">{escape(v)}</rdf:li>'
        for lang, v in by_lang.items()
    )
    return f"<{prop}><rdf:Alt>{items}</rdf:Alt></{prop}>"


def simple(prop: str, value: str) -> str:
    return f"<{prop}>{escape(value)}</{prop}>"


def jpeg(
    *, fields: IimFields | bytes | None = None, packet: bytes | None = None, exif: bytes = b""
) -> bytes:
    """A small JPEG with an APP13 IIM block, an APP1 XMP packet and EXIF, each optional."""
    buf = io.BytesIO()
    params: dict[str, object] = {"exif": exif}
    if fields is not None:
        params["extra"] = app13(fields)
    if packet is not None:
        params["xmp"] = packet
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buf, "JPEG", **params)
    return buf.getvalue()


def camera_exif() -> bytes:
    """EXIF with a camera make, a maker note and a GPS position: what must never leak."""
    exif = Image.Exif()
    exif[0x010F] = "Leica"  # Make
    exif[0x0110] = "M11"  # Model
    exif.get_ifd(0x8769)[0x927C] = b"maker note bytes"  # MakerNote
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (52.0, 31.0, 12.0)
    return exif.tobytes()
