"""Distributed re-conversion on a real Redis and real ``imgsvc worker`` processes.

Each test has its own namespace (kombu key prefix, queue, ledger), so it shares the
machine's Redis with anything else. The worker is SIGKILLed, process group and
all, while a batch is in flight; a second worker must then finish every image
exactly as a local conversion would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from imgsvc import ImageService
from imgsvc.bulk.ledger import Ledger
from imgsvc.bulk.work import Outcome
from imgsvc.pipeline import PipelineConfig, convert
from imgsvc.storage.keys import manifest_key
from imgsvc.storage.s3 import S3Storage

from ..support.servers import stop_process_group
from .test_reconvert import (  # fixtures among them, used by name
    Corpus,
    build_corpus,
    bulk_bucket,
    check_complete,
    env,
    group_gone,
    invoke,
    old_service,
    prefix,
    settings_from,
    storage,
    wait_for,
)

__all__ = ["bulk_bucket", "env", "old_service", "prefix", "storage"]  # fixtures, not unused


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    ns = f"imgsvc-test-{uuid.uuid4().hex[:10]}"
    yield ns
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{ns}:*"))
    if keys:
        client.delete(*keys)


def test_ledger_counts_each_image_once_and_takes_back_clean_attempts(
    redis_url: str, namespace: str
) -> None:
    ledger = Ledger.connect(redis_url, namespace)
    run = ledger.start("news-by/", "outdated", "abc")
    ledger.add_total(run, 3)
    assert ledger.last_run() == run
    assert ledger.begin(run, "a") == 1
    assert ledger.settle(run, "a", Outcome.RECONVERTED)
    assert not ledger.settle(run, "a", Outcome.FAILED, "a late duplicate")  # counted once
    assert ledger.begin(run, "b") == 1
    ledger.abandon(run, "b")  # storage was down: that attempt does not count
    assert ledger.begin(run, "b") == 1
    assert ledger.begin(run, "b") == 2  # the worker died during attempt 1
    assert ledger.settle(run, "c", Outcome.FAILED, "invalid_image: garbage")
    status = ledger.status(run)
    assert (status.total, status.done, status.failed, status.remaining) == (3, 1, 1, 1)
    assert status.failures == [("c", "invalid_image: garbage")]


#: Wide sources keep a batch busy long enough to be caught mid-flight.
SPECS = [(2600, 1700, "JPEG")] * 6 + [(640, 427, "JPEG")] * 4
MAX_QUEUED = 2


def celery_env(env: dict[str, str], redis_url: str, namespace: str) -> dict[str, str]:
    """Small batches, a short queue and a short visibility timeout, so that a killed
    worker's batches come back within seconds (the rule visibility > time limit +
    retry countdown still holds)."""
    return env | {
        "IMGSVC_BROKER_URL": redis_url,
        "IMGSVC_CELERY_NAMESPACE": namespace,
        "IMGSVC_CELERY_BATCH_SIZE": "2",
        "IMGSVC_CELERY_MAX_QUEUED": str(MAX_QUEUED),
        "IMGSVC_CELERY_TIME_LIMIT": "6",
        "IMGSVC_CELERY_RETRY_BACKOFF": "1",
        "IMGSVC_CELERY_RETRY_BACKOFF_MAX": "1",
        "IMGSVC_CELERY_VISIBILITY_TIMEOUT": "8",
        "IMGSVC_CELERY_RESTORE_INTERVAL": "1",
    }


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "imgsvc", *args],
            env=os.environ | env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def assert_as_a_local_run(storage: S3Storage, corpus: Corpus, media_id: str, env: dict) -> None:
    """The stored set is byte for byte what converting the original here gives."""
    manifest = check_complete(storage, corpus.prefix, media_id)
    local = convert(
        storage.get(manifest["original"]["key"]).data,
        PipelineConfig.from_settings(settings_from(env)),
    )
    assert [(v["size"], v["width"], v["height"]) for v in manifest["variants"]] == [
        (v.size, v.width, v.height) for v in local.variants
    ]
    for stored, made in zip(manifest["variants"], local.variants, strict=True):
        assert storage.get(stored["key"]).data == made.data, stored["key"]


def test_a_killed_worker_loses_nothing_and_a_poison_image_ends_as_a_failure(
    old_service: ImageService,
    storage: S3Storage,
    env: dict[str, str],
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    corpus = build_corpus(old_service, env, SPECS)
    poison, crasher = corpus.ids[-1], corpus.ids[-2]
    poison_key = check_complete(storage, corpus.prefix, poison)["original"]["key"]
    storage.put(poison_key, b"\xff\xd8\xff\xe0 garbage where a JPEG was", "image/jpeg")
    untouched = {m: storage.get(manifest_key(corpus.prefix, m)).data for m in (poison, crasher)}
    cenv = celery_env(env, redis_url, namespace)
    ledger = Ledger.connect(redis_url, namespace)
    client = redis.Redis.from_url(redis_url)

    # No worker yet: the enqueuer fills the queue to its bound and waits.
    enqueuer = start(["reconvert", "--enqueue"], cenv, tmp_path / "enqueue.log")
    wait_for(lambda: ledger.queue_length() == MAX_QUEUED, 30, "a full queue")
    time.sleep(1)
    assert enqueuer.poll() is None and ledger.queue_length() == MAX_QUEUED
    run = ledger.last_run()
    assert run is not None
    for _ in range(3):  # as if three workers had died converting it
        ledger.begin(run, crasher)

    longest = [0]

    def settled_with_batches_in_flight() -> bool:
        longest[0] = max(longest[0], ledger.queue_length())
        return ledger.status(run).settled >= 2 and client.hlen(f"{namespace}:unacked") > 0

    first = start(["worker", "-c", "2"], cenv, tmp_path / "worker1.log")
    try:
        wait_for(settled_with_batches_in_flight, 60, "two images settled, batches in flight")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    wait_for(lambda: group_gone(first.pid), 10, "the killed worker to go")
    stranded = client.hlen(f"{namespace}:unacked")
    assert stranded > 0, "no batch was in flight when the worker was killed"
    assert ledger.status(run).remaining > 0

    second = start(["worker", "-c", "2"], cenv, tmp_path / "worker2.log")
    try:
        wait_for(lambda: enqueuer.poll() is not None, 90, "the enqueuer to finish")
        assert enqueuer.returncode == 0, (tmp_path / "enqueue.log").read_text()
        wait_for(lambda: ledger.status(run).remaining == 0, 90, "every image settled")
    finally:
        stop_process_group(second)
    assert longest[0] <= MAX_QUEUED

    status = ledger.status(run)
    assert status.total == len(corpus.ids) + 2  # the missing conversion, the orphaned original
    assert status.failed == 2
    reasons = dict(status.failures)
    assert reasons[poison].startswith("invalid_image: ")
    assert reasons[crasher].startswith("gave up: 3 attempts never finished")
    assert status.counts == {"reconverted": len(corpus.ids) - 1, "adopted": 1, "failed": 2}
    for media_id in (poison, crasher):
        assert storage.get(manifest_key(corpus.prefix, media_id)).data == untouched[media_id]
    for media_id in [*corpus.ids[:-2], corpus.missing, corpus.orphan_original, corpus.current]:
        assert_as_a_local_run(storage, corpus, media_id, env)

    shown = invoke(["reconvert", "--status"], cenv)
    assert shown.exit_code == 0, shown.output
    assert f"Run {run}" in shown.stdout and poison in shown.stdout
    for label, value in (("failed", 2), ("remaining", 0)):
        assert any(line.split()[:2] == [label, str(value)] for line in shown.stdout.splitlines())
