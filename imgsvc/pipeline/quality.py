"""Quality targeting: SSIMULACRA2, and the lowest encoder quality that reaches a score.

**The metric** is libjxl's ``tools/ssimulacra2.cc`` (version 2.1) re-expressed in
numpy and OpenCV: linear sRGB, XYB made positive, six scales (2x2 box in linear
light), an SSIM map and two edge maps per channel, L1 and L4 norms, the 108
published weights and the final polynomial. The one liberty is the blur: libjxl's
recursive Gaussian (sigma 1.5, Charalampidis 2016) is exactly a 9-tap FIR with zero
padding, so its taps are applied with ``cv2.sepFilter2D``; the reference image's half
of every scale is computed once per width and reused by every trial encode.
Agreement with the C++ tool and its cost are in ``docs/quality.md``.

numpy and OpenCV (core dependencies, which focus detection needs too) are loaded
for the metric only when a target is set: ``encode.py`` imports ``targeting`` (the
search, which scores with this module) only then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image

# -- the metric ------------------------------------------------------------------------

#: libjxl's RecursiveGaussian(1.5) applied to an impulse: 9 taps, the rest exactly 0.
_HALF = (0.009414367809653755, 0.03601111465836439, 0.10933537277746024, 0.21292859201042208)
_TAPS = np.array([*_HALF, 0.26462110548819834, *reversed(_HALF)], dtype=np.float32)
_SCALES = 6
_C2 = np.float32(0.0009)
_BIAS = 0.0037930732552754493
_M20, _M21 = 0.24342268924547819, 0.20476744424496821
#: Opsin absorbance (libjxl ``opsin_params.h``) with its bias as a 3x4 affine map.
_OPSIN = np.array(
    [
        [0.30, 0.622, 0.078, _BIAS],
        [0.23, 0.692, 0.078, _BIAS],
        [_M20, _M21, 1.0 - _M20 - _M21, _BIAS],
    ],
    dtype=np.float32,
)
# X = 0.5 (l - m) * 14 + 0.42, Y = 0.5 (l + m) + 0.01, B = s - Y' + 0.55 (MakePositiveXYB),
# with l, m, s the cube roots less cbrt(bias): affine in the cube roots.
_CB = float(np.cbrt(_BIAS))
_POSITIVE = np.array(
    [
        [7.0, -7.0, 0.0, 0.42],
        [0.5, 0.5, 0.0, 0.01 - _CB],
        [-0.5, -0.5, 1.0, 0.55],
    ],
    dtype=np.float32,
)
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


def _linear(image: Image.Image) -> np.ndarray:
    """8-bit sRGB as linear float32 (H, W, 3); alpha over mid grey, as the tool does."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        grey = Image.new("RGBA", image.size, (128, 128, 128, 255))
        image = Image.alpha_composite(grey, image.convert("RGBA"))
    pixels = np.asarray(image.convert("RGB"))
    return np.asarray(cv2.LUT(pixels, _LINEAR.reshape(1, 256)))


def _xyb(linear: np.ndarray) -> np.ndarray:
    mixed = cv2.transform(linear, _OPSIN)  # non-negative: sRGB in gamut, positive matrix
    return np.asarray(cv2.transform(np.cbrt(mixed), _POSITIVE))


def _blur(plane: np.ndarray) -> np.ndarray:
    return np.asarray(cv2.sepFilter2D(plane, -1, _TAPS, _TAPS, borderType=cv2.BORDER_CONSTANT))


