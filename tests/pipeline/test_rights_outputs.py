"""What outputs carry of the source's metadata (issue 12): with ``keep_rights_metadata``
(the default) an XMP packet with creator, credit and copyright, and nothing else;
without it, nothing at all. Checked by decoding every output, main set and crops."""

from __future__ import annotations

import io

from PIL import Image

from imgsvc.pipeline import Conversion, EncodedVariant, PipelineConfig, convert
from imgsvc.pipeline.rights import Credit, read_credit
from imgsvc.settings import Settings

from ..support import images, metadata

CAPTION = "Protesters fill the square at dusk"
SOURCE_NAME = "Agency Wire Service"


def agency_photo() -> bytes:
    """An agency JPEG: IIM by-line and copyright, XMP credit, caption and source, and
    camera EXIF with a maker note and GPS."""
    packet = metadata.xmp(
        metadata.simple("photoshop:Credit", "Pool / Agency")
        + metadata.alt("dc:description", x_default=CAPTION)
        + metadata.simple("photoshop:Source", SOURCE_NAME)
    )
    return metadata.jpeg(
        fields={(2, 80): [b"Jane Doe"], (2, 116): ["© 2026 Agency".encode()]},
        packet=packet,
        exif=metadata.camera_exif(),
    )


def outputs(conversion: Conversion) -> list[EncodedVariant]:
    return [*conversion.variants, *(v for c in conversion.crops for v in c.variants)]


def run(**overrides: object) -> Conversion:
    settings = Settings.load(
        {},
        formats=("webp", "avif"),
        crops=[{"name": "social", "aspect": "1200:630", "formats": ["jpeg"]}],
        focus_detection="off",
        **overrides,
    )
    return convert(agency_photo(), PipelineConfig.from_settings(settings))


RIGHTS = Credit(creator="Jane Doe", credit="Pool / Agency", copyright="© 2026 Agency")


def test_every_output_carries_exactly_the_three_rights_fields() -> None:
    conversion = run()
    assert conversion.credit == Credit(
        **{**RIGHTS.to_dict(), "caption": CAPTION, "source": SOURCE_NAME}
    )
    found = outputs(conversion)
    assert {v.format for v in found} == {"webp", "avif", "jpeg"}
    for variant in found:
        with Image.open(io.BytesIO(variant.data)) as im:
            im.load()
            assert read_credit(im) == RIGHTS, variant.format
            assert not {"exif", "icc_profile", "comment"} & set(im.info)
        for leak in (b"Leica", b"maker note", b"Exif", CAPTION.encode(), SOURCE_NAME.encode()):
            assert leak not in variant.data, (variant.format, leak)


def test_without_keep_rights_metadata_no_output_has_xmp() -> None:
    for variant in outputs(run(keep_rights_metadata=False)):
        assert b"xmpmeta" not in variant.data
        assert b"Jane Doe" not in variant.data
        with Image.open(io.BytesIO(variant.data)) as im:
            assert "xmp" not in im.info


def test_an_animation_carries_the_rights_too() -> None:
    packet = metadata.xmp(metadata.seq("dc:creator", "Jane Doe"))
    source = images.animation("WEBP", size=(40, 30), xmp=packet)
    conversion = convert(source, PipelineConfig.from_settings(Settings.load({})))
    assert conversion.credit == Credit(creator="Jane Doe")
    for variant in conversion.variants:
        with Image.open(io.BytesIO(variant.data)) as im:
            assert getattr(im, "n_frames", 1) > 1
            assert read_credit(im) == Credit(creator="Jane Doe")


def test_hostile_credit_text_stays_well_formed_xml_in_outputs() -> None:
    """Markup in a credit is text in the output's packet, not structure."""
    evil = '</rdf:li><x:evil a="1">&amp;'
    source = metadata.jpeg(fields={(2, 80): [evil.encode()]})
    conversion = convert(source, PipelineConfig.from_settings(Settings.load({})))
    for variant in conversion.variants:
        with Image.open(io.BytesIO(variant.data)) as im:
            assert read_credit(im) == Credit(creator=evil)
