"""SSIMULACRA2's per-pixel arithmetic, compiled by numba (``quality.py`` drives it).

Why compiled: in numpy each of the ~45 element-wise operations of a scale is a pass
over memory of its own, and those passes were two thirds of the metric's time; one
loop per row does them all while the data is in the first-level cache. The blurs stay
in OpenCV (``cv2.sepFilter2D`` is as fast as a numba FIR here, measured), and so do
the cube roots (numpy's vectorised ``cbrt``; numba calls libm's once per value).

``error_model="numpy"``: division by zero yields inf instead of raising, which is what
lets LLVM vectorise the loops (5x faster, measured); the denominators here are never 0
(variances plus ``C2``, or 1 plus an absolute value). ``fastmath`` reassociates the
sums; the scores agree with the plain float32 expressions to within 0.01 over the
corpus (``docs/quality.md``). ``cache=True`` keeps the compiled code beside this file,
or in numba's user cache when the package is read-only: about 1.5 s to compile once,
0.3 s to load in a new process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
from numba.extending import overload

_F = TypeVar("_F", bound=Callable[..., Any])


def _exact(function: _F) -> _F:
    """Compiled in IEEE order: the arithmetic of one pixel. Identical images must
    cancel exactly (100, not 99.8: the final polynomial's slope is infinite at 0)."""
    return cast(_F, numba.njit(function, cache=True, nogil=True, error_model="numpy"))


def _loop(function: _F) -> _F:
    """Compiled with ``reassoc``, which lets LLVM vectorise the loops' sums; the pixel
    arithmetic they call (``_exact``) keeps its own order when inlined."""
    jitted = numba.njit(function, cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
    return cast(_F, jitted)


_BIAS = 0.0037930732552754493
_M20, _M21 = 0.24342268924547819, 0.20476744424496821
#: Opsin absorbance (libjxl ``opsin_params.h``) with its bias as a 3x4 affine map.
OPSIN = np.array(
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
POSITIVE = np.array(
    [
        [7.0, -7.0, 0.0, 0.42],
        [0.5, 0.5, 0.0, 0.01 - _CB],
        [-0.5, -0.5, 1.0, 0.55],
    ],
    dtype=np.float32,
)


@_loop
def positive(roots: np.ndarray, out: np.ndarray) -> None:
    """Cube roots of the opsin mix ``(n, w, 3)``, interleaved as OpenCV makes them ->
    positive XYB planes ``out (3, n, w)``."""
    n, w, _ = roots.shape
    for i in range(n):
        for j in range(w):
            cl, cm, cs = roots[i, j, 0], roots[i, j, 1], roots[i, j, 2]
            out[0, i, j] = POSITIVE[0, 0] * cl + POSITIVE[0, 1] * cm + POSITIVE[0, 3]
            out[1, i, j] = POSITIVE[1, 0] * cl + POSITIVE[1, 1] * cm + POSITIVE[1, 3]
            out[2, i, j] = POSITIVE[2, 0] * cl + POSITIVE[2, 1] * cm + cs + POSITIVE[2, 3]


@_loop
def positive_y(roots: np.ndarray, out: np.ndarray) -> None:
    """``positive`` for the Y plane alone (``out[1]``), where X and B weigh nothing."""
    n, w, _ = roots.shape
    for i in range(n):
        for j in range(w):
            cl, cm = roots[i, j, 0], roots[i, j, 1]
            out[1, i, j] = POSITIVE[1, 0] * cl + POSITIVE[1, 1] * cm + POSITIVE[1, 3]


def _linear_at(level: np.ndarray, lut: np.ndarray, i: int, j: int, c: int) -> np.float32:
    """A level's value in linear light: 8-bit sRGB through ``lut``, else as it is
    (compiled per dtype by the overload below)."""
    raise NotImplementedError  # only ever called compiled


@overload(_linear_at)  # type: ignore[untyped-decorator]
def _linear_at_compiled(level: Any, lut: Any, i: Any, j: Any, c: Any) -> Callable[..., Any]:
    # numba wants the implementation's parameters to match these, annotations included
    def through_lut(level: Any, lut: Any, i: Any, j: Any, c: Any) -> Any:
        return lut[level[i, j, c]]

    def as_it_is(level: Any, lut: Any, i: Any, j: Any, c: Any) -> Any:
        return level[i, j, c]

    return through_lut if isinstance(level.dtype, numba.types.Integer) else as_it_is


@_loop
def half(level: np.ndarray, lut: np.ndarray, out: np.ndarray) -> None:
    """The next level: each 2x2 box of ``level`` in linear light (8-bit sRGB through
    ``lut``), the last row/column repeated on odd sides, into ``out``. One pass
    instead of OpenCV's table look-up and resize (two, and a padded copy)."""
    h, w, _ = level.shape
    quarter = np.float32(0.25)
    for i in range(out.shape[0]):
        i0, i1 = 2 * i, min(2 * i + 1, h - 1)
        for j in range(out.shape[1]):
            j0, j1 = 2 * j, min(2 * j + 1, w - 1)
            for c in range(3):
                box = _linear_at(level, lut, i0, j0, c) + _linear_at(level, lut, i0, j1, c)
                box += _linear_at(level, lut, i1, j0, c) + _linear_at(level, lut, i1, j1, c)
                out[i, j, c] = quarter * box


@_loop
def products(x: np.ndarray, y: np.ndarray, xx: np.ndarray, yy: np.ndarray, xy: np.ndarray) -> None:
    """The squares and the product of two planes, to be blurred: libjxl blurs x*x, y*y
    and x*y apart (a blur of x*x + y*y cancels worse: +0.02 on every score, measured)."""
    n, w = x.shape
    for i in range(n):
        for j in range(w):
            a, b = x[i, j], y[i, j]
            xx[i, j] = a * a
            yy[i, j] = b * b
            xy[i, j] = a * b


@_exact
def _ssim(
    m1: np.float32, m2: np.float32, s11: np.float32, s22: np.float32, s12: np.float32
) -> np.float32:
    """libjxl's ssim map value of one pixel, in its order of operations."""
    one, two, zero, c2 = np.float32(1.0), np.float32(2.0), np.float32(0.0), np.float32(0.0009)
    dm = m1 - m2
    num = (one - dm * dm) * (two * (s12 - m1 * m2) + c2)
    den = (s11 - m1 * m1) + (s22 - m2 * m2) + c2
    d = one - num / den
    return d if d > zero else zero


@_exact
def _edge(
    x: np.float32, y: np.float32, m1: np.float32, m2: np.float32
) -> tuple[np.float32, np.float32]:
    """The artefact (ringing) and detail-lost (blur) values of one pixel."""
    one, zero = np.float32(1.0), np.float32(0.0)
    e = (one + abs(y - m2)) / (one + abs(x - m1)) - one
    p = e if e > zero else zero
    return p, p - e  # max(e, 0), max(-e, 0)


@_loop
def ssim_sums(
    mu1: np.ndarray,
    mu2: np.ndarray,
    s11: np.ndarray,
    s22: np.ndarray,
    s12: np.ndarray,
    sums: np.ndarray,
) -> None:
    """Adds the sums of libjxl's ssim map of one plane and of its 4th power to
    ``sums[0:2]``; ``mu``/``s`` are the blurs of the two planes and of their products
    (``products``), all of the same rows. Each row is summed in float32 (vectorised)
    and added to the float64 totals."""
    zero = np.float32(0.0)
    n, w = mu1.shape
    for i in range(n):
        t0 = t1 = zero
        for j in range(w):
            d = _ssim(mu1[i, j], mu2[i, j], s11[i, j], s22[i, j], s12[i, j])
            d2 = d * d
            t0 += d
            t1 += d2 * d2
        sums[0] += t0
        sums[1] += t1


@_loop
def edge_sums(
    x: np.ndarray, y: np.ndarray, mu1: np.ndarray, mu2: np.ndarray, sums: np.ndarray
) -> None:
    """Adds the sums of the artefact and detail-lost maps of one plane and of their
    4th powers to ``sums[2:6]``; ``x``/``y`` are the reference's and the distorted
    plane, ``mu`` their blurs."""
    zero = np.float32(0.0)
    n, w = x.shape
    for i in range(n):
        t2 = t3 = t4 = t5 = zero
        for j in range(w):
            p, q = _edge(x[i, j], y[i, j], mu1[i, j], mu2[i, j])
            p2, q2 = p * p, q * q
            t2 += p
            t3 += p2 * p2
            t4 += q
            t5 += q2 * q2
        sums[2] += t2
        sums[3] += t3
        sums[4] += t4
        sums[5] += t5