def _half(linear: np.ndarray) -> np.ndarray:
    """2x2 box in linear light, the last row/column repeated on odd sides."""
    h, w = linear.shape[:2]
    if h % 2 or w % 2:
        linear = np.pad(linear, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return np.asarray(cv2.resize(linear, (-(-w // 2), -(-h // 2)), interpolation=cv2.INTER_AREA))


def _norms(d: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """L1 and L4 norms of each channel: shape (2, 3). OpenCV sums in double precision.
    ``scratch`` (the shape of ``d``) is overwritten."""
    pixels = d.shape[0] * d.shape[1]
    squared = np.multiply(d, d, out=scratch)
    sums = (
        np.array(
            [cv2.sumElems(d)[:3], cv2.sumElems(np.multiply(squared, squared, out=squared))[:3]]
        )
        / pixels
    )
    sums[1] **= 0.25
    return sums


@dataclass(frozen=True, slots=True)
class _Scale:
    xyb: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray  # blur(x*x) - mu*mu
    detail: np.ndarray  # 1 + |x - mu|, the edge maps' denominator


class Reference:
    """One image's half of SSIMULACRA2 at every scale, made once for many distortions."""

    def __init__(self, image: Image.Image) -> None:
        self.size = image.size
        self._scales: list[_Scale] = []
        linear = _linear(image)
        for _ in range(_SCALES):
            if linear.shape[0] < 8 or linear.shape[1] < 8:
                break
            xyb = _xyb(linear)
            mu = _blur(xyb)
            detail = 1.0 + np.abs(xyb - mu)
            self._scales.append(_Scale(xyb, mu, _blur(xyb * xyb) - mu * mu, detail))
            linear = _half(linear)

    def score(self, distorted: Image.Image) -> float:
        """SSIMULACRA2 of ``distorted`` (same size) against this reference: 100 is
        identical, 90 visually lossless, 70 high quality, 50 medium."""
        if distorted.size != self.size:
            raise ValueError(f"sizes differ: {distorted.size} against {self.size}")
        features = []
        linear = _linear(distorted)
        for i, ref in enumerate(self._scales):
            if i:
                linear = _half(linear)
            features.append(_features(ref, _xyb(linear)))
        return _final(features)


def _features(ref: _Scale, xyb: np.ndarray) -> np.ndarray:
    """(ssim, ringing, blur) x (L1, L4) x channel for one scale: shape (3, 2, 3).

    The arithmetic of libjxl's formulas in their order, in place: the same float32
    results as the plain expressions, without a new image-sized array per operation
    (those allocations were most of the time at 1280 px and beyond)."""
    mu = _blur(xyb)
    tmp = np.multiply(xyb, xyb)
    sigma = _blur(tmp)
    sigma -= np.multiply(mu, mu, out=tmp)
    cross = _blur(np.multiply(ref.xyb, xyb, out=tmp))
    cross -= np.multiply(ref.mu, mu, out=tmp)
    dm = np.subtract(ref.mu, mu, out=tmp)
    np.multiply(dm, dm, out=dm)
    np.subtract(1.0, dm, out=dm)  # 1 - dm^2
    cross *= 2.0
    cross += _C2
    dm *= cross  # (1 - dm^2) (2 cross + c2)
    np.add(ref.sigma, sigma, out=sigma)
    sigma += _C2
    dm /= sigma
    ssim = np.subtract(1.0, dm, out=dm)
    edge = np.subtract(xyb, mu, out=mu)
    np.abs(edge, out=edge)
    edge += 1.0
    edge /= ref.detail
    edge -= 1.0
    scratch = cross
    out = [_norms(np.maximum(ssim, 0.0, out=ssim), scratch)]
    negative = np.negative(edge, out=sigma)
    out.append(_norms(np.maximum(edge, 0.0, out=edge), scratch))
    out.append(_norms(np.maximum(negative, 0.0, out=negative), scratch))
    return np.stack(out)


def _final(features: list[np.ndarray]) -> float:
    # (scale, map, norm, channel) -> channel, scale, norm, map: the order of the weights
    ordered = np.stack(features).transpose(3, 0, 2, 1).ravel()
    raw = float(np.abs(ordered) @ _WEIGHTS[: ordered.size]) * 0.9562382616834844
    raw = 2.326765642916932 * raw - 0.020884521182843837 * raw**2 + 6.248496625763138e-05 * raw**3
    return 100.0 - 10.0 * raw**0.6276336467831387 if raw > 0 else 100.0


def ssimulacra2(reference: Image.Image, distorted: Image.Image) -> float:
    """SSIMULACRA2 of ``distorted`` against ``reference`` (8-bit, same size)."""
    return Reference(reference).score(distorted)


def versions() -> dict[str, Any]:
    return {"numpy": np.__version__, "opencv": cv2.__version__}
