"""Encoding: each smaller width derived from the next larger one, every width
encoded in every configured format, in threads (Pillow releases the GIL in resize
and in the encoders). The encoders' parameters come from the format registry.
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


@dataclass(frozen=True, slots=True)
class EncodedVariant:
    size: str
    width: int
    height: int
    format: str
    data: bytes


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


def cascade(
    top: list[Image.Image],
    plan: Sequence[PlannedVariant],
    output: Output,
    animation: Animation | None,
) -> tuple[list[EncodedVariant], Image.Image]:
    """Derive each smaller width from the next larger one; encode each as soon as it
    exists. Returns the variants (in configured format order, narrowest first) and
    the smallest image (the first frame of an animation), for the placeholder.
    """
    names = output_formats(output, animation)
    jobs: list[tuple[PlannedVariant, str, Future[bytes]]] = []
    with ThreadPoolExecutor(max_workers=min(THREADS, len(plan) * len(names))) as pool:
        current = top
        for step in reversed(plan):
            if current[0].size != (step.width, step.height):
                current = [downscale(f, (step.width, step.height)) for f in current]
            for name in names:
                future = pool.submit(encode, current, name, output.quality(name), animation)
                jobs.append((step, name, future))
        results = [
            EncodedVariant(step.size, step.width, step.height, name, future.result())
            for step, name, future in jobs
        ]
    order = {name: i for i, name in enumerate(output.formats)}
    return sorted(results, key=lambda v: (order[v.format], v.width)), current[0]


def encode(frames: list[Image.Image], fmt: str, quality: int, animation: Animation | None) -> bytes:
    """One output file; nothing of the source's metadata may reach it.

    The cascade hands the same frames to every format's job at once, and Pillow's
    ``save`` keeps its parameters on the image object while it encodes
    (``encoderinfo``, merged with whatever a save running in another thread left
    there): a WebP saved beside an AVIF came out at AVIF's quality (issue 11). So
    the image saved is a copy of this job's own, with no metadata; the frames after
    it are only read (Pillow's ``save_all`` seeks and converts them into new images).
    """
    record = formats.get(fmt)
    buf = io.BytesIO()
    first = frames[0].copy()
    first.info = {}
    params: dict[str, Any] = {"quality": quality, **record.encoder}
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
