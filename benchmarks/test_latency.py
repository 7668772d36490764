"""One upload's latency: each engine converts one photo, nothing else of ours running.

Rounds are interleaved: round 1 runs every engine on every photo, then round 2
does it again, and so on, and each figure is the best of its rounds. On a
shared machine the load of the neighbours comes in bursts lasting seconds to
minutes; back-to-back rounds of one engine could all fall into one burst, while
interleaved rounds give every engine the same chances at quiet moments.
"""

from __future__ import annotations

from typing import Any

import pytest

from .common import ENGINES, IMAGES, QUICK, Source
from .engines import Converter
from .report import Results

ROUNDS = 1 if QUICK else 5
CASES = [(r, i, e) for r in range(1, ROUNDS + 1) for i in IMAGES for e in ENGINES]


@pytest.mark.parametrize(
    ("round_no", "image", "engine"), CASES, ids=[f"r{r}-{i}-{e}" for r, i, e in CASES]
)
def test_one_upload(
    benchmark: Any,
    bench_results: Results,
    corpus: dict[str, Source],
    round_no: int,
    image: str,
    engine: str,
    converter: Converter,
) -> None:
    source = corpus[image]
    benchmark.group = f"one upload: {image}"
    benchmark.extra_info.update(engine=engine, round=round_no)
    # the first round warms up (imports, first-use tables, page cache) untimed
    warmup = 1 if round_no == 1 else 0
    benchmark.pedantic(converter, args=(source,), rounds=1, warmup_rounds=warmup, iterations=1)
    if benchmark.stats is not None:
        samples = bench_results.latency.setdefault(engine, {}).setdefault(image, [])
        samples.append(benchmark.stats.stats.min)
        cpu = bench_results.latency_cpu.setdefault(engine, {}).setdefault(image, [])
        cpu.append(converter.cpu)
    bench_results.rounds["one upload"] = ROUNDS
