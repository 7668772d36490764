"""Exhaustive SSIMULACRA2-versus-quality data over the corpus, the ground truth of
``docs/quality.md``: for each photo, each width imgsvc makes (and a 320 px trial
width derived from the 480), WebP encoded as the targeted pipeline encodes it (the
searched widths with ``formats.WEBP.search_encoder``, method 2; the others at method
4), scored against the very image that was encoded (imgsvc's own resize), with
``imgsvc.pipeline.quality``.

Lean on a shared two-core machine: a grid of every 5th quality over 40..100 at the
large widths, every quality in the 5-wide brackets where the targets 65/70/75 are
crossed, every quality at 320/480/768 (cheap). Results are cached as JSON, so the
analysis (``analyse.py``) reruns without encoding anything.

    .venv/bin/python -m benchmarks.quality_research.collect [OUT.json]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from PIL import Image

from benchmarks.fetch_corpus import corpus_files
from imgsvc.pipeline import PipelineConfig, _run_steps, targeting
from imgsvc.pipeline.encode import encode
from imgsvc.pipeline.plan import plan_variants
from imgsvc.pipeline.quality import Reference, decoded
from imgsvc.pipeline.receive import open_image
from imgsvc.pipeline.resize import downscale
from imgsvc.settings import Settings

TARGETS = (65.0, 70.0, 75.0)
LOW, HIGH = 40, 100
TRIAL = 320  # a cheaper search width than the smallest planned one, for comparison
#: "-2": the searched widths at the search parameters (the first file: method 4 at all).
CACHE = Path.home() / ".cache" / "imgsvc-bench" / "quality-research-2.json"


def widths_of(data: bytes) -> dict[int, Image.Image]:
    """The images imgsvc's cascade encodes, by width (plus the 320 px trial width)."""
    config = PipelineConfig.from_settings(Settings.load({}))
    im, source = open_image(data, config.limits)
    plan = plan_variants(source.width, source.height, config.output.sizes, config.output.max_side)
    tops, _ = _run_steps(im, source, (plan[-1].width, plan[-1].height), config, lambda _s: _null())
    current = tops[0]
    out: dict[int, Image.Image] = {}
    for step in reversed(plan):
        if current.size != (step.width, step.height):
            current = downscale(current, (step.width, step.height))
        out[step.width] = current
    small = out[min(out)]
    out[TRIAL] = downscale(small, (TRIAL, max(1, round(TRIAL * small.height / small.width))))
    return out


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def measure(image: Image.Image, dense: bool, searched: bool) -> dict[int, list[float]]:
    """quality -> [score, bytes, encode CPU s, score CPU s]."""
    reference = Reference(image)
    points: dict[int, list[float]] = {}

    def at(q: int) -> float:
        if q not in points:
            c0 = time.process_time()
            data = encode([image], "webp", q, None, None, searched)
            c1 = time.process_time()
            score = reference.score(decoded(data))
            points[q] = [score, len(data), c1 - c0, time.process_time() - c1]
        return points[q][0]

    for q in range(LOW, HIGH + 1, 1 if dense else 5):
        at(q)
    if not dense:
        for target in TARGETS:
            grid = sorted(points)
            above = [q for q in grid if points[q][0] >= target]
            if above and above[0] > LOW:
                for q in range(above[0] - 4, above[0]):
                    at(q)
    return dict(sorted(points.items()))


def collect(out: Path) -> dict[str, Any]:
    results: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    for path in corpus_files(quick=False):
        if path.name in results:
            continue
        started = time.process_time()
        images = widths_of(path.read_bytes())
        planned = sorted(w for w in images if w != TRIAL)
        searched = {TRIAL, *planned[: targeting.searched(planned)]}
        results[path.name] = {
            str(w): measure(im, dense=w <= 768, searched=w in searched)
            for w, im in sorted(images.items())
        }
        out.write_text(json.dumps(results))
        print(f"{path.name}: {time.process_time() - started:.1f} s CPU", flush=True)
    return results


if __name__ == "__main__":
    collect(Path(sys.argv[1]) if len(sys.argv) > 1 else CACHE)
