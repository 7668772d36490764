"""Hostile load for a minute: ``imgsvc serve`` (gunicorn, 2 workers x 4 threads) on
SeaweedFS, 8 clients mixing photos, oversized bodies, bombs, refused formats and
garbage, with S3 stopped 20 s in and started again.

Figures are reported (requests, outcomes, p50/p99, uploads per second, peak RSS of
each worker), not asserted; what must hold whatever the machine is asserted, as in
tests/test_load.py: every answer documented, the bucket exactly the 201 sets.
``IMGSVC_LOAD_SECONDS`` changes the duration (default 60).

Runs under ``make bench`` (``--benchmark-only``) through the ``benchmark`` fixture,
one round: the run is the measurement.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.loadgen import (
    Outage,
    WorkerMemory,
    expected_keys,
    incomplete_sets,
    run_load,
    summary,
    wait_until,
)
from tests.support.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedS3
from tests.support.servers import imgsvc_serve

SECONDS = float(os.environ.get("IMGSVC_LOAD_SECONDS", "60"))
MAX_UPLOAD_BYTES = 8 * 1024 * 1024
BUCKET = "load"


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[SeaweedS3]:
    server = SeaweedS3(tmp_path / "seaweedfs")
    server.start()
    server.create_bucket(BUCKET)
    yield server
    server.stop()


def test_hostile_load_for_a_minute(
    benchmark: Any, s3: SeaweedS3, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        "IMGSVC_STORAGE": "s3",
        "IMGSVC_S3_BUCKET": BUCKET,
        "IMGSVC_S3_ENDPOINT_URL": s3.endpoint,
        "IMGSVC_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env |= {name: "" for name in os.environ if name.startswith("IMGSVC_") and name not in env}
    with imgsvc_serve(env, tmp_path, workers=2) as base:
        memory = WorkerMemory(int(base.rsplit(":", 1)[1]))
        outage = Outage(s3, after=min(20.0, SECONDS / 3), lasting=3)
        memory.start()
        started = time.monotonic()
        answers = benchmark.pedantic(
            run_load,
            args=(base, SECONDS, 8, outage, MAX_UPLOAD_BYTES),
            rounds=1,
            iterations=1,
        )
        elapsed = time.monotonic() - started
        memory.stop()
        expected = expected_keys(answers)
        clean_started = time.monotonic()
        settled = wait_until(lambda: set(s3.keys(BUCKET)) == expected, timeout=120)
        cleaned_after = time.monotonic() - clean_started
    figures = summary(answers, memory, elapsed)
    assert outage.stopped_at is not None and outage.recovered_at is not None
    figures |= {
        "seconds": round(elapsed, 1),
        "s3_away_s": round(outage.recovered_at - outage.stopped_at, 1),
        "readyz_while_down": sorted(set(outage.readyz_down)),
        "janitor_settled_s": round(cleaned_after, 1),
        "objects": len(expected),
    }
    benchmark.extra_info.update(figures)
    with capsys.disabled():
        print("\nhostile load, 8 clients:", json.dumps(figures, indent=1))

    assert all(a.ok for a in answers), [(a.kind, a.status, a.code) for a in answers if not a.ok]
    assert settled, sorted(set(s3.keys(BUCKET)) - expected)[:10]
    assert not incomplete_sets(s3, BUCKET, answers)
