"""Crops: the ``[[crops]]`` profiles, and where a crop of a given aspect lies.

Pure arithmetic on integers and fractions, no imaging library: the pipeline cuts
the upright image at ``crop_box`` and resizes the cut like any source. A crop's
widths follow the main set's no-upscale rule, ``plan.plan_variants`` applied to the
crop (``framing.frame_crops``).

A profile (``Crop``) is validated once, when the settings are built: a name that is
safe in a key and unique, an aspect, optional widths and formats. Its name is a
folder of its own in the key layout (``storage/keys.py``), so no crop key can equal
a key of the main set or of another crop.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import formats
from ..errors import ConfigError
from .focus import Focus
from .plan import Size

#: Bound on each term of an aspect ("1200:630" is typical; nothing needs 5 digits).
MAX_ASPECT_TERM = 10_000
#: Bound on how elongated a crop may be (a 970:90 leaderboard is under 11:1).
MAX_ELONGATION = 20
_ASPECT = re.compile(r"\s*(\d{1,5})\s*:\s*(\d{1,5})\s*")
#: A crop's name is a folder in its keys and a key of the description.
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_PROFILE_KEYS = frozenset({"name", "aspect", "widths", "formats"})


@dataclass(frozen=True, slots=True)
class Crop:
    """One ``[[crops]]`` profile: a name, an aspect, and optionally its own widths
    (else the main sizes') and formats (else the main ones)."""

    name: str
    aspect: tuple[int, int]
    widths: tuple[int, ...] | None = None
    formats: tuple[str, ...] | None = None

    @property
    def aspect_text(self) -> str:
        return f"{self.aspect[0]}:{self.aspect[1]}"

    def sizes(self, main: Sequence[Size]) -> tuple[Size, ...]:
        """The sizes it is planned at: its widths named by their number, else the main sizes."""
        if self.widths is None:
            return tuple(main)
        return tuple(Size(str(w), w) for w in self.widths)


def parse_crops(value: Any) -> tuple[Crop, ...]:
    """The ``crops`` setting from TOML tables (or ``Crop`` records, kept as they are).

    Raises ``ConfigError`` naming the crop and the field for a table that is not one,
    an unknown field, a name that is not 1-32 of ``a-z 0-9 _ -`` (starting with a
    letter or digit) or is repeated, a bad aspect (``parse_aspect``), widths that are
    not positive integers within the largest side WebP takes, or formats the registry
    cannot write.
    """
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ConfigError("crops: expected [[crops]] tables in the TOML file")
    crops = tuple(item if isinstance(item, Crop) else _profile(item) for item in value)
    names = [c.name for c in crops]
    if len(set(names)) != len(names):
        raise ConfigError(f"crops: names must be unique, got {names}")
    return crops


def _profile(item: Any) -> Crop:
    if not isinstance(item, Mapping):
        raise ConfigError(f"crops: each crop is a table with name and aspect, got {item!r}")
    name = item.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"crops: name must be 1-32 of a-z, 0-9, _ and -, got {name!r}")
    unknown = sorted(set(item) - _PROFILE_KEYS)
    if unknown:
        raise ConfigError(f"crops[{name}]: unknown field(s) {', '.join(unknown)}")
    aspect = item.get("aspect")
    if not isinstance(aspect, str):
        raise ConfigError(f'crops[{name}].aspect: expected "W:H", got {aspect!r}')
    return Crop(name, parse_aspect(aspect, name), _widths(name, item), _formats(name, item))


def _widths(name: str, item: Mapping[str, Any]) -> tuple[int, ...] | None:
    widths = item.get("widths")
    if widths is None:
        return None
    ok = isinstance(widths, Sequence) and not isinstance(widths, str) and bool(widths)
    if not ok or not all(type(w) is int and 1 <= w <= formats.WEBP_MAX_SIDE for w in widths):
        raise ConfigError(
            f"crops[{name}].widths: expected integers in 1..{formats.WEBP_MAX_SIDE}, got {widths!r}"
        )
    return tuple(sorted(set(widths)))


