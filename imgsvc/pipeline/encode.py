"""Encoding: each smaller width derived from the next larger one, every width
encoded in every configured format, in threads (Pillow releases the GIL in resize
and in the encoders). The encoders' parameters come from the format registry.

With a quality target (``Output.target``) the widths of one format are handed, in one
job, to ``targeting.py``: it searches the narrow widths on their own image, predicts
the quality of the wide ones from them and measures what the prediction reached
(``docs/quality.md`` has why and the figures).
Animations keep the fixed quality: a score per frame, and a search over whole
animations, would multiply the cost of the costliest conversions.

Every output carries the rights XMP it is given (``rights.xmp_packet``); a format
without alpha (JPEG) gets transparency flattened onto white.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from PIL import Image

from .. import formats
from .config import Output
from .plan import PlannedVariant
from .resize import THREADS, downscale
from .rights import save_params


@dataclass(frozen=True, slots=True)
class EncodedVariant:
    size: str
    width: int
    height: int
    format: str
    data: bytes
    #: The encoder setting used: the fixed one, or the one the target search chose.
    quality: int
    #: The SSIMULACRA2 score reached, against the image encoded; with a target only
    #: (every still variant then has one; animations keep the fixed quality).
    score: float | None = None


@dataclass(frozen=True, slots=True)
class Animation:
    """What an animated output needs besides its frames."""

    durations: list[int]
    loop: int


def output_formats(output: Output, animation: Animation | None) -> tuple[str, ...]:
    """The configured formats, or for an animation those that can animate."""
    names = tuple(output.formats)
    if animation is None:
        return names
    return tuple(n for n in names if formats.get(n).animated)


def still_formats(output: Output, animation: Animation | None) -> tuple[str, ...]:
    """For an animation, the configured formats that cannot animate but are made as a
    still of its first frame: those every animated format outranks (a JPEG social card
    or fallback), so that a ``<picture>`` never prefers a still to the animation (an
    AVIF, which ranks first, is left out instead)."""
    moving = output_formats(output, animation)
    if animation is None or not moving:
        return ()
    last = max(formats.get(n).rank for n in moving)
    return tuple(n for n in output.formats if n not in moving and formats.get(n).rank > last)


def cascade(
    top: list[Image.Image],
    plan: Sequence[PlannedVariant],
    output: Output,
    animation: Animation | None,
    xmp: bytes | None = None,
) -> tuple[list[EncodedVariant], Image.Image]:
    """Derive each smaller width from the next larger one; encode each as soon as it
    exists. Returns the variants (in configured format order, narrowest first) and
    the smallest image (the first frame of an animation), for the placeholder.
    ``xmp``: the rights packet every output carries (``rights.xmp_packet``), or None.
    """
    names = output_formats(output, animation)
    targeted = output.target is not None and animation is None
    jobs: list[Future[list[EncodedVariant]]] = []
    widths: list[tuple[PlannedVariant, list[Image.Image]]] = []
    with ThreadPoolExecutor(max_workers=min(THREADS, len(plan) * len(names))) as pool:
        current = top
        for step in reversed(plan):
            if current[0].size != (step.width, step.height):
                current = [downscale(f, (step.width, step.height)) for f in current]
            if targeted:
                widths.append((step, current))
            else:
                for name in names:
                    jobs.append(pool.submit(_fixed, step, current, name, output, animation, xmp))
        if targeted:
            widths.reverse()
            jobs = [pool.submit(_targeted, widths, name, output, xmp) for name in names]
        results = [variant for job in jobs for variant in job.result()]
    order = {name: i for i, name in enumerate(output.formats)}
    return sorted(results, key=lambda v: (order[v.format], v.width)), current[0]


def _fixed(
    step: PlannedVariant,
    frames: list[Image.Image],
    fmt: str,
    output: Output,
    animation: Animation | None,
    xmp: bytes | None,
) -> list[EncodedVariant]:
    q = output.quality(fmt)
    data = encode(frames, fmt, q, animation, xmp)
    return [EncodedVariant(step.size, step.width, step.height, fmt, data, q)]


def _targeted(
    widths: list[tuple[PlannedVariant, list[Image.Image]]],
    fmt: str,
    output: Output,
    xmp: bytes | None = None,
) -> list[EncodedVariant]:
    """Every width of one still in ``fmt`` at the quality ``targeting.choose_widths``
    finds for the target, with the score it reached (the narrow widths searched, the
    wide ones predicted and measured); how it does so is that module's business."""
    from . import targeting  # here only: the metric's numpy and numba load with a target

    assert output.target is not None
    # scored against what the format can hold: a JPEG against its flattened image (the
    # metric would put transparency over grey, and every JPEG would miss the target)
    alpha = formats.get(fmt).alpha
    images = [frames[0] if alpha else _flattened(frames[0]) for _, frames in widths]

    def trial(index: int, q: int, searched: bool) -> bytes:  # a still: one frame
        return encode([images[index]], fmt, q, None, xmp, searched)

    choices = targeting.choose_widths(
        images, trial, targeting.Target(*output.target), output.quality(fmt)
    )
    return [
        EncodedVariant(step.size, step.width, step.height, fmt, c.data, c.quality, c.score)
        for (step, _), c in zip(widths, choices, strict=True)
    ]


