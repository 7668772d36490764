"""Framing: the focus of a conversion and the crops cut around it (issue 12).

Three steps of ``convert``, in this order:

- ``working_size``: the size the decode steps resize the source to. Without crops it
  is the main set's largest width, as before crops existed. A crop needs more pixels
  than that when it keeps a larger share of its side than the main set does (a
  square of a 5640 x 3172 photo is 3172 px wide; at 1920 px it needs 0.61 of the
  source where the main set needs 0.34), so the working size is the largest any
  output needs, never above the source's own, and the main set is one LANCZOS step
  below it.
- ``choose_focus``: the editor's focus, else one found by ``focus.detect`` when the
  configuration looks for one, else the centre.
- ``cut_frames``: each crop's largest width straight from the working image (one LANCZOS
  pass over the crop box, ``resize.cut``); its smaller widths follow by the same
  cascade as the main set's.

Where a crop lies is ``crop.py``'s arithmetic, on the upright source's pixels; the
box is scaled to the working image here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PIL import Image

from .config import CropOutput, Output
from .crop import crop_box, largest_size
from .encode import EncodedVariant
from .focus import CENTRE, Focus, detect
from .plan import PlannedVariant, plan_variants
from .resize import cut, downscale

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CroppedSet:
    """One crop's conversions: ``box`` (left, top, right, bottom) in the upright
    source's pixels, and its variants, as the main set's."""

    name: str
    aspect: tuple[int, int]
    box: tuple[int, int, int, int]
    variants: list[EncodedVariant]


@dataclass(frozen=True, slots=True)
class Framing:
    """One crop of one source: its profile, its size in the source's upright pixels,
    and the widths it is made at (the no-upscale rule applied to that size)."""

    crop: CropOutput
    size: tuple[int, int]
    plan: list[PlannedVariant]

    @property
    def scale(self) -> float:
        """The share of the source's pixels its largest width needs."""
        return self.plan[-1].width / self.size[0]


def frame_crops(width: int, height: int, output: Output) -> list[Framing]:
    """Every configured crop of an upright ``width`` x ``height`` source."""
    framings = []
    for crop in output.crops or ():
        size = largest_size(width, height, crop.aspect)
        plan = plan_variants(*size, crop.sizes, crop.output(output).max_side)
        framings.append(Framing(crop, size, plan))
    return framings


def working_size(
    width: int, height: int, largest: PlannedVariant, framings: list[Framing]
) -> tuple[int, int]:
    """The upright size every output can be made from without an upscale."""
    main = largest.width / width
    scale = max([main, *(f.scale for f in framings)])
    if scale <= main:
        return largest.width, largest.height
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def choose_focus(image: Image.Image, editor: Focus | None, looks: bool) -> Focus:
    """The editor's focus, else a detected one (``looks``), else the centre.

    Detection needs numpy and OpenCV (core dependencies); an installation that lacks
    them all the same falls back to the centre and says so in the log, once per
    conversion, rather than failing an upload over a focus.
    """
    if editor is not None:
        return editor
    if not looks:
        return CENTRE
    try:
        return detect(image)
    except ImportError as exc:
        log.warning("focus detection unavailable (%s): the centre is used", exc)
        return CENTRE


def main_frames(frames: list[Image.Image], largest: PlannedVariant) -> list[Image.Image]:
    """The working frames at the main set's largest size."""
    size = (largest.width, largest.height)
    return [f if f.size == size else downscale(f, size) for f in frames]


def cut_frames(
    frames: list[Image.Image], source: tuple[int, int], framing: Framing, focus: Focus
) -> tuple[tuple[int, int, int, int], list[Image.Image]]:
    """The crop box (upright source pixels) and the frames cut at its largest width."""
    box = crop_box(*source, framing.crop.aspect, focus)
    sx = frames[0].width / source[0]
    sy = frames[0].height / source[1]
    scaled = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
    top = framing.plan[-1]
    return box, [cut(f, scaled, (top.width, top.height)) for f in frames]
