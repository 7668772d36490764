"""SSIMULACRA2, the metric quality targeting reaches for (``targeting.py``).

**The metric** is libjxl's ``tools/ssimulacra2.cc`` (version 2.1): linear sRGB, XYB
made positive, six scales (2x2 box in linear light), an SSIM map and two edge maps per
channel, L1 and L4 norms, the 108 published weights and the final polynomial. The one
liberty is the blur: libjxl's recursive Gaussian (sigma 1.5, Charalampidis 2016) is
exactly a 9-tap FIR with zero padding, and is applied as one.

**Why strips:** each scale is worked in bands of ``ROWS`` rows (plus the blur's reach
of ``HALO`` rows each side), so every intermediate array stays in the caches; all the
arithmetic but the cube roots (numpy's, vectorised) is compiled loops
(``quality_kernels.py``), and planes whose weights make them worthless are not
computed (``NEGLIGIBLE``). The whole-image numpy and OpenCV version before spent most
of its time allocating image-sized arrays beyond the caches and passing over them
once per operation: a one-off score at 1920 px took 350-800 ms of CPU where this
takes about 65 ms (27 ms at 1280), within 0.006 of its scores where both have six
levels (under 256 px a side that version stopped a level early: ``_pyramid``).
Agreement with the C++ tool and the costs: ``docs/quality.md``.

numpy and numba are loaded only when a target is set: ``encode.py`` imports
``targeting`` (the search, which scores with this module) only then.
"""

from __future__ import annotations

import io
from functools import cache
from typing import Any

import imagecodecs
import numba
import numpy as np
from PIL import Image

from . import quality_kernels as kernels

