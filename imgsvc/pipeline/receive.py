"""Receive and validate: identify the format from the bytes, enforce the limits.

Everything here reads headers only. Pixels are decoded later, by the pipeline,
and only once the byte, pixel and frame limits have passed. The file name and the
client's Content-Type are never consulted.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass

from PIL import Image

from .. import formats
from ..errors import ImageRefused, ImgsvcError, InvalidImage, UnsupportedFormat, UploadTooLarge
from .frame import SourceInfo
from .orient import as_stored

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1"}


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int
    max_pixels: int
    max_frames: int


def sniff(data: bytes) -> str:
    """Name the format of ``data`` from its magic bytes.

    Returns the name of a source format of the registry (``formats.SOURCE_FORMATS``).
    Raises ``UnsupportedFormat`` for a format we recognise but refuse, ``InvalidImage``
    for bytes that are no image we know.
    """
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        brands = _ftyp_brands(data)
        if brands & {b"avif", b"avis"}:
            return "avif"
        if brands & _HEIF_BRANDS:
            raise UnsupportedFormat(
                "HEIC/HEIF images are not supported; send JPEG, PNG, GIF, WebP or AVIF"
            )
    refused = _recognise_refused(head) or _recognise_svg(data[:4096])
    if refused:
        raise UnsupportedFormat(
            f"{refused} images are not supported; send JPEG, PNG, GIF, WebP or AVIF"
        )
    raise InvalidImage("the data is not an image in a format imgsvc recognises")


def _ftyp_brands(data: bytes) -> set[bytes]:
    size = int.from_bytes(data[0:4], "big")
    box = data[8 : min(max(size, 16), 4096)]
    brands = {box[0:4]}
    brands.update(box[i : i + 4] for i in range(8, len(box) - 3, 4))
    return brands


def _recognise_refused(head: bytes) -> str | None:
    signatures = [
        ((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"), "TIFF"),
        ((b"BM",), "BMP"),
        ((b"8BPS",), "PSD"),
        ((b"\x00\x00\x01\x00", b"\x00\x00\x02\x00"), "ICO"),
        ((b"%PDF",), "PDF"),
        ((b"\xff\x0a", b"\x00\x00\x00\x0cJXL "), "JPEG XL"),
        ((b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51"), "JPEG 2000"),
        ((b"qoif",), "QOI"),
        ((b"DDS ",), "DDS"),
        ((b"#?RADIANCE", b"#?RGBE"), "HDR"),
    ]
    for prefixes, name in signatures:
        if head.startswith(prefixes):
            return name
    if re.match(rb"P[1-7]\s+(?:#[^\n]*\s+)*\d", head):  # magic, then a width (comments allowed)
        return "Netpbm"
    return None


def _recognise_svg(head: bytes) -> str | None:
    """SVG is text: an XML declaration, comments or a doctype may come before ``<svg``."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml", b"<!doctype svg")):
        return "SVG"
    if text.startswith(b"<!--") and b"<svg" in text:  # an editor's comment first
        return "SVG"
    return None


def open_image(data: bytes, limits: Limits) -> tuple[Image.Image, SourceInfo]:
    """Open ``data`` lazily and check every limit before any pixel is decoded.

    Raises ``UploadTooLarge`` (bytes), ``UnsupportedFormat`` / ``InvalidImage``
    (format), ``ImageRefused`` (pixels, frames, decompression bomb).
    """
    if len(data) > limits.max_bytes:
        raise UploadTooLarge(f"the image is {len(data)} bytes; the limit is {limits.max_bytes}")
    if not data:
        raise InvalidImage("the file is empty")
    kind = sniff(data)
    fmt = formats.get(kind)
    try:
        im = Image.open(io.BytesIO(data), formats=[fmt.pillow])
        width, height = im.size
        _check_pixels(width, height, 1, limits)
        frames = getattr(im, "n_frames", 1) if fmt.animated else 1
        if frames > 1 and has_default_image(im):
            frames -= 1
    except Image.DecompressionBombError as exc:
        # Pillow's message quotes its own process-wide limit, not ours.
        raise ImageRefused(
            f"refused as a decompression bomb: the header claims far more than "
            f"{limits.max_pixels} pixels",
            code="too_many_pixels",
        ) from exc
    except Image.UnidentifiedImageError as exc:
        raise InvalidImage(f"the {kind.upper()} data is truncated or corrupt") from exc
    except ImgsvcError:
        raise
    except Exception as exc:
        # Pillow's header parsers raise many types on hostile data: OSError, SyntaxError,
        # ValueError, EOFError, IndexError, and struct.error from a GIF cut inside a frame
        # header (found by tests/pipeline/test_fuzz.py, kept in its fuzz_corpus/). All mean
        # corrupt.
        raise InvalidImage(f"the {kind.upper()} data cannot be read: {exc}") from exc
    _check_pixels(width, height, frames, limits)
    orientation = _orientation(im)
    upright = as_stored((width, height), orientation)  # the same swap, either way round
    digest = hashlib.sha256(data).hexdigest()
    info = SourceInfo(kind, fmt.ext, fmt.mime, *upright, frames, orientation, len(data), digest)
    return im, info


def _check_pixels(width: int, height: int, frames: int, limits: Limits) -> None:
    if width < 1 or height < 1:
        raise InvalidImage(f"the image has no pixels ({width}x{height})")
    if width * height > limits.max_pixels:
        raise ImageRefused(
            f"the image is {width}x{height} = {width * height} pixels; "
            f"the limit is {limits.max_pixels}",
            code="too_many_pixels",
        )
    if frames > limits.max_frames:
        raise ImageRefused(
            f"the animation has {frames} frames; the limit is {limits.max_frames}",
            code="too_many_frames",
        )
    if width * height * frames > limits.max_pixels:
        raise ImageRefused(
            f"the animation has {frames} frames of {width}x{height}, "
            f"{width * height * frames} pixels in all; the limit is {limits.max_pixels}",
            code="too_many_pixels",
        )


def has_default_image(im: Image.Image) -> bool:
    """An APNG whose first image is the fallback for viewers without APNG, not a frame."""
    return im.format == "PNG" and bool(im.info.get("default_image"))


def _orientation(im: Image.Image) -> int:
    if im.format == "PNG" and "exif" not in im.info:
        # Pillow looks for an eXIf chunk after the image data by decoding every pixel;
        # this module reads headers only, so only an eXIf chunk before IDAT counts.
        return 1
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # a malformed EXIF block must not sink an otherwise good photo
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1
