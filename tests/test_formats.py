"""formats: the one registry of formats; every fact about a format is read from it,
so its answers, and the installed Pillow's ability to honour them, are checked here."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from imgsvc import formats


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("media/a/conversions/x-sm-___webp_480.webp", "image/webp"),
        ("media/a/conversions/x-sm-___avif_480.avif", "image/avif"),
        ("media/a/photo.jpg", "image/jpeg"),
        ("media/a/photo.jpeg", "image/jpeg"),
        ("media/a/PHOTO.JPG", "image/jpeg"),
        ("media/a/logo.png", "image/png"),
        ("media/a/anim.gif", "image/gif"),
        ("media/a/manifest.json", "application/json"),
        ("media/a/scan.tiff", "application/octet-stream"),
        ("media/README", "application/octet-stream"),
        ("media/a.b/noext", "application/octet-stream"),
    ],
)
def test_content_type_of_a_key_comes_from_its_extension(key: str, expected: str) -> None:
    """Stored objects get their Content-Type from here, .webp included on any host."""
    assert formats.content_type_of(key) == expected


def test_by_preference_puts_avif_before_webp_and_unknown_names_last() -> None:
    """A browser takes the first <source> it supports: the smaller files go first."""
    assert formats.by_preference(("webp", "avif")) == ["avif", "webp"]
    assert formats.by_preference(["zzz", "webp", "aaa", "avif"]) == ["avif", "webp", "zzz", "aaa"]
    assert formats.by_preference(["webp", "avif", "webp"]) == ["avif", "webp"]


def test_max_side_is_that_of_the_most_limited_format() -> None:
    assert formats.max_side(("webp",)) == formats.WEBP_MAX_SIDE == 16383
    assert formats.max_side(("avif",)) == 65535
    assert formats.max_side(("avif", "webp")) == 16383
    with pytest.raises(KeyError):
        formats.max_side(("tiff",))


def test_source_and_output_formats() -> None:
    assert formats.SOURCE_FORMATS == ("jpeg", "png", "gif", "webp", "avif")
    assert formats.OUTPUT_FORMATS == ("jpeg", "webp", "avif")
    assert formats.PRIMARY.name in formats.OUTPUT_FORMATS
    assert formats.get("webp") is formats.WEBP
    with pytest.raises(KeyError):
        formats.get("tiff")


@pytest.mark.parametrize("name", formats.OUTPUT_FORMATS)
def test_every_output_format_is_encoded_by_the_installed_pillow(name: str) -> None:
    """A format listed as an output but missing from Pillow's build would fail uploads."""
    record = formats.get(name)
    frames = [Image.new("RGB", (64, 48), c) for c in ((200, 30, 30), (30, 30, 200))]
    params: dict[str, object] = {"quality": 80, **record.encoder}
    if record.animated:
        params.update(save_all=True, append_images=frames[1:], duration=[100, 100], loop=0)
    buf = io.BytesIO()
    frames[0].save(buf, record.pillow, **params)
    im = Image.open(io.BytesIO(buf.getvalue()))
    assert im.format == record.pillow
    assert im.get_format_mimetype() == record.mime
    assert im.size == (64, 48)
    assert getattr(im, "n_frames", 1) == (2 if record.animated else 1)


def test_webp_max_side_is_the_encoders_real_limit() -> None:
    Image.new("RGB", (formats.WEBP_MAX_SIDE, 1)).save(io.BytesIO(), "WEBP")
    with pytest.raises(ValueError, match="16383"):
        Image.new("RGB", (formats.WEBP_MAX_SIDE + 1, 1)).save(io.BytesIO(), "WEBP")


def test_every_source_format_has_a_pillow_decoder() -> None:
    Image.init()
    for name in formats.SOURCE_FORMATS:
        assert formats.get(name).pillow in Image.OPEN, name
