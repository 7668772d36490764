"""Decoding: shrink on load, load, and bring the pixels to a mode Pillow resizes well.

The steps here run first for every frame; the frame iterator walks an animation.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from PIL import Image, ImageChops, ImageSequence

from ..errors import ImageRefused
from .frame import Frame
from .receive import SourceInfo, has_default_image


def draft(frame: Frame) -> Frame:
    """Let libjpeg scale a still JPEG by 1/2, 1/4 or 1/8 while decoding.

    Pillow's draft picks the largest DCT scale that still covers the requested
    size. Landing exactly on the target leaves libjpeg's scaled IDCT as the only
    filter, which blurs and rings where LANCZOS would not (a 3840 px photo at 1920
    scored 70.3 SSIMULACRA2 instead of 76.2, as sharp avoids with the same rule).
    One pixel more makes the decoder stop one scale earlier.
    """
    if not frame.still or frame.source.format != "jpeg":
        return frame
    frame.image.draft(frame.image.mode, draft_request(frame.target))
    return frame


def draft_request(target: tuple[int, int]) -> tuple[int, int]:
    """The size to ask the JPEG decoder for: never exactly ``target``."""
    return target[0] + 1, target[1] + 1


def load(frame: Frame) -> Frame:
    """Decode the pixels: a still in place, an animation frame as RGBA (which also
    makes WebP set the frame's duration, known only once it is loaded)."""
    if frame.still:
        frame.image.load()
        return frame
    return frame.with_image(frame.image.convert("RGBA"))


def plain_cmyk(frame: Frame) -> Frame:
    """Undo Pillow's inversion of a CMYK JPEG that has no Adobe marker.

    Pillow inverts every CMYK JPEG, as Photoshop stores them inverted behind an
    APP14 "Adobe" marker. Without that marker the samples are plain CMYK, and
    Pillow's inversion would turn white into black.
    """
    im = frame.image
    if frame.source.format != "jpeg" or im.mode != "CMYK" or "adobe" in im.info:
        return frame
    return frame.with_image(ImageChops.invert(im))


def working_mode(frame: Frame) -> Frame:
    """A mode Pillow resizes correctly: 8 bits per channel, alpha premultiplied.

    16-bit greys are scaled to 8 bits (Pillow's own conversion clips them), palettes
    are expanded, and alpha is premultiplied so that edges do not darken.
    """
    im = frame.image
    mode = im.mode
    if mode.startswith("I;16"):
        return frame.with_image(im.convert("I").point(lambda v: v / 257).convert("L"))
    if mode in ("I", "F", "1"):
        return frame.with_image(im.convert("L"))
    if mode in ("P", "PA"):
        alpha = mode == "PA" or "transparency" in im.info
        rgb = im.convert("RGBA" if alpha else "RGB")
        return frame.with_image(rgb.convert("RGBa" if alpha else "RGB"))
    if mode in ("LA", "La"):
        return frame.with_image(im.convert("RGBA").convert("RGBa"))
    if mode == "RGBA":
        return frame.with_image(im.convert("RGBa"))
    if mode in ("RGBX", "YCbCr"):
        return frame.with_image(im.convert("RGB"))
    return frame  # L, RGB, RGBa, CMYK: resized as they are


def unpremultiply(frame: Frame) -> Frame:
    """Back from premultiplied alpha once the resize is done."""
    if frame.image.mode != "RGBa":
        return frame
    return frame.with_image(frame.image.convert("RGBA"))


def frames_of(im: Image.Image, source: SourceInfo, max_pixels: int) -> Iterator[Image.Image]:
    """The frames of an animation, each checked against the pixel limit before it is
    decoded; an APNG's default image (a fallback viewers never show) is skipped."""
    first = 1 if has_default_image(im) else 0
    for frame in itertools.islice(ImageSequence.Iterator(im), first, None):
        _check_canvas(frame.size, source, max_pixels)
        yield frame


def _check_canvas(size: tuple[int, int], source: SourceInfo, max_pixels: int) -> None:
    """Refuse a frame that grew the canvas past the pixel limit, before it is decoded.

    A GIF frame may reach beyond the screen size in the header; Pillow grows the
    canvas when it seeks to that frame, so the receiver's header check cannot see it.
    """
    width, height = size
    if width * height * source.frames > max_pixels:
        raise ImageRefused(
            f"a frame of {width}x{height} reaches past the {source.width}x{source.height} "
            f"canvas; {source.frames} such frames exceed the limit of {max_pixels} pixels",
            code="too_many_pixels",
        )


def duration(im: Image.Image) -> int:
    """The current frame's duration in ms (100 when absent or zero, as browsers do)."""
    return int(im.info.get("duration", 100)) or 100


def loop_count(loop: int | None, fmt: str) -> int:
    """The WebP loop count (plays; 0 = forever) for the source's own loop setting.

    APNG and WebP count plays as WebP does. A GIF counts repeats after the first
    play, and without a NETSCAPE block it plays once (gif2webp converts the same way).
    """
    if fmt != "gif":
        return int(loop or 0)
    if loop is None:
        return 1
    return loop + 1 if 0 < loop < 65535 else loop
