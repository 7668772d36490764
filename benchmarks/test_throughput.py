"""Bulk throughput: the whole corpus, each engine at its best concurrency on two cores.

A re-conversion of a media library is this job. The Python engines run in a warm
process pool (each worker holds the corpus in memory before the clock starts);
sharp gets every file at once and schedules them itself (libuv's pool of four,
libvips threads inside). imgsvc is measured with 1 and 2 processes because its
pipeline already encodes in threads: the report keeps the faster as its figure.

Rounds are interleaved across engines (see test_latency.py for why); the pools
stay up between rounds, so only the first use of each pool pays for its start.
Beside the wall time, the CPU time the engine spent is recorded (workers' or the
node process's own): a figure the neighbours' load barely moves.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .common import QUICK, Source
from .engines import Pool, Sharp
from .report import Bulk, Results

ROUNDS = 1 if QUICK else 4
#: (engine, processes); 0 processes: sharp, which schedules the files itself.
CONFIGS = [("imgsvc", 2), ("naive", 2), ("sharp", 0)]
if not QUICK:
    CONFIGS += [("imgsvc", 1), ("pyvips", 2)]
CASES = [(r, e, n) for r in range(1, ROUNDS + 1) for e, n in CONFIGS]


@pytest.fixture(scope="module")
def pools(corpus: dict[str, Source]) -> Iterator[dict[tuple[str, int], Pool]]:
    """Pools made on first use, warmed by one untimed pass, closed with the module."""
    made: dict[tuple[str, int], Pool] = {}
    try:
        yield made
    finally:
        for pool in made.values():
            pool.close()


@pytest.mark.parametrize(
    ("round_no", "engine", "processes"),
    CASES,
    ids=[f"r{r}-{e}-{f'{n}proc' if n else 'own'}" for r, e, n in CASES],
)
def test_bulk(
    benchmark: Any,
    request: pytest.FixtureRequest,
    bench_results: Results,
    corpus: dict[str, Source],
    pools: dict[tuple[str, int], Pool],
    round_no: int,
    engine: str,
    processes: int,
) -> None:
    benchmark.group = "bulk: whole corpus"
    benchmark.extra_info.update(engine=engine, processes=processes, round=round_no)
    if engine == "sharp":
        sharp: Sharp = request.getfixturevalue("sharp")
        jobs = [(s.path, s.widths) for s in corpus.values()]
        if round_no == 1:
            sharp.load([s.path for s in corpus.values()])
            sharp.bulk(jobs)  # warm-up, untimed
        total = benchmark.pedantic(sharp.bulk, args=(jobs,), rounds=1, iterations=1)
        cpu = sharp.cpu
        config = "all files at once"
    else:
        if engine == "pyvips":
            request.getfixturevalue("py_extras")
        pool = pools.get((engine, processes))
        if pool is None:
            pool = pools[(engine, processes)] = Pool(
                engine, processes, [s.path for s in corpus.values()]
            )
            pool.run()  # start the workers, import, warm caches: untimed
        total = benchmark.pedantic(pool.run, rounds=1, iterations=1)
        cpu = pool.cpu
        config = f"{processes} process{'es' if processes > 1 else ''}"
    if benchmark.stats is None:
        return
    megapixels = sum(s.width * s.height for s in corpus.values()) / 1e6
    bench_results.bulk.append(
        Bulk(engine, config, benchmark.stats.stats.min, len(corpus), megapixels, total, cpu)
    )
    bench_results.rounds["bulk"] = ROUNDS