def encode(
    frames: list[Image.Image],
    fmt: str,
    quality: int,
    animation: Animation | None,
    xmp: bytes | None = None,
    searched: bool = False,
) -> bytes:
    """One output file; nothing of the source's metadata may reach it but ``xmp``, the
    rights packet (creator, credit, copyright) built by ``rights.xmp_packet``.
    ``searched``: a width quality targeting searches, encoded with the format's
    ``search_encoder`` parameters (``formats.py``).

    The cascade hands the same frames to every format's job at once, and Pillow's
    ``save`` keeps its parameters on the image object while it encodes
    (``encoderinfo``, merged with whatever a save running in another thread left
    there): a WebP saved beside an AVIF came out at AVIF's quality (issue 11). So
    the image saved is a copy of this job's own, with no metadata; the frames after
    it are only read (Pillow's ``save_all`` seeks and converts them into new images).
    """
    record = formats.get(fmt)
    buf = io.BytesIO()
    first = frames[0].copy() if record.alpha else _flattened(frames[0])
    first.info = {}
    params: dict[str, Any] = {"quality": quality, **record.encoder, **save_params(fmt, xmp)}
    if searched:
        params.update(record.search_encoder)
    if animation is not None:
        params.update(
            save_all=True,
            append_images=frames[1:],
            duration=animation.durations,
            loop=animation.loop,
        )
    first.save(buf, record.pillow, **params)
    data = buf.getvalue()
    if animation is not None and fmt == formats.WEBP.name:
        data = declare_alpha(data, frames)
    return data


def _flattened(im: Image.Image) -> Image.Image:
    """``im`` for a format without alpha: transparency composited onto white (what a
    page behind a social card or a mail most often is), else the image as RGB or L."""
    if "A" in im.mode or im.mode == "P":
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB") if im.mode not in ("RGB", "L") else im.copy()


#: The alpha bit of the flags of a WebP file's VP8X chunk (the WebP container spec).
_VP8X_ALPHA = 0x10


def declare_alpha(data: bytes, frames: Sequence[Image.Image]) -> bytes:
    """An animated WebP that shows transparency, flagged as having alpha.

    libwebp's animation encoder keeps of each frame only the rectangle that changed
    and its muxer sets the file's alpha flag only when one of those rectangles has
    an alpha channel; the canvas around them is transparent all the same. Hard-edged
    frames (an APNG or GIF at its own width, where nothing is resampled) can leave
    every rectangle opaque, and decoders that honour the flag, libwebp's own
    included, then show black where the source is transparent. Returns ``data``
    unchanged when the flag is set already or no frame has a transparent pixel.
    """
    if data[12:16] != b"VP8X" or data[20] & _VP8X_ALPHA:
        return data
    if not any(_has_transparency(f) for f in frames):
        return data
    return data[:20] + bytes([data[20] | _VP8X_ALPHA]) + data[21:]


def _has_transparency(im: Image.Image) -> bool:
    if "A" not in im.mode:
        return False
    low = im.getchannel("A").getextrema()[0]  # one band: a number
    return isinstance(low, int | float) and low < 255
