"""Which set a template helper renders, read from a description: the main set or one
crop, in which format, which of its variants, and where the focus lies.

Pure data in, data out (no markup, no I/O): the helpers in ``templating.py`` turn
the answers into tags. A description is stored data that anyone with bucket access
can edit, so every number read here is checked before it reaches a style attribute.

A crop the description lacks (a set stored before that ``[[crops]]`` profile was
configured; ``imgsvc reconvert`` adds it) is not an error when the profile is
configured: ``choose`` answers the main set shaped like the crop (its aspect, to be
covered at the focus), so the page keeps its layout, and logs a warning that names
the image. A name neither configured nor present is a mistake in the template:
``ValueError``. docs/templates.md explains the choice.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import formats
from ..pipeline.crop import largest_size

log = logging.getLogger(__name__)

PRIMARY_FORMAT = formats.PRIMARY.name
Box = tuple[int, int, int, int]
#: ``picture(art=...)``: (media, crop) or (media, crop, sizes), first match wins.
Art = Iterable[tuple[str, str] | tuple[str, str, str]]


@dataclass(frozen=True, slots=True)
class Chosen:
    """The set to render and how.

    ``data`` is the description itself or its ``crops[name]`` entry (both carry
    ``srcset``, ``src``, ``width``, ``height`` and ``variants``); ``fmt`` the format
    of its srcset; ``box`` the crop's box in pixels of the upright source; ``shape``
    the aspect of a configured crop the main set stands in for (then the image must
    be covered to that aspect, at the focus).
    """

    data: Mapping[str, Any]
    fmt: str = PRIMARY_FORMAT
    box: Box | None = None
    shape: tuple[int, int] | None = None
    #: The main set rendered in place of a crop the description lacks.
    stand_in: bool = False
    #: The crop's name when ``data`` is a crop (None: the main set, or a stand-in).
    name: str | None = None


def choose(
    image: Mapping[str, Any],
    crop: str | None,
    configured: Mapping[str, tuple[int, int]] | None,
) -> Chosen:
    """The main set (``crop`` None) or the crop named ``crop``.

    ``configured`` maps crop names to aspects (None: the configuration is unknown,
    as for the module-level helpers). Raises ``TypeError`` for a crop name that is
    not a string and ``ValueError`` for one neither configured nor in ``image``.
    """
    if crop is None:
        return Chosen(image)
    if not isinstance(crop, str) or not crop:
        raise TypeError(f"crop must be the name of a [[crops]] profile, got {crop!r}")
    crops = image.get("crops")
    entry = crops.get(crop) if isinstance(crops, Mapping) else None
    if isinstance(entry, Mapping):
        return Chosen(entry, srcset_format(entry), _box(entry.get("box")), name=crop)
    if configured is not None and crop not in configured:
        known = ", ".join(sorted(configured)) or "none"
        raise ValueError(f"no [[crops]] profile is named {crop!r} (configured: {known})")
    log.warning(
        "image %s has no crop %r (stored before the profile existed): rendering the main "
        "set in its place; `imgsvc reconvert` adds the crop",
        image.get("id"),
        crop,
    )
    return Chosen(image, shape=configured.get(crop) if configured else None, stand_in=True)


def srcset_format(entry: Mapping[str, Any]) -> str:
    """The format of a crop's srcset: as the description says, else WebP when it has
    it, else its first variant's (a JPEG-only social card)."""
    stated = entry.get("format")
    if isinstance(stated, str) and stated:
        return stated
    have = [str(v.get("format", PRIMARY_FORMAT)) for v in entry.get("variants") or ()]
    return PRIMARY_FORMAT if PRIMARY_FORMAT in have or not have else have[0]


def variants(data: Mapping[str, Any], fmt: str) -> list[dict[str, Any]]:
    """The variants of one format, narrowest first; old manifests had WebP only."""
    found = [{**v, "format": v.get("format", PRIMARY_FORMAT)} for v in data.get("variants") or ()]
    return sorted((v for v in found if v["format"] == fmt), key=lambda v: int(v["width"]))


def largest(data: Mapping[str, Any], fmt: str) -> dict[str, Any] | None:
    found = variants(data, fmt)
    return found[-1] if found else None


def dimensions(data: Mapping[str, Any], widest: Mapping[str, Any] | None) -> tuple[int, int]:
    """Width and height of ``src`` (the largest conversion), else of the set itself."""
    box = widest if widest is not None else data
    try:
        return int(box["width"]), int(box["height"])
    except (KeyError, TypeError, ValueError) as exc:
        raise TypeError("the image description has no usable width and height") from exc


