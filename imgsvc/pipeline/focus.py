"""The focus of an image: the editor's, or one found by looking (faces, attention, centre).

A ``Focus`` is a box in fractions of the *upright* image (a point is a box of no
size); crops are placed around it (``crop.py``). The editor's value comes from the
API as text (``parse_focus``); without one, ``detect`` looks, in this order:

**faces**: scikit-image's bundled LBP frontal-face cascade (an OpenCV-format model,
``skimage.data.lbp_frontal_face_cascade_filename()``) on a grey copy whose long side
is at most ``FACE_SIDE``. The OpenCV 5 wheels ship neither Haar cascades nor a
YuNet model (``cv2.data`` is empty and ``CascadeClassifier`` is gone), so OpenCV
alone cannot find faces. The box is the union of the faces, grown by headroom.

**attention**: a re-expression of libvips' ``attention`` smartcrop
(``libvips/conversion/smartcrop.c``): on a small copy in CIELAB, pixels count as
interesting for edges (|Laplacian of L|), skin tones (a, b in a skin range, L > 15)
or saturation (chroma > 60); the sum is shrunk to a 32-cell grid and blurred. libvips
centres a crop of a given size on the maximum; imgsvc needs a box before any crop
is known, so the box is the region around the maximum that scores in the top quarter of
the map's range (``ATTENTION_KEEP``).

**centre**: nothing interesting at all (a flat or smooth picture).

numpy, OpenCV and scikit-image (core dependencies) are imported inside ``detect``
only: a service that never detects never loads them. Should scikit-image be missing
all the same, the faces step is skipped; without numpy/OpenCV ``detect`` raises
``ImportError``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from PIL import Image

from ..errors import BadRequest

if TYPE_CHECKING:
    import numpy as np

Source = Literal["editor", "faces", "attention", "centre"]
SOURCES: tuple[Source, ...] = ("editor", "faces", "attention", "centre")

#: Long side of the grey copy the face cascade runs on (cost grows with its square).
FACE_SIDE = 384
#: Smallest face looked for, in pixels of that copy; smaller faces rarely decide a crop.
FACE_MIN = 24
#: Faces smaller than this share of the largest face found are not kept.
FACE_SHARE = 0.75
#: Long side of the copy the attention masks are computed on.
ATTENTION_SIDE = 256
#: The box is the region around the peak scoring above this share of the score's range.
ATTENTION_KEEP = 0.75
#: Below this mean interest (0..1 per pixel) the picture is flat: the centre wins.
ATTENTION_FLOOR = 0.002
_MAX_TEXT = 100
_EPS = 1e-9
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)")
_NAMES = ("x", "y", "w", "h")


@dataclass(frozen=True, slots=True)
class Focus:
    """A box ``(x, y, w, h)`` in fractions of the upright image and where it came from.

    Raises ``ValueError`` when the box leaves the image or a value is not finite:
    a ``Focus`` that exists is always usable. Sums may exceed 1 by float error
    (1e-9); nothing larger.
    """

    x: float
    y: float
    w: float = 0.0
    h: float = 0.0
    source: Source = "editor"

    def __post_init__(self) -> None:
        values = (self.x, self.y, self.w, self.h)
        if not all(math.isfinite(v) and v >= 0 for v in values):
            raise ValueError(f"focus values must be finite and >= 0, got {values}")
        if self.x + self.w > 1 + _EPS or self.y + self.h > 1 + _EPS:
            raise ValueError(f"focus box leaves the image: {values}")
        if self.source not in SOURCES:
            raise ValueError(f"unknown focus source {self.source!r}")

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def to_dict(self) -> dict[str, Any]:
        """The description's ``focus`` object."""
        return {"x": self.x, "y": self.y, "w": self.w, "h": self.h, "source": self.source}


CENTRE = Focus(0.5, 0.5, 0.0, 0.0, "centre")


def editor_focus(stored: Any) -> Focus | None:
    """The editor's focus recorded in a manifest (``Focus.to_dict``), else None: a
    detected one is found again by each conversion, an editor's is kept. A malformed
    record counts as none (re-converting mends it)."""
    if not isinstance(stored, dict) or stored.get("source") != "editor":
        return None
    try:
        x, y, w, h = (float(stored[k]) for k in _NAMES)
        return Focus(x, y, w, h, "editor")
    except (KeyError, TypeError, ValueError):
        return None


def parse_focus(text: str) -> Focus:
    """The editor's focus from ``"x,y"`` (a point) or ``"x,y,w,h"`` (a box).

    Each value is a plain decimal fraction (``0.25``, ``.5``, ``1``): no sign, no
    exponent, no NaN or infinity, by construction of the grammar. Raises
    ``BadRequest`` with code ``invalid_focus`` saying what was wrong: too long,
    the wrong number of values, a value that is not a decimal fraction, a value
    above 1, or a box that leaves the image.
    """
    if len(text) > _MAX_TEXT:
        raise _invalid(f"focus is longer than {_MAX_TEXT} characters")
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (2, 4):
        raise _invalid(f"focus takes 2 values (x,y) or 4 (x,y,w,h), got {len(parts)}")
    values: list[float] = []
    for name, part in zip(_NAMES, parts, strict=False):
        if not _NUMBER.fullmatch(part):
            raise _invalid(f"focus {name} must be a decimal fraction in [0, 1], got {part!r}")
        value = float(part)
        if value > 1:
            raise _invalid(f"focus {name} must be in [0, 1], got {part}")
        values.append(value)
    x, y, w, h = (*values, 0.0, 0.0)[:4]
    if x + w > 1 + _EPS:
        raise _invalid(f"focus box leaves the image: x + w = {x + w:g} > 1")
    if y + h > 1 + _EPS:
        raise _invalid(f"focus box leaves the image: y + h = {y + h:g} > 1")
    return Focus(x, y, w, h, "editor")