_SCALES = 6
#: Rows per strip (64 was the fastest of 16-256 at 480-1920 px); each strip carries
#: the blur's reach (``kernels.HALO``) beyond them.
ROWS = 64
HALO = kernels.HALO
#: libjxl's tool refuses images under 8 px a side: the metric is undefined there.
MIN_SIDE = 8
_V = np.arange(256, dtype=np.float64) / 255.0
_LINEAR = np.where(_V <= 0.04045, _V / 12.92, ((_V + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _weights() -> np.ndarray:
    """libjxl's 108 weights, ordered channel, scale, norm, (ssim, ringing, blur)."""
    nonzero = {
        1: 0.0007376606707406586, 4: 0.0007793481682867309, 7: 0.0004371155730107379,
        9: 1.1041726426657346, 10: 0.00066284834129271, 11: 0.00015231632783718752,
        13: 0.0016406437456599754, 15: 1.8422455520539298, 16: 11.441172603757666,
        18: 0.0007989109436015163, 19: 0.000176816438078653, 21: 1.8787594979546387,
        22: 10.94906990605142, 24: 0.0007289346991508072, 25: 0.9677937080626833,
        27: 0.00014003424285435884, 28: 0.9981766977854967, 29: 0.00031949755934435053,
        30: 0.0004550992113792063, 33: 0.0013648766163243398, 39: 7.466890328078848,
        41: 17.445833984131262, 42: 0.0006235601634041466, 45: 6.683678146179332,
        46: 0.00037724407979611296, 47: 1.027889937768264, 48: 225.20515300849274,
        51: 19.213238186143016, 52: 0.0011401524586618361, 53: 0.001237755635509985,
        54: 176.39317598450694, 57: 24.43300999870476, 58: 0.28520802612117757,
        59: 0.0004485436923833408, 63: 34.77906344483772, 64: 44.835625328877896,
        73: 0.0008680556573291698, 79: 0.0005313191874358747, 81: 0.00016533814161379112,
        87: 0.0004179171803251336, 88: 0.0017290828234722833, 90: 0.0020827005846636437,
        93: 8.826982764996862, 94: 23.19243343998926, 96: 95.1080498811086,
        97: 0.9863978034400682, 98: 0.9834382792465353, 99: 0.0012286405048278493,
        100: 171.2667255897307, 101: 0.9807858872435379, 105: 0.0005130064588990679,
        107: 0.00010854057858411537,
    }  # fmt: skip
    weights = np.zeros(108)
    weights[list(nonzero)] = list(nonzero.values())
    return weights


_WEIGHTS = _weights()
#: A plane (channel and level) all of whose features weigh below this is not
#: computed. Together they are worth at most 0.0004 points (measured over 198 corpus
#: encodes, WebP quality 20-98 at 480, 1280 and 1920 px), a hundredth of this port's
#: own distance to the C++ tool; they include the X and B planes at full resolution,
#: so the largest level, three quarters of the work, computes one plane of three.
NEGLIGIBLE = 0.003


@cache
def _needed(levels: int) -> tuple[tuple[bool, ...], ...]:
    """Per channel and level, whether the plane is computed: every plane of an image
    with fewer than six levels (cheap, and libjxl's flat indexing then gives a
    channel's features other levels' weights, on which skipping moved a 226x19
    image's score by 0.011); else those with a weight of at least ``NEGLIGIBLE``."""
    w = _WEIGHTS[: 3 * levels * 6].reshape(3, levels, 6)  # channel, level, (norm, map)
    floor = NEGLIGIBLE if levels == _SCALES else 0.0
    return tuple(tuple(bool(w[c, s].max() >= floor) for s in range(levels)) for c in range(3))


def decoded(data: bytes) -> np.ndarray:
    """The 8-bit sRGB pixels ``(H, W, 3)`` of an encode, as ``Reference.score`` takes
    them (alpha over mid grey).

    A WebP is decoded by libwebp straight into an array (imagecodecs' binding): 10 ms
    at 1920x1080 where Pillow's decoder and the copy out of the PIL image take 30-35
    (Pillow decodes every WebP through its animation decoder, into RGBA, then unpacks
    it), identical pixels (``tests/pipeline/test_quality.py``). Pillow decodes the
    rest. Raises what the decoders raise on data that is not an image."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        pixels = imagecodecs.webp_decode(data)
        if pixels.ndim == 3 and pixels.shape[2] == 3:
            return pixels
    with Image.open(io.BytesIO(data)) as image:
        return _pixels(image)


def _pixels(image: Image.Image) -> np.ndarray:
    """8-bit sRGB ``(H, W, 3)``; alpha over mid grey, as the tool does."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        grey = Image.new("RGBA", image.size, (128, 128, 128, 255))
        image = Image.alpha_composite(grey, image.convert("RGBA"))
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


def _pyramid(pixels: np.ndarray) -> list[np.ndarray]:
    """The levels the scales are computed on: the 8-bit image, then each 2x2 box of
    the one before in linear light (the last row/column repeated on odd sides), for as
    long as the level halved has both sides of ``MIN_SIDE`` (so the last may have 4),
    at most ``_SCALES`` levels. Raises ValueError for an image with a side under
    ``MIN_SIDE``."""
    if min(pixels.shape[:2]) < MIN_SIDE:
        raise ValueError(f"SSIMULACRA2 needs {MIN_SIDE} px a side, not {pixels.shape[1::-1]}")
    levels = [pixels]
    while len(levels) < _SCALES:
        h, w = levels[-1].shape[:2]
        if min(h, w) < MIN_SIDE:  # libjxl checks the level it halves, not the half
            break
        hh, hw = -(-h // 2), -(-w // 2)
        half = np.empty((hh, hw, 3), np.float32)
        kernels.half(levels[-1], _LINEAR, half)
        levels.append(half)
    return levels


def _xyb(rows: np.ndarray, planes: np.ndarray, top: int, y_only: bool) -> None:
    """The XYB planes of level rows into ``planes[:, top:top + len(rows)]``; with
    ``y_only`` only plane 1 is made."""
    bottom = top + rows.shape[0]
    kernels.mix(rows, _LINEAR, planes, top, y_only)
    roots = planes[: 2 if y_only else 3, top:bottom]
    np.cbrt(roots, out=roots)
    kernels.positive(planes, top, bottom, y_only)


def _features(needs: list[bool], ref: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """(ssim, ringing, blur) x (L1, L4) x channel for one level: shape (3, 2, 3); the
    features ``needs`` (per channel, ``_needed``) leaves out are 0."""
    h, w = ref.shape[:2]
    sums = np.zeros((3, 6))
    # a strip's planes: its rows and HALO more each side, zeros beyond the image
    x_planes, y_planes = (np.empty((3, ROWS + 2 * HALO, w), np.float32) for _ in range(2))
    needed = [c for c, need in enumerate(needs) if need]
    y_only = needed == [1]
    for r0 in range(0, h, ROWS):
        count = min(ROWS, h - r0)
        a, b = max(r0 - HALO, 0), min(r0 + count + HALO, h)
        top, end = a - (r0 - HALO), count + 2 * HALO  # image rows a..b sit at top..
        bottom = top + b - a
        for planes, level in ((x_planes, ref), (y_planes, dist)):
            _xyb(level[a:b], planes, top, y_only)
            planes[:, :top] = 0.0
            planes[:, bottom:end] = 0.0
        for c in needed:
            kernels.plane_sums(x_planes[c, :end], y_planes[c, :end], HALO, HALO + count, sums[c])
    sums /= h * w
    features = sums.reshape(3, 3, 2).transpose(1, 2, 0).copy()  # -> map, norm, channel
    features[:, 1] **= 0.25
    return features


class Reference:
    """One image made ready for SSIMULACRA2 against many distortions of it (its
    levels in linear light, made once)."""

    def __init__(self, image: Image.Image) -> None:
        self.size = image.size
        self._levels = _pyramid(_pixels(image))

    def score(self, distorted: Image.Image | np.ndarray) -> float:
        """SSIMULACRA2 of ``distorted`` (same size; an image, or ``decoded`` pixels)
        against this reference: 100 is identical, 90 visually lossless, 70 high
        quality, 50 medium."""
        pixels = distorted if isinstance(distorted, np.ndarray) else _pixels(distorted)
        if pixels.shape[1::-1] != self.size:
            raise ValueError(f"sizes differ: {pixels.shape[1::-1]} against {self.size}")
        levels = _pyramid(pixels)
        needs = _needed(len(levels))
        pairs = enumerate(zip(self._levels, levels, strict=True))
        return _final([_features([n[i] for n in needs], r, d) for i, (r, d) in pairs])


def _final(features: list[np.ndarray]) -> float:
    # (scale, map, norm, channel) -> channel, scale, norm, map: the order of the weights
    ordered = np.stack(features).transpose(3, 0, 2, 1).ravel()
    raw = float(np.abs(ordered) @ _WEIGHTS[: ordered.size]) * 0.9562382616834844
    raw = 2.326765642916932 * raw - 0.020884521182843837 * raw**2 + 6.248496625763138e-05 * raw**3
    return 100.0 - 10.0 * raw**0.6276336467831387 if raw > 0 else 100.0


def warm() -> None:
    """Loads the compiled loops now (from numba's cache: about 0.3 s; compiling them:
    about 1.5 s), so that the first targeted upload of a process does not wait for
    it. A PIL image's pixels, as in use: numba compiles per argument type."""
    im = Image.new("RGB", (16, 16), (90, 140, 200))
    Reference(im).score(im)


def ssimulacra2(reference: Image.Image, distorted: Image.Image) -> float:
    """SSIMULACRA2 of ``distorted`` against ``reference`` (8-bit, same size)."""
    return Reference(reference).score(distorted)


def versions() -> dict[str, Any]:
    return {"numpy": np.__version__, "numba": numba.__version__}
