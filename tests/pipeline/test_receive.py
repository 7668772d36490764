"""probe: the format comes from the bytes, and every limit holds before a pixel is decoded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PIL import AvifImagePlugin, Image, ImageFile, WebPImagePlugin

from imgsvc.errors import ImageRefused, InvalidImage, UnsupportedFormat, UploadTooLarge
from imgsvc.pipeline.receive import Limits, open_image, sniff

from ..support import images

LIMITS = Limits(max_bytes=10_000_000, max_pixels=10_000_000, max_frames=100)


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if any pixel is decoded: probing must read headers only.

    Decoding is recorded as well as refused, as a caller may swallow the error.
    """
    decoded: list[str] = []

    def refuse(self: Image.Image) -> None:
        decoded.append(str(self.format))
        raise AssertionError(f"{self.format} pixels were decoded while probing")

    for cls in (ImageFile.ImageFile, WebPImagePlugin.WebPImageFile, AvifImagePlugin.AvifImageFile):
        monkeypatch.setattr(cls, "load", refuse)
    yield
    assert decoded == [], f"pixels decoded while probing: {decoded}"


ALLOWED = {
    "jpeg": lambda: images.solid((20, 10), fmt="JPEG"),
    "png": lambda: images.solid((20, 10), fmt="PNG"),
    "gif": lambda: images.solid((20, 10), fmt="GIF"),
    "webp": lambda: images.solid((20, 10), fmt="WEBP"),
    "avif": lambda: images.avif((20, 10)),
}


@pytest.mark.parametrize("kind", sorted(ALLOWED))
def test_allowed_formats_are_recognised_from_their_bytes(kind: str, no_decoding: None) -> None:
    data = ALLOWED[kind]()
    assert sniff(data) == kind
    _, info = open_image(data, LIMITS)
    assert (info.format, info.width, info.height, info.frames) == (kind, 20, 10, 1)
    assert info.content_type == f"image/{kind}"
    assert info.bytes == len(data)


def test_format_ignores_anything_but_the_bytes() -> None:
    # Nothing but the bytes reaches probe; a PNG is a PNG, whatever it was called.
    _, info = open_image(images.solid((8, 8), fmt="PNG"), LIMITS)
    assert (info.format, info.ext, info.content_type) == ("png", "png", "image/png")


REFUSED = {
    "tiff": images.tiff,
    "bmp": images.bmp,
    "psd": images.psd,
    "svg": lambda: images.SVG,
    "svg without xml declaration": lambda: images.SVG_BARE,
    "svg after a comment": lambda: b"<!-- Generator: Adobe Illustrator -->\n" + images.SVG_BARE,
    "ppm": lambda: images.solid((8, 8), fmt="PPM"),
    "heic": images.heic,
    "ico": lambda: images.solid((16, 16), fmt="ICO"),
    "pdf": lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
}


@pytest.mark.parametrize(
    "data",
    [
        b"<!DOCTYPE html><html><body><svg></svg></body></html>",
        b"P1 report: quarterly figures",
        b"P6\n",
    ],
    ids=["html-with-inline-svg", "text-starting-P1", "netpbm-magic-alone"],
)
def test_text_that_merely_resembles_a_refused_format_is_400(data: bytes) -> None:
    with pytest.raises(InvalidImage):
        open_image(data, LIMITS)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_recognised_formats_outside_the_allowlist_are_415(name: str) -> None:
    with pytest.raises(UnsupportedFormat) as caught:
        open_image(REFUSED[name](), LIMITS)
    assert caught.value.status_code == 415


def _truncated_header(fmt: str) -> bytes:
    return images.solid((64, 64), fmt=fmt)[:24]