def _invalid(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_focus")


def detect(im: Image.Image) -> Focus:
    """Find a focus in an upright image: faces, else attention, else the centre.

    Deterministic for a given image and library versions. Cost on one core, for a
    1920-px upright image: about 0.2 s (at most 0.4 s), almost all of it the face
    cascade; the attention map takes about 0.01 s. The LBP cascade is weaker than
    OpenCV's Haar or YuNet models: a face-like patch can join the box (1 in 48
    resamplings of the astronaut). Raises ``ImportError`` when numpy or OpenCV is
    missing; an empty image gives the centre.
    """
    if im.width < 1 or im.height < 1:
        return CENTRE
    rgb = im.convert("RGB")
    return _faces(rgb) or _attention(rgb) or CENTRE


def _shrunk(im: Image.Image, side: int) -> Image.Image:
    scale = side / max(im.size)
    if scale >= 1:
        return im
    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    return im.resize(size, Image.Resampling.BOX)


@cache
def _face_cascade() -> Any:
    """scikit-image's cascade, loaded once per process; ``None`` without scikit-image."""
    try:
        from skimage.data import lbp_frontal_face_cascade_filename
        from skimage.feature import Cascade
    except ImportError:
        return None
    return Cascade(lbp_frontal_face_cascade_filename())


def _faces(rgb: Image.Image) -> Focus | None:
    import numpy as np

    cascade = _face_cascade()
    small = _shrunk(rgb, FACE_SIDE)
    if cascade is None or min(small.size) < FACE_MIN:
        return None
    grey = np.asarray(small.convert("L"), dtype=np.float32) / 255
    found = cascade.detect_multi_scale(
        img=grey,
        scale_factor=1.2,
        step_ratio=1,
        min_size=(FACE_MIN, FACE_MIN),
        max_size=small.size,
        min_neighbor_number=4,
    )
    # Stray small detections (a patch, a pattern) are the cascade's usual false
    # positives (astronaut: a 30-px one beside her 70-px face, depending on the
    # resampling that made the copy); a face under FACE_SHARE of the largest is dropped.
    largest = max((d["width"] for d in found), default=0)
    faces = [d for d in found if d["width"] >= FACE_SHARE * largest]
    if not faces:
        return None
    boxes = [_headroom(d["c"], d["r"], d["width"], d["height"]) for d in faces]
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    right, bottom = max(b[2] for b in boxes), max(b[3] for b in boxes)
    return _fraction_box(left, top, right, bottom, small.size, "faces")


def _headroom(x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
    """The cascade's box covers brows to mouth: add hair above, chin below, ears aside."""
    return x - 0.15 * w, y - 0.4 * h, x + 1.15 * w, y + 1.2 * h


def _attention(rgb: Image.Image) -> Focus | None:
    import cv2
    import numpy as np

    small = _shrunk(rgb, ATTENTION_SIDE)
    interest = _interest(np.asarray(small))
    if float(interest.mean()) < ATTENTION_FLOOR:
        return None
    grid_w = max(1, round(32 * small.width / max(small.size)))
    grid_h = max(1, round(32 * small.height / max(small.size)))
    score = cv2.resize(interest, (grid_w, grid_h), interpolation=cv2.INTER_AREA)
    score = cv2.GaussianBlur(score, (0, 0), sigmaX=1.5, borderType=cv2.BORDER_REPLICATE)
    peak = np.unravel_index(int(np.argmax(score)), score.shape)
    low = float(score.min())
    region = (score >= low + ATTENTION_KEEP * (float(score[peak]) - low)).astype(np.uint8)
    _, labels = cv2.connectedComponents(region, connectivity=8)
    ys, xs = np.nonzero(labels == labels[peak])
    left, top, right, bottom = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    return _fraction_box(left, top, right, bottom, (grid_w, grid_h), "attention")


def _interest(rgb: np.ndarray) -> np.ndarray:
    """Per pixel 0..1: the mean of libvips' three masks (edges, skin, saturation)."""
    import cv2
    import numpy as np

    lab = cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    lightness, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    edges = np.abs(cv2.Laplacian(lightness, cv2.CV_32F, ksize=1)) > 5
    skin = (a >= 3) & (a <= 22) & (b >= 4) & (b <= 31) & (lightness >= 15)
    saturated = np.hypot(a, b) > 60
    total = edges.astype(np.float32) + skin + saturated
    result: np.ndarray = total / 3
    return result


def _fraction_box(
    left: float, top: float, right: float, bottom: float, size: tuple[int, int], source: Source
) -> Focus:
    """A ``Focus`` from a box in pixels of an image of ``size``, clamped to it.

    Rounded to 4 decimals outward (left/top down, right/bottom up), so a stored
    description reads well and still covers what was found.
    """
    width, height = size
    x = math.floor(max(0.0, left / width) * 1e4) / 1e4
    y = math.floor(max(0.0, top / height) * 1e4) / 1e4
    x2 = min(1.0, math.ceil(right / width * 1e4) / 1e4)
    y2 = min(1.0, math.ceil(bottom / height * 1e4) / 1e4)
    return Focus(x, y, round(x2 - x, 4), round(y2 - y, 4), source)
