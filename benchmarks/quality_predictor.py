"""The target search's predictor against the exhaustive search, over the corpus
(issue 11; the figures of ``docs/quality.md``).

Reads the ground truth of ``quality_research/collect.py`` (every quality at 480 and
768 px, a dense grid where the targets are crossed at the wider widths) and runs
``imgsvc.pipeline.targeting.plan`` itself on it without encoding anything: each
trial is a look-up in its width's measured curve (so trial counts are the search's
own), a predicted width's first the predictor's own choice. The fitted
constants (``PER_OCTAVE``, ``GRADIENT_CAP``) are refitted on a grid as the cheapest
pair (bytes at target 70) that searches no predicted width at target 70: each
prediction's one trial lands within ``targeting.SLACK`` of the target (a miss costs
a search at 1280 or 1920 px, about 0.4 s, most of a fixed conversion's CPU). The
scores cannot fall further below the target than that slack (``verify``), so the
fit trades bytes against CPU alone. Once on all photos (the shipped values), and
once leaving each photo out, which is the predictor's error on a photo its fit has
not seen.

    .venv/bin/python -m benchmarks.quality_research.collect     # once, ~4 min CPU
    .venv/bin/python -m benchmarks.quality_predictor [IN.json]
"""

from __future__ import annotations

import itertools
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.quality_research.analyse import Curve, Data, at, load, planned
from benchmarks.quality_research.collect import CACHE
from imgsvc.pipeline import targeting

TARGETS, LOW, HIGH = (65.0, 70.0, 75.0), 50, 95
GRID = list(itertools.product([x / 2 for x in range(1, 12)], range(76, 92, 2)))
Params = tuple[float, int]


@contextmanager
def constants(params: Params) -> Iterator[None]:
    saved = targeting.PER_OCTAVE, targeting.GRADIENT_CAP
    targeting.PER_OCTAVE, targeting.GRADIENT_CAP = params
    try:
        yield
    finally:
        targeting.PER_OCTAVE, targeting.GRADIENT_CAP = saved


def lowest(curve: Curve, target: float) -> int:
    return next((q for q in range(LOW, HIGH + 1) if at(curve, q) >= target), HIGH)


def chosen(widths: dict[int, Curve], goal: float) -> tuple[dict[int, int], list[int]]:
    """width -> the quality ``targeting.plan`` picks, and the trials per width."""
    ws = planned(widths)

    def trial(i: int) -> targeting.Trial:
        return lambda q: (at(widths[ws[i]], q), b"")

    choices = targeting.plan(ws, trial, targeting.Target(goal, LOW, HIGH), 80)
    return {w: c.quality for w, c in zip(ws, choices, strict=True)}, [c.trials for c in choices]


def measure(data: Data, photos: list[str], goal: float) -> dict[str, object]:
    scores: dict[int, list[float]] = {}
    errors: dict[int, list[int]] = {}
    trials: dict[int, list[int]] = {}
    size = {"chosen": 0.0, "exhaustive": 0.0, "fixed": 0.0}
    searched = 0  # predicted widths searched after their prediction missed
    for photo in photos:
        widths = data[photo]
        qs, counts = chosen(widths, goal)
        predicted = counts[targeting.searched(planned(widths)) :]
        searched += sum(t > 1 for t in predicted)
        for i, (w, q) in enumerate(sorted(qs.items())):
            best = lowest(widths[w], goal)
            scores.setdefault(i, []).append(at(widths[w], q))
            errors.setdefault(i, []).append(q - best)
            trials.setdefault(i, []).append(counts[i])
            size["chosen"] += at(widths[w], q, 1)
            size["exhaustive"] += at(widths[w], best, 1)
            size["fixed"] += at(widths[w], 80, 1)
    return {"scores": scores, "errors": errors, "trials": trials, "searched": searched, **size}


def holds(data: Data, photos: list[str], params: Params) -> float | None:
    """Bytes at target 70 if no predicted width there needs a search."""
    with constants(params):
        result = measure(data, photos, 70.0)
    return None if result["searched"] else float(result["chosen"])  # type: ignore[arg-type]


def fit(data: Data, photos: list[str]) -> Params:
    sized = [(b, p) for p in GRID if (b := holds(data, photos, p)) is not None]
    return min(sized)[1]


def table(data: Data, held: dict[str, Params], goal: float) -> str:
    rows = []
    merged: dict[str, dict[int, list]] = {"scores": {}, "errors": {}, "trials": {}}
    size = {"chosen": 0.0, "exhaustive": 0.0, "fixed": 0.0}
    searched = 0
    for photo, params in held.items():
        with constants(params):
            r = measure(data, [photo], goal)
        for key in merged:
            for i, v in r[key].items():  # type: ignore[attr-defined]
                merged[key].setdefault(i, []).extend(v)
        for key in size:
            size[key] += r[key]  # type: ignore[operator]
        searched += r["searched"]  # type: ignore[operator]
    rows.append("| width | min score | mean score | quality error mean [min, max] | trials |")
    rows.append("| --- | --- | --- | --- | --- |")
    for i, label in enumerate(("480", "768", "1280", "1920 (largest)")):
        s, e, t = merged["scores"][i], merged["errors"][i], merged["trials"][i]
        rows.append(
            f"| {label} | {min(s):.1f} | {statistics.fmean(s):.1f} | "
            f"{statistics.fmean(e):+.1f} [{min(e):+d}, {max(e):+d}] | {statistics.fmean(t):.1f} |"
        )
    rows.append(
        f"\nbytes {size['chosen'] / size['exhaustive']:.3f}x the exhaustive search's, "
        f"{size['chosen'] / size['fixed']:.3f}x fixed quality 80's; "
        f"{searched} predicted widths searched"
    )
    return "\n".join(rows)


def main(path: Path) -> None:
    data = load(path)
    photos = list(data)
    shipped = (targeting.PER_OCTAVE, targeting.GRADIENT_CAP)
    print(f"fitted on all photos: {fit(data, photos)}; shipped: {shipped}")
    held = {p: fit(data, [o for o in photos if o != p]) for p in photos}
    for photo, params in held.items():
        print(f"  fitted without {photo}: {params}")
    for goal in TARGETS:
        print(f"\ntarget {goal:g}, shipped constants (in sample)")
        print(table(data, dict.fromkeys(photos, shipped), goal))
        print(f"\ntarget {goal:g}, each photo by the fit without it (leave one out)")
        print(table(data, held, goal))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else CACHE)