INVALID = {
    "empty": lambda: b"",
    "random bytes": images.random_bytes,
    "text": lambda: b"hello, this is not an image\n",
    "png signature only": lambda: b"\x89PNG\r\n\x1a\n",
    "jpeg marker only": lambda: b"\xff\xd8\xff",
    "riff webp header only": lambda: b"RIFF\0\0\0\0WEBP",
    "png cut in its header": lambda: _truncated_header("PNG"),
    "jpeg cut in its header": lambda: _truncated_header("JPEG"),
    "gif cut in its header": lambda: _truncated_header("GIF")[:12],
    "webp cut in half": lambda: images.truncated(images.solid((64, 64), fmt="WEBP")),
    "avif cut in half": lambda: images.truncated(images.avif()),
    "mp4-like ftyp": lambda: b"\0\0\0\x18ftypisom\0\0\0\0isomiso2" + b"\0" * 32,
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_garbage_empty_and_truncated_data_is_400(name: str) -> None:
    with pytest.raises(InvalidImage) as caught:
        open_image(INVALID[name](), LIMITS)
    assert caught.value.status_code == 400
    assert "BytesIO" not in caught.value.message  # no Python internals in a client message


def test_bytes_over_the_limit_are_413_and_the_limit_itself_is_fine() -> None:
    data = images.solid((16, 16), fmt="PNG")
    open_image(data, Limits(len(data), LIMITS.max_pixels, LIMITS.max_frames))
    with pytest.raises(UploadTooLarge) as caught:
        open_image(data, Limits(len(data) - 1, LIMITS.max_pixels, LIMITS.max_frames))
    assert caught.value.status_code == 413


def test_pixels_over_the_limit_are_422_before_decoding(no_decoding: None) -> None:
    data = images.solid((200, 100), fmt="JPEG")
    open_image(data, Limits(LIMITS.max_bytes, 20_000, 1))
    with pytest.raises(ImageRefused) as caught:
        open_image(data, Limits(LIMITS.max_bytes, 19_999, 1))
    assert (caught.value.status_code, caught.value.code) == (422, "too_many_pixels")


def test_decompression_bomb_is_refused_before_decoding(no_decoding: None) -> None:
    bomb = images.png_bomb(30000, 30000)
    assert len(bomb) < 2000
    with pytest.raises(ImageRefused) as caught:
        open_image(bomb, LIMITS)
    assert caught.value.status_code == 422


def test_a_bomb_within_pillows_limit_but_over_ours_is_refused(no_decoding: None) -> None:
    bomb = images.png_bomb(5000, 4000)  # 20 Mpx: Pillow would open it without a word
    with pytest.raises(ImageRefused):
        open_image(bomb, LIMITS)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_too_many_frames_are_refused_before_decoding(fmt: str, no_decoding: None) -> None:
    data = images.animation(fmt, size=(20, 10))
    _, info = open_image(data, Limits(LIMITS.max_bytes, LIMITS.max_pixels, 3))
    assert info.frames == 3
    with pytest.raises(ImageRefused) as caught:
        open_image(data, Limits(LIMITS.max_bytes, LIMITS.max_pixels, 2))
    assert caught.value.code == "too_many_frames"


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_frames_times_pixels_over_the_limit_are_refused(fmt: str, no_decoding: None) -> None:
    data = images.animation(fmt, size=(20, 10))  # 3 frames of 200 px: 600 px in all
    open_image(data, Limits(LIMITS.max_bytes, 600, 100))
    with pytest.raises(ImageRefused) as caught:
        open_image(data, Limits(LIMITS.max_bytes, 599, 100))
    assert caught.value.code == "too_many_pixels"


def test_a_multi_picture_jpeg_is_not_an_animation() -> None:
    _, info = open_image(images.mpo(), LIMITS)
    assert (info.format, info.frames, info.animated) == ("jpeg", 1, False)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_width_and_height_are_reported_upright(orientation: int) -> None:
    im, info = open_image(images.oriented_jpeg(orientation, upright=(64, 40)), LIMITS)
    assert info.orientation == orientation
    assert (info.width, info.height) == (64, 40)
    stored = (40, 64) if orientation >= 5 else (64, 40)
    assert im.size == stored


@pytest.mark.parametrize("value", [0, 9, 65535])
def test_an_orientation_out_of_range_counts_as_1(value: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = value
    data = images.encode(Image.new("RGB", (30, 20)), "JPEG", exif=exif.tobytes())
    _, info = open_image(data, LIMITS)
    assert (info.orientation, info.width, info.height) == (1, 30, 20)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_a_malformed_exif_block_does_not_sink_the_photo() -> None:
    garbage = b"Exif\x00\x00II*\x00\xff\xff\xff\x7f" + b"\xaa" * 20
    data = images.encode(Image.new("RGB", (30, 20)), "JPEG", exif=garbage)
    _, info = open_image(data, LIMITS)
    assert (info.orientation, info.width, info.height) == (1, 30, 20)


def test_png_orientation_is_read_from_the_header_without_decoding(no_decoding: None) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    data = images.encode(Image.new("RGB", (30, 20)), "PNG", exif=exif.tobytes())
    _, info = open_image(data, LIMITS)
    assert (info.orientation, info.width, info.height) == (6, 20, 30)


def test_heic_with_a_mif1_major_brand_is_still_heic() -> None:
    ftyp = b"ftypmif1\0\0\0\0mif1heic"
    with pytest.raises(UnsupportedFormat):
        sniff(len(ftyp + b"1234").to_bytes(4, "big") + ftyp + b"\0" * 16)


def test_avif_is_recognised_by_its_compatible_brand() -> None:
    ftyp = b"ftypmif1\0\0\0\0mif1avifmiaf"
    assert sniff((4 + len(ftyp)).to_bytes(4, "big") + ftyp + b"\0" * 16) == "avif"
