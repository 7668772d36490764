"""Which cheap predictor of the quality each width needs: figures for ``docs/quality.md``.

Reads ``collect.py``'s JSON (no encoding). For a target T, the exhaustive answer at
each width is the lowest quality in [50, 95] whose encode scores at least T. Each
predictor searches one small width only and derives the others; it is judged
against the exhaustive answers by the scores its qualities reach (the minimum is
what the Done-when bounds), their bytes, and the trial encodes it needs. Offsets
are fitted leave-one-photo-out, so no photo is predicted by a fit that saw it.

    .venv/bin/python -m benchmarks.quality_research.analyse [IN.json]
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks.quality_research.collect import CACHE, TARGETS

LOW, HIGH = 50, 95
Curve = dict[int, list[float]]  # quality -> [score, bytes, encode cpu, score cpu]


def at(curve: Curve, q: int, field: int = 0) -> float:
    """A measured value at ``q``, else linear between the nearest measured qualities."""
    if q in curve:
        return curve[q][field]
    below = max(k for k in curve if k < q)
    above = min(k for k in curve if k > q)
    t = (q - below) / (above - below)
    return curve[below][field] * (1 - t) + curve[above][field] * t


def lowest(curve: Curve, target: float) -> int:
    """The exhaustive answer: the lowest quality within bounds that reaches ``target``."""
    for q in range(LOW, HIGH + 1):
        if at(curve, q) >= target:
            return q
    return HIGH


def clamp(q: float) -> int:
    return max(LOW, min(HIGH, round(q)))


Data = dict[str, dict[int, Curve]]


def load(path: Path) -> Data:
    raw = json.loads(path.read_text())
    return {
        photo: {int(w): {int(q): v for q, v in c.items()} for w, c in widths.items()}
        for photo, widths in raw.items()
    }


def planned(widths: dict[int, Curve]) -> list[int]:
    return sorted(w for w in widths if w != 320)


def offsets(data: Data, target: float, trial: int, leave_out: str, quantile: float) -> Callable:
    """q(width) - q(trial) of the exhaustive answers on the other photos, as a function
    of log2(width / smallest), fitted as a line through that quantile per width."""
    points: list[tuple[float, float]] = []
    for photo, widths in data.items():
        if photo == leave_out:
            continue
        base = lowest(widths[trial], target)
        small = planned(widths)[0]
        for w in planned(widths):
            points.append((math.log2(w / small), lowest(widths[w], target) - base))
    by_x: dict[float, list[float]] = {}
    for x, y in points:
        by_x.setdefault(round(x, 1), []).append(y)
    xs = sorted(by_x)
    ys = [
        statistics.quantiles(by_x[x], n=20)[round(quantile * 20) - 1]
        if len(by_x[x]) > 2
        else max(by_x[x])
        for x in xs
    ]
    return lambda x: _interp(xs, ys, x)


def _interp(xs: list[float], ys: list[float], x: float) -> float:
    if x <= xs[0]:
        return ys[0]
    for (x0, y0), (x1, y1) in zip(
        zip(xs, ys, strict=True), zip(xs[1:], ys[1:], strict=True), strict=False
    ):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return ys[-1]


def evaluate(data: Data, target: float, name: str, choose: Callable) -> dict:
    """Scores and bytes the predictor's qualities reach, against the exhaustive ones."""
    scores: dict[int, list[float]] = {}
    total = exhaustive_total = fixed_total = 0.0
    errors: list[int] = []
    for photo, widths in data.items():
        chosen = choose(photo, widths)
        for i, w in enumerate(planned(widths)):
            key = min(i, 3)
            q, best = chosen[w], lowest(widths[w], target)
            scores.setdefault(key, []).append(at(widths[w], q))
            errors.append(q - best)
            total += at(widths[w], q, 1)
            exhaustive_total += at(widths[w], best, 1)
            fixed_total += at(widths[w], 80, 1)
    return {
        "name": name,
        "min": {k: min(v) for k, v in scores.items()},
        "mean": statistics.mean(s for v in scores.values() for s in v),
        "q_error": (statistics.mean(errors), min(errors), max(errors)),
        "bytes_vs_exhaustive": total / exhaustive_total,
        "bytes_vs_fixed80": total / fixed_total,
    }


def predictors(data: Data, target: float) -> list[dict]:
    def exhaustive(photo: str, widths: dict[int, Curve]) -> dict[int, int]:
        return {w: lowest(widths[w], target) for w in planned(widths)}

    def fixed(q: int) -> Callable:
        return lambda photo, widths: {w: q for w in planned(widths)}

    def same(margin: float) -> Callable:
        def choose(photo: str, widths: dict[int, Curve]) -> dict[int, int]:
            q = lowest(widths[planned(widths)[0]], target + margin)
            return {w: q for w in planned(widths)}

        return choose

    def shifted(trial: int, quantile: float) -> Callable:
        def choose(photo: str, widths: dict[int, Curve]) -> dict[int, int]:
            off = offsets(data, target, trial, photo, quantile)
            base = lowest(widths[trial], target)
            small = planned(widths)[0]
            return {w: clamp(base + off(math.log2(w / small))) for w in planned(widths)}

        return choose

    rows = [
        evaluate(data, target, "exhaustive search at every width", exhaustive),
        evaluate(data, target, "fixed quality 80", fixed(80)),
        evaluate(data, target, "search at 480, same quality everywhere", same(0.0)),
    ]
    for trial in (480, 320):
        for quantile in (0.5, 0.75, 0.9):
            label = f"search at {trial}, per-width offsets (LOO, {int(quantile * 100)}th pct)"
            rows.append(evaluate(data, target, label, shifted(trial, quantile)))
    return rows


def relation(data: Data, target: float) -> None:
    """The raw material: each photo's exhaustive qualities per width."""
    print(f"\nexhaustive lowest quality reaching {target:g} (320 | planned widths):")
    for photo, widths in data.items():
        qs = " ".join(f"{w}:{lowest(widths[w], target)}" for w in sorted(widths))
        print(f"  {photo:32s} {qs}")


def main(path: Path) -> None:
    data = load(path)
    for target in TARGETS:
        relation(data, target)
        print(f"\ntarget {target:g}: min score by width index | mean | q error | bytes")
        for row in predictors(data, target):
            mins = " ".join(f"{row['min'][k]:.1f}" for k in sorted(row["min"]))
            mean_e, lo_e, hi_e = row["q_error"]
            print(
                f"  {row['name']:55s} min {mins} | mean {row['mean']:.1f} | q err "
                f"{mean_e:+.1f} [{lo_e:+d},{hi_e:+d}] | x{row['bytes_vs_exhaustive']:.3f} "
                f"of exhaustive, x{row['bytes_vs_fixed80']:.3f} of fixed 80"
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else CACHE)
