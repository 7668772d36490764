"""Which widths to make from a source: the no-upscale rule lives here and only here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .settings import WEBP_MAX_SIDE, Size


@dataclass(frozen=True, slots=True)
class PlannedVariant:
    size: str
    width: int
    height: int


def plan_variants(
    src_width: int, src_height: int, sizes: Sequence[Size], max_side: int = WEBP_MAX_SIDE
) -> list[PlannedVariant]:
    """Plan the outputs for an upright source of ``src_width`` x ``src_height``.

    Sizes no wider than the source are made at their own width. The first size
    wider than the source is made at the source's width, so the srcset always
    reaches the source's full resolution; larger sizes are not made (no upscale).
    No side exceeds ``max_side``: a very tall source caps the usable width, which
    then plays the role of the source width. Heights keep the aspect ratio.
    """
    if src_width < 1 or src_height < 1:
        raise ValueError(f"source size must be positive, got {src_width}x{src_height}")
    usable = min(src_width, max_side)
    if round(usable * src_height / src_width) > max_side:
        usable = max(1, int(max_side * src_width / src_height))
    planned: list[PlannedVariant] = []
    for size in sizes:
        width = min(size.width, usable)
        height = max(1, min(max_side, round(width * src_height / src_width)))
        planned.append(PlannedVariant(size.name, width, height))
        if width == usable:
            break
    return planned
