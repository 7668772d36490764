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
    """One output file; nothing of the source's metadata may reach it."""
    record = formats.get(fmt)
    buf = io.BytesIO()
    first = frames[0]
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
    return buf.getvalue()
