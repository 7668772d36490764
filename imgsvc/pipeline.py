"""The conversion pipeline: bytes in, encoded variants out. Pure: no Flask, no boto3.

decode once (JPEG shrinks on load) -> working mode (16-bit scaled, palettes
expanded, alpha premultiplied) -> resize to the largest planned width -> sRGB ->
upright -> each smaller width derived from the next larger one -> encoded in
threads (Pillow releases the GIL in resize and in the encoders).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageSequence

from .colour import to_srgb
from .errors import ImageRefused, ImgsvcError, InvalidImage
from .placeholder import Placeholder, make_placeholder
from .planning import PlannedVariant, plan_variants
from .probe import Limits, SourceInfo, has_default_image, open_image
from .resize import THREADS, downscale, resize_first
from .settings import Settings

#: Bumped whenever a change here alters the output; part of the manifest fingerprint.
PIPELINE_VERSION = 3
WEBP_METHOD = 4

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True, slots=True)
class EncodedVariant:
    size: str
    width: int
    height: int
    format: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Conversion:
    source: SourceInfo
    variants: list[EncodedVariant]
    placeholder: Placeholder


def limits_of(settings: Settings) -> Limits:
    return Limits(settings.max_upload_bytes, settings.max_pixels, settings.max_frames)


#: Times a named stage (``decode``, ``resize``, ``encode``) as a ``with`` block; the
#: service passes its metrics' timer, the pipeline itself knows nothing of metrics.
StageTimer = Callable[[str], AbstractContextManager[None]]


@contextmanager
def _untimed(_stage: str) -> Iterator[None]:
    yield


def convert(data: bytes, settings: Settings, stage: StageTimer = _untimed) -> Conversion:
    """Convert one source into every planned width and configured format.

    Raises the ``probe`` errors for refused input and ``InvalidImage`` when the
    pixels themselves turn out to be truncated or corrupt.
    """
    im, source = open_image(data, limits_of(settings))
    plan = plan_variants(source.width, source.height, settings.sizes)
    try:
        if source.animated:
            variants, smallest = _convert_animation(im, source, plan, settings, stage)
        else:
            variants, smallest = _convert_still(im, source, plan, settings, stage)
        placeholder = make_placeholder(smallest)
    except ImgsvcError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageRefused(str(exc), code="too_many_pixels") from exc
    except MemoryError as exc:
        raise ImageRefused("the image needs more memory than imgsvc allows") from exc
    except Exception as exc:  # Pillow raises many types for hostile data; all mean "corrupt"
        raise InvalidImage(f"the {source.format.upper()} data cannot be decoded: {exc}") from exc
    finally:
        im.close()
    return Conversion(source, variants, placeholder)


def _convert_still(
    im: Image.Image,
    source: SourceInfo,
    plan: Sequence[PlannedVariant],
    settings: Settings,
    stage: StageTimer,
) -> tuple[list[EncodedVariant], Image.Image]:
    raw_target = _raw_target(plan[-1], source.orientation)
    with stage("decode"):
        if source.format == "jpeg":
            im.draft(im.mode, _draft_request(raw_target))
        icc = im.info.get("icc_profile")
        im.load()
        work = _working_mode(_plain_cmyk(im) if source.format == "jpeg" else im)
    with stage("resize"):
        top = resize_first(work, raw_target)
        top = _upright(to_srgb(_finish(top), icc), source.orientation)
    with stage("encode"):
        return _encode_cascade([top], plan, settings, animated=None)


def _draft_request(target: tuple[int, int]) -> tuple[int, int]:
    """The size to ask the JPEG decoder for: never exactly ``target``.

    Pillow's draft picks the largest DCT scale (1/2, 1/4, 1/8) that still covers the
    requested size. Landing exactly on the target leaves libjpeg's scaled IDCT as the
    only filter, which blurs and rings where LANCZOS would not (a 3840 px photo at
    1920 scored 70.3 SSIMULACRA2 instead of 76.2, as sharp avoids with the same
    rule). One pixel more makes the decoder stop one scale earlier.
    """
    return target[0] + 1, target[1] + 1


def _convert_animation(
    im: Image.Image,
    source: SourceInfo,
    plan: Sequence[PlannedVariant],
    settings: Settings,
    stage: StageTimer,
) -> tuple[list[EncodedVariant], Image.Image]:
    """Frames are decoded and resized one by one (``decode`` covers both)."""
    raw_target = _raw_target(plan[-1], source.orientation)
    frames: list[Image.Image] = []
    durations: list[int] = []
    icc = im.info.get("icc_profile")
    first = 1 if has_default_image(im) else 0  # APNG viewers never show that image
    with stage("decode"):
        for frame in itertools.islice(ImageSequence.Iterator(im), first, None):
            _check_canvas(frame.size, source, settings)
            rgba = frame.convert("RGBA")  # loads the frame: WebP sets its duration only then
            durations.append(int(frame.info.get("duration", 100)) or 100)
            top = resize_first(_working_mode(rgba), raw_target)
            frames.append(_upright(to_srgb(_finish(top), icc), source.orientation))
    timing = {"duration": durations, "loop": _loop(im.info.get("loop"), source.format)}
    with stage("encode"):
        return _encode_cascade(frames, plan, settings, animated=timing)


def _encode_cascade(
    top: list[Image.Image],
    plan: Sequence[PlannedVariant],
    settings: Settings,
    animated: dict[str, object] | None,
) -> tuple[list[EncodedVariant], Image.Image]:
    """Derive each smaller width from the next larger one; encode each as soon as it exists.

    Returns the variants and the smallest image (the first frame of an animation).
    """
    formats = ("webp",) if animated else settings.formats
    jobs: list[tuple[PlannedVariant, str, Future[bytes]]] = []
    with ThreadPoolExecutor(max_workers=min(THREADS, len(plan) * len(formats))) as pool:
        current = top
        for step in reversed(plan):
            if current[0].size != (step.width, step.height):
                current = [downscale(f, (step.width, step.height)) for f in current]
            for fmt in formats:
                encoder = _encoder(fmt, settings.quality_for(fmt), animated)
                jobs.append((step, fmt, pool.submit(encoder, current)))
        results = [
            EncodedVariant(step.size, step.width, step.height, fmt, future.result())
            for step, fmt, future in jobs
        ]
    order = {name: i for i, name in enumerate(settings.formats)}
    return sorted(results, key=lambda v: (order[v.format], v.width)), current[0]


def _check_canvas(size: tuple[int, int], source: SourceInfo, settings: Settings) -> None:
    """Refuse a frame that grew the canvas past the pixel limit, before it is decoded.

    A GIF frame may reach beyond the screen size in the header; Pillow grows the
    canvas when it seeks to that frame, so the probe's header check cannot see it.
    """
    width, height = size
    if width * height * source.frames > settings.max_pixels:
        raise ImageRefused(
            f"a frame of {width}x{height} reaches past the {source.width}x{source.height} "
            f"canvas; {source.frames} such frames exceed the limit of {settings.max_pixels} pixels",
            code="too_many_pixels",
        )


def _loop(loop: int | None, fmt: str) -> int:
    """The WebP loop count (plays; 0 = forever) for the source's own loop setting.

    APNG and WebP count plays as WebP does. A GIF counts repeats after the first
    play, and without a NETSCAPE block it plays once (gif2webp converts the same way).
    """
    if fmt != "gif":
        return int(loop or 0)
    if loop is None:
        return 1
    return loop + 1 if 0 < loop < 65535 else loop


def _raw_target(largest: PlannedVariant, orientation: int) -> tuple[int, int]:
    """The largest planned size as stored, before the EXIF orientation turns it upright."""
    if orientation in (5, 6, 7, 8):
        return largest.height, largest.width
    return largest.width, largest.height


def _plain_cmyk(im: Image.Image) -> Image.Image:
    """Undo Pillow's inversion of a CMYK JPEG that has no Adobe marker.

    Pillow inverts every CMYK JPEG, as Photoshop stores them inverted behind an
    APP14 "Adobe" marker. Without that marker the samples are plain CMYK, and
    Pillow's inversion would turn white into black.
    """
    if im.mode == "CMYK" and "adobe" not in im.info:
        return ImageChops.invert(im)
    return im


def _working_mode(im: Image.Image) -> Image.Image:
    """A mode Pillow resizes correctly: 8 bits per channel, alpha premultiplied.

    16-bit greys are scaled to 8 bits (Pillow's own conversion clips them), palettes
    are expanded, and alpha is premultiplied so that edges do not darken.
    """
    mode = im.mode
    if mode.startswith("I;16"):
        return im.convert("I").point(lambda v: v / 257).convert("L")
    if mode in ("I", "F", "1"):
        return im.convert("L")
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info
        return im.convert("RGBA" if has_alpha else "RGB").convert("RGBa" if has_alpha else "RGB")
    if mode in ("LA", "La"):
        return im.convert("RGBA").convert("RGBa")
    if mode == "RGBA":
        return im.convert("RGBa")
    if mode in ("RGBX", "YCbCr"):
        return im.convert("RGB")
    return im  # L, RGB, RGBa, CMYK: resized as they are


def _finish(im: Image.Image) -> Image.Image:
    """Back from premultiplied alpha; anything else stays as it is."""
    return im.convert("RGBA") if im.mode == "RGBa" else im


def _upright(im: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSE.get(orientation)
    return im.transpose(method) if method is not None else im


def _encoder(
    fmt: str, quality: int, animated: dict[str, object] | None
) -> Callable[[list[Image.Image]], bytes]:
    def encode(frames: list[Image.Image]) -> bytes:
        buf = io.BytesIO()
        first = frames[0]
        first.info = {}  # nothing of the source's metadata may reach an output
        params: dict[str, object] = {"quality": quality}
        if fmt == "webp":
            params["method"] = WEBP_METHOD
        if animated:
            params.update(save_all=True, append_images=frames[1:], **animated)
        first.save(buf, fmt.upper(), **params)
        return buf.getvalue()

    return encode
