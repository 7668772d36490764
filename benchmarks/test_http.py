"""HTTP under load: ``imgsvc serve`` (gunicorn) taking uploads from 1 and 8 clients.

File storage in a temporary directory, then S3 on SeaweedFS (tests/seaweed.py).
Throughput is compared with the pipeline's own bulk throughput from the same
run (test_throughput.py): what the HTTP layer, the storage writes and the
gunicorn layout cost on top of converting. The latency spread of a mixed corpus
is mostly the photos' own spread (a 5640 px JPEG takes five times a 1920 px
one), so each upload's latency is also divided by the same photo's latency with
one client: the "slowdown" percentiles isolate the queueing. Each server gets four untimed
warm-up uploads first, so that both workers have imported and touched everything.

``IMGSVC_BENCH_HTTP_LAYOUTS=config,2x1,1x4`` measures other workers x threads
layouts beside the repo's config (for tuning config/gunicorn.conf.py).
"""

from __future__ import annotations

import os
import statistics
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from .common import QUICK, Source
from .httpload import MemorySampler, Server, Upload, multipart, run_load, tree_cpu
from .report import Http, Results

STORAGES = ("file", "s3")
LAYOUTS = os.environ.get("IMGSVC_BENCH_HTTP_LAYOUTS", "config").split(",")
#: How many times the 8 clients go through the corpus (1 client: once).
PASSES = 2 if QUICK else 3
SERVERS = [(storage, layout) for storage in STORAGES for layout in LAYOUTS]
#: (clients, round): one client once (the per-photo reference for the slowdowns),
#: eight clients twice in a full run; the report keeps the faster round.
LOADS = [(1, 1), (8, 1)] if QUICK else [(1, 1), (8, 1), (8, 2)]
#: Per server: each photo's latency with one client, to divide the others by.
_ALONE: dict[str, dict[str, float]] = {}


@cache
def _body(path: Path) -> Upload:
    return multipart(path)


@pytest.fixture(scope="module", params=SERVERS, ids=[f"{s}-{layout}" for s, layout in SERVERS])
def server(request: pytest.FixtureRequest, corpus: dict[str, Source]) -> Iterator[Server]:
    storage, layout = request.param
    workers = threads = None
    if layout != "config":
        workers, threads = (int(n) for n in layout.split("x"))
    with tempfile.TemporaryDirectory(prefix="imgsvc-bench-http-") as tmp:
        env = {"IMGSVC_STORAGE": "file", "IMGSVC_FILE_ROOT": str(Path(tmp) / "media")}
        if storage == "s3":
            from tests.support.seaweed import ACCESS_KEY, SECRET_KEY

            seaweed = request.getfixturevalue("seaweed")
            env = {
                "IMGSVC_STORAGE": "s3",
                "IMGSVC_S3_BUCKET": "bench",
                "IMGSVC_S3_ENDPOINT_URL": seaweed.endpoint,
                "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "AWS_DEFAULT_REGION": "us-east-1",
            }
        srv = Server(env, Path(tmp) / "gunicorn.log", workers, threads)
        if storage == "s3":
            srv.storage_pid = seaweed.proc.pid
        srv.start()
        try:
            smallest = min(corpus.values(), key=lambda s: len(s.data))
            warm = run_load(srv.port, [_body(smallest.path)] * 4, clients=4)
            if warm.errors:
                raise RuntimeError(f"warm-up uploads failed: {warm.errors[:2]}")
            yield srv
        finally:
            srv.stop()


@pytest.mark.parametrize(
    ("clients", "round_no"), LOADS, ids=[f"{c}client{'s' if c > 1 else ''}-r{r}" for c, r in LOADS]
)
def test_http_uploads(
    benchmark: Any,
    request: pytest.FixtureRequest,
    bench_results: Results,
    corpus: dict[str, Source],
    server: Server,
    clients: int,
    round_no: int,
) -> None:
    storage = request.node.callspec.params["server"][0]
    uploads = [_body(s.path) for s in corpus.values()] * (PASSES if clients > 1 else 1)
    storage_root = server.storage_pid
    sampler = MemorySampler(server)
    sampler.start()
    cpu0 = tree_cpu(server.proc.pid) if server.proc else 0.0
    storage0 = tree_cpu(storage_root) if storage_root else 0.0
    try:
        benchmark.group = f"HTTP uploads: {storage} storage"
        result = benchmark.pedantic(
            run_load, args=(server.port, uploads, clients), rounds=1, iterations=1
        )
    finally:
        sampler.stop()
    server_cpu = (tree_cpu(server.proc.pid) if server.proc else 0.0) - cpu0
    storage_cpu = (tree_cpu(storage_root) if storage_root else 0.0) - storage0
    if not result.latencies:
        pytest.fail(f"no upload succeeded: {result.errors[:3]}")
    alone = _ALONE.setdefault(f"{storage}-{server.layout}", {})
    if clients == 1:
        alone.update(result.latencies)
    times = [t for _, t in result.latencies]
    slowdowns = [t / alone[name] for name, t in result.latencies if name in alone]
    bench_results.http.append(
        Http(
            storage=storage,
            clients=clients,
            requests=len(times),
            errors=len(result.errors),
            seconds=result.seconds,
            p50=statistics.median(times),
            p99=_p99(times),
            peak_rss_mb=sampler.peak_rss / 2**20,
            peak_pss_mb=sampler.peak_pss / 2**20,
            layout=server.layout,
            slowdown_p50=statistics.median(slowdowns) if slowdowns else None,
            slowdown_p99=_p99(slowdowns) if slowdowns else None,
            server_cpu=server_cpu,
            storage_cpu=storage_cpu,
        )
    )
    if result.errors:
        bench_results.note(
            f"HTTP {storage}, {clients} clients: {len(result.errors)} failed uploads, "
            f"e.g. {result.errors[0]}"
        )
    benchmark.extra_info.update(images_per_s=len(times) / result.seconds, p99=_p99(times))


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    if len(ordered) < 2:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[98]
