"""Bulk throughput: the whole corpus, each engine at its best concurrency on two cores.

A re-conversion of a media library is this job. The Python engines run in a warm
process pool (each worker holds the corpus in memory before the clock starts);
sharp gets every file at once and schedules them itself (libuv's pool of four,
libvips threads inside). imgsvc is measured with 1 and 2 processes because its
pipeline already encodes in threads: the report keeps the faster as its figure.
"""

from __future__ import annotations

from typing import Any

import pytest

from .common import QUICK, ROUNDS, Source
from .engines import Pool, Sharp
from .report import Bulk, Results

POOLS = [("imgsvc", 2), ("naive", 2)]
if not QUICK:
    POOLS += [("imgsvc", 1), ("pyvips", 2)]


def _record(
    results: Results, benchmark: Any, engine: str, config: str, corpus: dict[str, Source], n: int
) -> None:
    if benchmark.stats is None:
        return
    megapixels = sum(s.width * s.height for s in corpus.values()) / 1e6
    results.bulk.append(Bulk(engine, config, benchmark.stats.stats.min, len(corpus), megapixels, n))


@pytest.mark.parametrize(("engine", "processes"), POOLS, ids=[f"{e}-{n}proc" for e, n in POOLS])
def test_bulk_pool(
    benchmark: Any,
    request: pytest.FixtureRequest,
    bench_results: Results,
    corpus: dict[str, Source],
    engine: str,
    processes: int,
) -> None:
    if engine == "pyvips":
        request.getfixturevalue("py_extras")
    pool = Pool(engine, processes, [s.path for s in corpus.values()])
    try:
        pool.run()  # start the workers, import, warm caches: not timed
        benchmark.group = "bulk: whole corpus"
        total = benchmark.pedantic(pool.run, rounds=ROUNDS, iterations=1)
    finally:
        pool.close()
    config = f"{processes} process{'es' if processes > 1 else ''}"
    _record(bench_results, benchmark, engine, config, corpus, total)


def test_bulk_sharp(
    benchmark: Any, bench_results: Results, corpus: dict[str, Source], sharp: Sharp
) -> None:
    sharp.load([s.path for s in corpus.values()])
    jobs = [(s.path, s.widths) for s in corpus.values()]
    benchmark.group = "bulk: whole corpus"
    total = benchmark.pedantic(sharp.bulk, args=(jobs,), rounds=ROUNDS, warmup_rounds=1)
    _record(bench_results, benchmark, "sharp", "all files at once", corpus, total)
