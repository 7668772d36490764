"""SSIMULACRA2's arithmetic, compiled by numba (``quality.py`` drives it).

Why compiled: in numpy each of the ~45 element-wise operations of a scale is a pass
over memory of its own, and those passes were two thirds of the metric's time; a loop
per row does them all while the data is in the first-level cache. The blur is fused
into the loop that uses it (``plane_sums``): its row buffers never leave the cache.
The cube roots stay numpy's (vectorised ``cbrt``; numba would call libm's once per
value).

``error_model="numpy"``: division by zero yields inf instead of raising, which is what
lets LLVM vectorise the loops (5x faster, measured); the denominators here are never 0
(variances plus ``C2``, or 1 plus an absolute value). The loops' sums are vectorised
with ``reassoc``; a pixel's own arithmetic keeps IEEE order (``_exact``). Scores agree
with the whole-image float32 expressions to within 0.006 over the corpus
(``docs/quality.md``). The compiled code is cached beside this file, or in numba's
user cache when the package is read-only (``_jit``): about 1.5 s to compile once, 0.3 s
to load in a new process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
from numba.extending import overload

_F = TypeVar("_F", bound=Callable[..., Any])


def _jit(function: _F, **options: Any) -> _F:
    """``numba.njit`` with its on-disk cache where numba finds a writable place for it
    (beside this file, else the user's cache directory); without one, numba refuses
    ``cache=True`` outright (RuntimeError at import: a read-only package and no home
    directory, as in a locked-down container), so the loops are compiled in each
    process instead (about 1.5 s, once)."""
    try:
        return cast(_F, numba.njit(function, cache=True, **options))
    except RuntimeError:
        return cast(_F, numba.njit(function, **options))


def _exact(function: _F) -> _F:
    """Compiled in IEEE order: the arithmetic of one pixel. Identical images must
    cancel exactly (100, not 99.8: the final polynomial's slope is infinite at 0)."""
    return _jit(function, nogil=True, error_model="numpy")


def _loop(function: _F) -> _F:
    """Compiled with ``reassoc``, which lets LLVM vectorise the loops' sums; the pixel
    arithmetic they call (``_exact``) keeps its own order when inlined."""
    return _jit(function, nogil=True, error_model="numpy", fastmath={"reassoc"})


#: libjxl's RecursiveGaussian(1.5) applied to an impulse: 9 taps, the rest exactly 0,
#: so the blur is this FIR with zero padding; ``HALO`` is its reach either side.
_HALF = (0.009414367809653755, 0.03601111465836439, 0.10933537277746024, 0.21292859201042208)
TAPS = np.array([*_HALF, 0.26462110548819834, *reversed(_HALF)], dtype=np.float32)
HALO = 4

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
def mix(rows: np.ndarray, lut: np.ndarray, out: np.ndarray, top: int, y_only: bool) -> None:
    """Level rows ``(n, w, 3)`` (8-bit sRGB through ``lut``, or linear) -> opsin
    planes ``out[:, top:top + n]``, ready for their cube roots (non-negative: sRGB in
    gamut, a positive matrix). ``y_only``: the first two planes alone, all Y needs.
    One pass instead of OpenCV's table look-up and transform (1.7x less CPU,
    measured). ``out`` whole, not a view of its rows: numba compiles a view that is
    not contiguous without vectorising (2x slower, measured)."""
    n, w, _ = rows.shape
    for i in range(n):
        for j in range(w):
            r = _linear_at(rows, lut, i, j, 0)
            g = _linear_at(rows, lut, i, j, 1)
            b = _linear_at(rows, lut, i, j, 2)
            o = top + i
            out[0, o, j] = OPSIN[0, 0] * r + OPSIN[0, 1] * g + OPSIN[0, 2] * b + OPSIN[0, 3]
            out[1, o, j] = OPSIN[1, 0] * r + OPSIN[1, 1] * g + OPSIN[1, 2] * b + OPSIN[1, 3]
            if not y_only:
                out[2, o, j] = OPSIN[2, 0] * r + OPSIN[2, 1] * g + OPSIN[2, 2] * b + OPSIN[2, 3]


@_loop
def positive(planes: np.ndarray, start: int, stop: int, y_only: bool) -> None:
    """Cube-rooted opsin planes -> positive XYB planes, rows ``start:stop`` in place
    (``y_only``: Y alone, from the first two)."""
    w = planes.shape[2]
    for i in range(start, stop):
        for j in range(w):
            cl, cm = planes[0, i, j], planes[1, i, j]
            planes[1, i, j] = POSITIVE[1, 0] * cl + POSITIVE[1, 1] * cm + POSITIVE[1, 3]
            if not y_only:
                planes[0, i, j] = POSITIVE[0, 0] * cl + POSITIVE[0, 1] * cm + POSITIVE[0, 3]
                cs = planes[2, i, j]
                planes[2, i, j] = POSITIVE[2, 0] * cl + POSITIVE[2, 1] * cm + cs + POSITIVE[2, 3]


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
def plane_sums(x: np.ndarray, y: np.ndarray, start: int, stop: int, sums: np.ndarray) -> None:
    """Adds to ``sums`` the sums of libjxl's three maps of one plane over rows
    ``start:stop`` and of their 4th powers: (ssim, ssim^4, artefact, artefact^4,
    detail lost, detail lost^4). ``x``/``y`` are the reference's and the distorted
    plane of a strip, with ``HALO`` rows above ``start`` and below ``stop``: the
    neighbours, or zeros beyond the image (the blur's zero padding).

    Each own row is blurred where it is needed, in one pass: for each column the 9
    rows around it are summed in registers for x, y and the products libjxl blurs
    apart (x*x, y*y and x*y; a blur of x*x + y*y cancels worse, +0.02 on every score,
    measured), into row buffers; then each buffer along the row, and the maps and
    their sums follow at once. Against OpenCV's separate blurs and passes: 4.5x less
    CPU per plane. Each row is summed in float32 (vectorised) into float64 totals."""
    w = x.shape[1]
    zero = np.float32(0.0)
    rows = np.zeros((5, w + 2 * HALO), np.float32)  # zero ends: the padding along the row
    vx, vy, vxx, vyy, vxy = rows[0], rows[1], rows[2], rows[3], rows[4]
    for i in range(start, stop):
        for j in range(w):
            sx = sy = sxx = syy = sxy = zero
            for k in range(2 * HALO + 1):
                t, a, b = TAPS[k], x[i - HALO + k, j], y[i - HALO + k, j]
                sx += t * a
                sy += t * b
                sxx += t * (a * a)
                syy += t * (b * b)
                sxy += t * (a * b)
            vx[j + HALO], vy[j + HALO] = sx, sy
            vxx[j + HALO], vyy[j + HALO], vxy[j + HALO] = sxx, syy, sxy
        t0 = t1 = t2 = t3 = t4 = t5 = zero
        for j in range(w):
            m1 = m2 = s11 = s22 = s12 = zero
            for k in range(2 * HALO + 1):
                t = TAPS[k]
                m1 += t * vx[j + k]
                m2 += t * vy[j + k]
                s11 += t * vxx[j + k]
                s22 += t * vyy[j + k]
                s12 += t * vxy[j + k]
            d = _ssim(m1, m2, s11, s22, s12)
            p, q = _edge(x[i, j], y[i, j], m1, m2)
            d2, p2, q2 = d * d, p * p, q * q
            t0 += d
            t1 += d2 * d2
            t2 += p
            t3 += p2 * p2
            t4 += q
            t5 += q2 * q2
        sums[0] += t0
        sums[1] += t1
        sums[2] += t2
        sums[3] += t3
        sums[4] += t4
        sums[5] += t5
