"""pipeline.rights: credit read from IPTC IIM and XMP, hostile packets ignored, outputs carry
only creator, credit and copyright."""

from __future__ import annotations

import io

import defusedxml.ElementTree
import pytest
from PIL import Image, PngImagePlugin

from imgsvc import pipeline
from imgsvc.pipeline import PipelineConfig
from imgsvc.pipeline.rights import (
    MAX_FIELD_CHARS,
    Credit,
    clean,
    read_credit,
    save_params,
    xmp_packet,
)
from imgsvc.settings import Settings

from ..support import metadata as md

FULL = Credit(
    creator="Zoë Ångström; Jürgen Ødegård",
    credit="Agence Éclair",
    copyright="© 2024 Agence Éclair",
    caption="Le président à Paris",
    source="Agence Éclair Paris",
)
FULL_XMP = md.xmp(
    md.seq("dc:creator", "Zoë Ångström", "Jürgen Ødegård")
    + md.simple("photoshop:Credit", "Agence Éclair")
    + md.alt("dc:rights", de="© 2024 Agentur", x_default="© 2024 Agence Éclair")
    + md.alt("dc:description", x_default="Le président à Paris")
    + md.simple("photoshop:Source", "Agence Éclair Paris")
)
BOMB = md.xmp(
    md.simple("photoshop:Credit", "&lol9;").replace("&amp;", "&"),
    prolog='<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]>",
)
XXE = md.xmp(
    md.simple("photoshop:Credit", "&xxe;").replace("&amp;", "&"),
    prolog='<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
)
HOSTILE = {
    "billion laughs": BOMB,
    "xxe": XXE,
    "malformed": md.xmp("<photoshop:Credit>unclosed</dc:creator>"),
    "undeclared entity": md.xmp("<photoshop:Credit>&nope;</photoshop:Credit>"),
    "not xml": b"\x00\xff\xfe garbage <<<",
}


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_iim_utf8_with_repeated_by_lines() -> None:
    fields = {
        (1, 90): [md.UTF8],
        (2, 80): ["Zoë Ångström".encode(), "Jürgen Ødegård".encode()],
        (2, 110): ["Agence Éclair".encode()],
        (2, 116): ["© 2024 Agence Éclair".encode()],
        (2, 120): ["Le président à Paris".encode()],
        (2, 115): ["Agence Éclair Paris".encode()],
    }
    assert read_credit(opened(md.jpeg(fields=fields))) == FULL


def test_iim_without_coded_character_set_falls_back_to_latin1() -> None:
    fields = {(2, 80): ["Zoë".encode("latin-1")], (2, 110): ["Ørsted".encode()]}
    assert read_credit(opened(md.jpeg(fields=fields))) == Credit(creator="Zoë", credit="Ørsted")


def test_xmp_in_jpeg_prefers_x_default_and_keeps_seq_order() -> None:
    assert read_credit(opened(md.jpeg(packet=FULL_XMP))) == FULL


def test_xmp_wins_over_iim_field_by_field() -> None:
    fields = {(2, 80): [b"IIM Creator"], (2, 110): [b"IIM Credit"], (2, 120): [b"IIM caption"]}
    packet = md.xmp(md.seq("dc:creator", "XMP Creator"))
    credit = read_credit(opened(md.jpeg(fields=fields, packet=packet)))
    assert credit == Credit(creator="XMP Creator", credit="IIM Credit", caption="IIM caption")


def test_xmp_properties_in_attribute_form() -> None:
    packet = md.xmp("").replace(b'rdf:about=""', b'rdf:about="" photoshop:Credit="Reuters"')
    assert read_credit(opened(md.jpeg(packet=packet))) == Credit(credit="Reuters")


def test_png_itxt_xmp() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", FULL_XMP.decode())
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG", pnginfo=info)
    assert read_credit(opened(buf.getvalue())) == FULL


def test_webp_xmp_chunk() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "WEBP", xmp=FULL_XMP)
    assert read_credit(opened(buf.getvalue())) == FULL


def test_no_metadata_and_a_plain_image() -> None:
    assert read_credit(opened(md.jpeg())) == Credit()
    assert read_credit(Image.new("RGB", (4, 4))) == Credit()
    assert Credit().to_dict() == {}
    assert Credit(creator="A", source="B").to_dict() == {"creator": "A", "source": "B"}


@pytest.mark.timeout(60)  # a bomb that expanded would hang here, not pass slowly
@pytest.mark.parametrize("packet", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_xmp_is_ignored_and_iim_stands(packet: bytes) -> None:
    fields = {(2, 116): [b"(c) IIM"]}
    credit = read_credit(opened(md.jpeg(fields=fields, packet=packet)))  # no hang: timeout
    assert credit == Credit(copyright="(c) IIM")
    assert "root:" not in repr(credit) and "lol" not in repr(credit)


@pytest.mark.timeout(60)
def test_a_10_mb_packet_is_ignored_unread() -> None:
    props = md.simple("photoshop:Credit", "x" * (10 * 1024 * 1024))
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "WEBP", xmp=md.xmp(props))
    assert read_credit(opened(buf.getvalue())) == Credit()


