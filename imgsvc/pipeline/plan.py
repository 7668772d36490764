"""Which widths to make from a source: the no-upscale rule lives here and only here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..formats import WEBP_MAX_SIDE


@dataclass(frozen=True, slots=True)
class Size:
    """One srcset size: its name appears in object keys, its width in the srcset."""

    name: str
    width: int


DEFAULT_SIZES = (Size("sm", 480), Size("md", 768), Size("lg", 1280), Size("xl", 1920))


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
    then plays the role of the source width. Heights keep the aspect ratio,
    rounded half up.
    """
    if src_width < 1 or src_height < 1:
        raise ValueError(f"source size must be positive, got {src_width}x{src_height}")
    usable = min(src_width, max_side)
    if _height(usable, src_width, src_height) > max_side:
        usable = max(1, max_side * src_width // src_height)
    planned: list[PlannedVariant] = []
    for size in sizes:
        width = min(size.width, usable)
        height = max(1, min(max_side, _height(width, src_width, src_height)))
        planned.append(PlannedVariant(size.name, width, height))
        if width == usable:
            break
    return planned


def _height(width: int, src_width: int, src_height: int) -> int:
    """The height for ``width`` at the source's aspect ratio, rounded half up.

    Integer arithmetic: ``round()`` on a float rounds halves to even (270.5 -> 270
    but 271.5 -> 272), and a float ratio can land a hair off an exact half.
    """
    return (2 * width * src_height + src_width) // (2 * src_width)