def _formats(name: str, item: Mapping[str, Any]) -> tuple[str, ...] | None:
    names = item.get("formats")
    if names is None:
        return None
    if isinstance(names, str) or not isinstance(names, Sequence) or not names:
        raise ConfigError(f'crops[{name}].formats: expected a list such as ["jpeg"], got {names!r}')
    chosen = tuple(dict.fromkeys(str(n).lower() for n in names))
    unknown = [n for n in chosen if n not in formats.OUTPUT_FORMATS]
    if unknown:
        raise ConfigError(
            f"crops[{name}].formats: cannot write {unknown}; "
            f"output formats are {list(formats.OUTPUT_FORMATS)}"
        )
    return chosen


def parse_aspect(text: str, crop: str = "") -> tuple[int, int]:
    """``"W:H"`` as two positive integers, as written (``"32:18"`` is not reduced).

    Raises ``ConfigError`` naming ``crops[<crop>].aspect`` when the text is not
    two integers separated by a colon, a term is 0 or above ``MAX_ASPECT_TERM``,
    or one side is more than ``MAX_ELONGATION`` times the other.
    """
    where = f"crops[{crop}].aspect" if crop else "crop aspect"
    match = _ASPECT.fullmatch(text)
    if match is None:
        raise ConfigError(f'{where} must be "W:H" with positive integers, got {text!r}')
    width, height = int(match[1]), int(match[2])
    if not (0 < width <= MAX_ASPECT_TERM and 0 < height <= MAX_ASPECT_TERM):
        raise ConfigError(f"{where}: each term must be in 1..{MAX_ASPECT_TERM}, got {text!r}")
    if max(width, height) > MAX_ELONGATION * min(width, height):
        raise ConfigError(f"{where}: one side is over {MAX_ELONGATION} times the other: {text!r}")
    return width, height


def largest_size(width: int, height: int, aspect: tuple[int, int]) -> tuple[int, int]:
    """The largest ``aspect`` box inside ``width`` x ``height``, in whole pixels.

    The side that touches the image is exact; the other is rounded half up
    (integer arithmetic), so the box's ratio is within one pixel of the aspect.
    Raises ``ValueError`` for a non-positive size or aspect.
    """
    a, b = aspect
    if min(width, height, a, b) < 1:
        raise ValueError(f"size and aspect must be positive, got {width}x{height} at {a}:{b}")
    if width * b <= height * a:  # the image is narrower than the aspect: full width
        return width, max(1, min(height, (2 * width * b + a) // (2 * a)))
    return max(1, min(width, (2 * height * a + b) // (2 * b))), height


def crop_box(
    width: int, height: int, aspect: tuple[int, int], focus: Focus
) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` of the crop in pixels of the upright image.

    The box is always ``largest_size`` (the biggest of that aspect that fits). On
    each axis it contains the focus box's pixels (``floor`` of its start to
    ``ceil`` of its end, at least one pixel, so a point is the pixel it falls
    in) whenever they fit in the box's length; within that freedom, and
    otherwise outright, it is centred on the focus box's centre, the start
    rounded half up, then clamped to the image. Deterministic; raises
    ``ValueError`` like ``largest_size``.
    """
    crop_w, crop_h = largest_size(width, height, aspect)
    left = _place(width, crop_w, focus.x, focus.w)
    top = _place(height, crop_h, focus.y, focus.h)
    return left, top, left + crop_w, top + crop_h


def _place(length: int, span: int, start: float, size: float) -> int:
    """The start of a ``span`` on an axis of ``length`` for a focus of ``start, size``."""
    first = min(length - 1, math.floor(start * length))
    last = max(first + 1, min(length, math.ceil((start + size) * length)))
    place = math.floor((start + size / 2) * length - span / 2 + 0.5)
    if last - first <= span:
        place = min(max(place, last - span), first)
    return min(max(place, 0), length - span)
