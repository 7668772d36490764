"""A short hostile load through real gunicorn onto a real S3, with S3 stopped part-way.

8 clients for ``IMGSVC_LOAD_SECONDS`` (default 10) post photos, oversized bodies,
bombs, refused formats and garbage while SeaweedFS is stopped for a few seconds and
started again. Correctness only (benchmarks/test_load_http.py reports figures over
60 s): every answer is documented, /readyz follows the outage, worker memory stays
under a bound, and the bucket ends holding exactly the complete 201 sets.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .support.loadgen import (
    EXPECTED,
    Outage,
    WorkerMemory,
    expected_keys,
    incomplete_sets,
    run_load,
    summary,
    wait_until,
)
from .support.seaweed import SeaweedS3
from .support.servers import imgsvc_serve

SECONDS = float(os.environ.get("IMGSVC_LOAD_SECONDS", "10"))
MAX_UPLOAD_BYTES = 4 * 1024 * 1024
#: Per worker: 4 threads may each hold a body (and its multipart copy), 2 conversions
#: of a 2400x1600 photo run at once, plus glibc's per-thread arenas. Measured peaks:
#: 300-420 MiB (docs/operations.md); the bound leaves room for a loaded CI machine.
WORKER_RSS_BOUND = 768 * 2**20
BUCKET = "load"


@pytest.fixture
def own_s3(tmp_path: Path) -> Iterator[SeaweedS3]:
    """Its own SeaweedFS: this test stops it, which others sharing it would not expect."""
    server = SeaweedS3(tmp_path / "seaweedfs")
    server.start()
    server.create_bucket(BUCKET)
    yield server
    server.stop()


def test_hostile_load_with_an_s3_outage(own_s3: SeaweedS3, tmp_path: Path) -> None:
    env = {
        "IMGSVC_STORAGE": "s3",
        "IMGSVC_S3_BUCKET": BUCKET,
        "IMGSVC_S3_ENDPOINT_URL": own_s3.endpoint,
        "IMGSVC_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
    }
    with imgsvc_serve(env, tmp_path, workers=2) as base:
        memory = WorkerMemory(int(base.rsplit(":", 1)[1]))
        memory.start()
        outage = Outage(own_s3, after=SECONDS * 0.3, lasting=3)
        started = time.monotonic()
        answers = run_load(base, SECONDS, 8, outage, MAX_UPLOAD_BYTES)
        elapsed = time.monotonic() - started
        memory.stop()
        expected = expected_keys(answers)
        # Objects of uploads cut short by the outage go once the janitor gets through.
        settled = wait_until(lambda: set(own_s3.keys(BUCKET)) == expected, timeout=90)
        leftover = set(own_s3.keys(BUCKET)) - expected
    figures = summary(answers, memory, elapsed)
    print(figures)

    wrong = [a for a in answers if not a.ok]
    assert not wrong, [(a.kind, a.status, a.code, a.retry_after) for a in wrong[:10]]
    assert len(answers) < 30 or {a.kind for a in answers} == set(EXPECTED), "the whole mix"
    assert any(a.status == 201 for a in answers)
    assert any(a.code == "storage_unavailable" for a in answers), "the outage was felt"
    assert 503 in outage.readyz_down, "/readyz reported storage down while it was"
    assert outage.recovered_at is not None, "/readyz recovered by itself"
    assert any(a.status == 201 and a.finished > outage.recovered_at for a in answers)
    assert len(memory.peak) == 2
    assert max(memory.peak.values()) < WORKER_RSS_BOUND, figures["worker_peak_rss_mib"]
    assert settled, f"objects no 201 vouches for: {sorted(leftover)[:10]}"
    assert not incomplete_sets(own_s3, BUCKET, answers)