@pytest.mark.parametrize(
    "stream",
    [
        b"\x1c\x02\x50\xff\xffjunk!",
        b"\x1d\x02\x50\x00\x01x",
        b"\x1c\x02\x50\x00\x02OK\x1d\x02\x50\x00\x01x",
    ],
    ids=["illegal length", "bad tag", "good then bad"],
)
def test_malformed_iim_is_ignored(stream: bytes) -> None:
    assert read_credit(opened(md.jpeg(fields=stream))) == Credit()


@pytest.mark.parametrize("packet", [BOMB, XXE], ids=["billion laughs", "xxe"])
def test_hostile_upload_still_converts(packet: bytes, settings: Settings) -> None:
    conversion = pipeline.convert(md.jpeg(packet=packet), PipelineConfig.from_settings(settings))
    assert conversion.variants
    assert all(b"root:" not in v.data for v in conversion.variants)


def test_fields_are_cleaned_and_bounded() -> None:
    assert clean("  Zoë\x00\x07 \t\n Ångström\x1b ") == "Zoë Ångström"
    assert clean("\x00\n\x7f") is None
    assert len(clean("é" * 10_000) or "") == MAX_FIELD_CHARS
    packet = md.xmp(md.simple("photoshop:Credit", "A\u0085\tB" + "c" * 5000))
    credit = read_credit(opened(md.jpeg(packet=packet))).credit or ""
    assert credit.startswith("A B") and len(credit) == MAX_FIELD_CHARS


def _properties(packet: bytes) -> set[str]:
    """Every property and attribute of every rdf:Description in the packet."""
    rdf = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
    root = defusedxml.ElementTree.fromstring(packet, forbid_dtd=True)
    found: set[str] = set()
    for desc in root.iter(f"{rdf}Description"):
        found |= {child.tag for child in desc} | (set(desc.attrib) - {f"{rdf}about"})
    return found


@pytest.mark.parametrize("fmt", ["webp", "avif", "jpeg"])
def test_outputs_carry_only_the_three_rights_fields(fmt: str) -> None:
    source = opened(md.jpeg(fields={(2, 80): [b"IIM"]}, packet=FULL_XMP, exif=md.camera_exif()))
    assert source.getexif()  # the source does carry camera EXIF and GPS
    credit = read_credit(source)
    packet = xmp_packet(credit)
    buf = io.BytesIO()
    source.convert("RGB").resize((32, 24)).save(buf, fmt.upper(), **save_params(fmt, packet))
    out = opened(buf.getvalue())
    assert read_credit(out) == credit.rights() == Credit(FULL.creator, FULL.credit, FULL.copyright)
    assert not out.getexif()
    assert b"Leica" not in buf.getvalue() and b"maker note" not in buf.getvalue()
    assert "comment" not in out.info
    assert _properties(out.info["xmp"]) == {
        "{http://purl.org/dc/elements/1.1/}creator",
        "{http://ns.adobe.com/photoshop/1.0/}Credit",
        "{http://purl.org/dc/elements/1.1/}rights",
    }


@pytest.mark.parametrize("fmt", ["webp", "avif", "jpeg"])
def test_markup_in_values_round_trips_verbatim(fmt: str) -> None:
    credit = Credit(creator="<script>&\"'</script>", credit="A & B <c>", copyright="\"'&amp;")
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, fmt.upper(), **save_params(fmt, xmp_packet(credit)))
    assert read_credit(opened(buf.getvalue())) == credit


def test_packet_shape() -> None:
    packet = xmp_packet(Credit(creator="A"))
    assert packet is not None
    assert packet.startswith(b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>')
    assert packet.endswith(b'<?xpacket end="w"?>')
    assert xmp_packet(Credit()) is None
    assert xmp_packet(Credit(caption="only a caption", source="s")) is None
    assert xmp_packet(Credit(creator="\x00\x01 ")) is None


@pytest.mark.parametrize("fmt", ["webp", "avif", "jpeg"])
def test_no_packet_writes_the_bytes_of_no_parameter(fmt: str) -> None:
    im = Image.new("RGB", (16, 16), (10, 120, 200))
    plain, explicit = io.BytesIO(), io.BytesIO()
    im.save(plain, fmt.upper())
    im.save(explicit, fmt.upper(), **save_params(fmt, None))
    assert plain.getvalue() == explicit.getvalue()


def test_formats_that_cannot_carry_xmp_are_refused() -> None:
    assert save_params("WebP", b"x") == {"xmp": b"x"}
    with pytest.raises(ValueError):
        save_params("gif", b"x")