def shaped(width: int, height: int, shape: tuple[int, int] | None) -> tuple[int, int]:
    """``width`` x ``height`` cut to ``shape`` as the pipeline would cut it (or as is)."""
    return (width, height) if shape is None else largest_size(width, height, shape)


def formats_in(data: Mapping[str, Any], wanted: Iterable[str] | None = None) -> list[str]:
    """The formats ``data`` has (only ``wanted`` ones, when given), best first for a
    ``<picture>``: a browser takes the first ``<source>`` whose type it supports."""
    have = {v.get("format", PRIMARY_FORMAT) for v in data.get("variants") or ()}
    keep = have if wanted is None else [fmt for fmt in wanted if fmt in have]
    return formats.by_preference(list(keep))


def share_variant(chosen: Chosen) -> dict[str, Any] | None:
    """The variant a social card links: the widest JPEG when the set has one (not
    every network and mail client takes WebP), else the widest of its srcset format."""
    return largest(chosen.data, formats.JPEG.name) or largest(chosen.data, chosen.fmt)


def mime_of(fmt: str) -> str:
    known = formats.FORMATS.get(fmt)
    return known.mime if known is not None else f"image/{fmt}"


def focus_position(image: Mapping[str, Any], box: Box | None = None) -> tuple[float, float]:
    """The focus box's centre in percent of the image (of ``box`` when given, clamped
    to it): the ``object-position`` that keeps the subject in a CSS-cropped frame.
    50%, 50% when the description has no (valid) focus, as sets stored before focus."""
    centre = _focus_centre(image.get("focus"))
    if centre is None:
        return 50.0, 50.0
    fx, fy = centre
    size = _source_size(image)
    if box is None or size is None:
        return fx * 100, fy * 100
    left, top, right, bottom = box
    x = (fx * size[0] - left) / (right - left)
    y = (fy * size[1] - top) / (bottom - top)
    return min(1.0, max(0.0, x)) * 100, min(1.0, max(0.0, y)) * 100


def box_position(image: Mapping[str, Any], box: Box | None) -> tuple[float, float]:
    """The ``background-position`` that shows ``box`` of the whole-image preview when
    the background covers a frame of the box's aspect: for each axis, the offset of
    the box over the slack (50% where the box spans the whole axis)."""
    size = _source_size(image)
    if box is None or size is None:
        return 50.0, 50.0
    left, top, right, bottom = box
    slack_x, slack_y = size[0] - (right - left), size[1] - (bottom - top)
    x = left / slack_x * 100 if slack_x > 0 else 50.0
    y = top / slack_y * 100 if slack_y > 0 else 50.0
    return min(100.0, max(0.0, x)), min(100.0, max(0.0, y))


def art_entries(art: Art | None) -> list[tuple[str, str, str | None]]:
    """``art`` checked: a list of (media, crop[, sizes]) with a non-empty media."""
    if art is None:
        return []
    if isinstance(art, str | bytes | Mapping) or not isinstance(art, Iterable):
        raise TypeError(f"art must be a list of (media, crop) pairs, got {art!r}")
    entries: list[tuple[str, str, str | None]] = []
    for entry in art:
        if not isinstance(entry, tuple | list) or len(entry) not in (2, 3):
            raise TypeError(f"each art entry is (media, crop) or (media, crop, sizes): {entry!r}")
        media, crop = entry[0], entry[1]
        if not isinstance(media, str) or not media.strip():
            raise ValueError(f"an art entry needs a media condition, got {media!r}")
        entries.append((media, crop, entry[2] if len(entry) == 3 else None))
    return entries


def _focus_centre(focus: Any) -> tuple[float, float] | None:
    if not isinstance(focus, Mapping):
        return None
    values = [focus.get("x"), focus.get("y"), focus.get("w", 0), focus.get("h", 0)]
    if not all(_fraction(v) for v in values):
        return None
    x, y, w, h = (float(v) for v in values)
    return min(1.0, x + w / 2), min(1.0, y + h / 2)


def _fraction(value: Any) -> bool:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return ok and math.isfinite(value) and 0 <= value <= 1


def _source_size(image: Mapping[str, Any]) -> tuple[int, int] | None:
    w, h = image.get("width"), image.get("height")
    if isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0:
        return w, h
    return None


def _box(value: Any) -> Box | None:
    """A crop box as four ints with positive area, else None (ignored)."""
    if not isinstance(value, list | tuple) or len(value) != 4:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return None
    left, top, right, bottom = value
    return (left, top, right, bottom) if right > left >= 0 and bottom > top >= 0 else None
