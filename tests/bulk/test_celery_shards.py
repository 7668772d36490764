"""Sharded planning (``reconvert --enqueue --shards N``) on the real Redis and SeaweedFS.

First the shard task's body in this process, with segments of one image each, so
that every hand-on, duplicate and redelivery happens on purpose; then the whole
path through real ``imgsvc worker`` processes, ``--status`` and the purge list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
import redis
from celery import Task

from imgsvc import ImageService
from imgsvc.bulk import shards
from imgsvc.bulk.config import SHARD_TASK_NAME, BulkConfig, recipe
from imgsvc.bulk.idspace import IdSpace
from imgsvc.bulk.ledger import Ledger
from imgsvc.bulk.shardbook import ShardBook
from imgsvc.bulk.shards import ShardJob, ShardRunner
from imgsvc.describe.description import public_url
from imgsvc.pipeline import PipelineConfig
from imgsvc.storage.s3 import S3Storage

from ..support.servers import stop_process_group
from .test_celery import celery_env, namespace, start
from .test_purge import digests, lines, stale
from .test_reconvert import (  # fixtures among them, used by name
    build_corpus,
    bulk_bucket,
    check_complete,
    env,
    invoke,
    old_service,
    prefix,
    settings_from,
    storage,
    wait_for,
)

__all__ = ["bulk_bucket", "env", "namespace", "old_service", "prefix", "storage"]

SPECS = [(640, 427, "JPEG")] * 6


class Outbox:
    """Stands in for the Celery task: what it publishes is kept, to be run here."""

    def __init__(self) -> None:
        self.app = self
        self.jobs: list[ShardJob] = []

    def send_task(self, name: str, args: list[Any], countdown: float | None = None) -> None:
        assert name == SHARD_TASK_NAME
        self.jobs.append(ShardJob(*args))


def adopted_original(storage: S3Storage, prefix: str, media_id: str, settings: Any) -> set[str]:
    """An adoption is announced as a created set, its original among the changed URLs
    (a new set to a cache; the original's bytes are as they were)."""
    key = check_complete(storage, prefix, media_id)["original"]["key"]
    return {public_url(settings.public_base_url, key)}


def test_segments_hand_on_once_and_count_once_however_often_they_run(
    old_service: ImageService,
    storage: S3Storage,
    env: dict[str, str],
    redis_url: str,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    corpus = build_corpus(old_service, env, SPECS)
    before = digests(storage, corpus.prefix)
    settings = settings_from(celery_env(env, redis_url, namespace))
    runner = ShardRunner(settings, BulkConfig.from_settings(settings))
    ledger = Ledger.connect(redis_url, namespace)
    run = ledger.start(f"{corpus.prefix}/", "all", "fp", mode="shards", shards=16)
    outbox = Outbox()
    for id_prefix in IdSpace().shards(16):
        outbox.jobs.append(
            ShardJob(run, f"{corpus.prefix}/{id_prefix}", None, False, recipe(settings))
        )
    monkeypatch.setattr(shards, "SEGMENT_SHARE", 0.0)  # hand on after every image

    task, ran, redone = cast(Task, outbox), 0, 0
    client = redis.Redis.from_url(redis_url)
    while outbox.jobs:
        job = outbox.jobs.pop(0)
        waiting = len(outbox.jobs)
        runner.run(task, job)
        ran += 1
        if redone < 2 and len(outbox.jobs) > waiting:
            handed_on = list(outbox.jobs)
            runner.run(task, job)  # delivered again after it finished: nothing more
            assert outbox.jobs == handed_on
            segment = f"{job.shard.rpartition('/')[2]}|{job.start_after or ''}"
            client.hdel(f"{namespace}:run:{run}:sent", segment)  # as if it died before that
            runner.run(task, job)  # hands on again, and only that
            assert outbox.jobs[:-1] == handed_on and outbox.jobs[-1] == handed_on[-1]
            redone += 1
    assert redone == 2 and ran > 16  # continuations happened

    status = ledger.status(run)
    progress = ShardBook(ledger).progress(run, 16)
    assert (progress.done, progress.failed, progress.listed) == (16, 0, 1.0)
    assert progress.plan["images"] == len(SPECS) + 4  # current, missing, two orphans
    assert progress.plan["to_do"] == len(SPECS) + 2 == status.total == status.settled
    assert status.counts == {"reconverted": len(SPECS) + 1, "adopted": 1}
    new = PipelineConfig.from_settings(settings).fingerprint
    for media_id in [*corpus.ids, corpus.missing, corpus.orphan_original]:
        assert check_complete(storage, corpus.prefix, media_id)["fingerprint"] == new

    purge = tmp_path / "purge.txt"
    ledger.drain_purge(run, lambda urls: purge.open("a").write("".join(f"{u}\n" for u in urls)))
    expected = stale(before, digests(storage, corpus.prefix), settings.public_base_url)
    expected |= adopted_original(storage, corpus.prefix, corpus.orphan_original, settings)
    got = lines(purge)
    assert sorted(got) == sorted(expected)  # redone segments added nothing twice


def test_workers_plan_the_shards_and_status_and_the_purge_list_follow(
    old_service: ImageService,
    storage: S3Storage,
    env: dict[str, str],
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    corpus = build_corpus(old_service, env, SPECS)
    before = digests(storage, corpus.prefix)
    cenv = celery_env(env, redis_url, namespace)
    ledger = Ledger.connect(redis_url, namespace)

    published = invoke(["reconvert", "--enqueue", "--shards", "16"], cenv)
    assert published.exit_code == 0, published.output
    assert "Published 16 of 16 shards" in published.stdout
    run = ledger.last_run()
    assert run is not None
    worker = start(["worker", "-c", "2"], cenv, tmp_path / "worker.log")
    try:
        book = ShardBook(ledger)
        wait_for(lambda: book.progress(run, 16).done == 16, 90, "every shard planned")
    finally:
        stop_process_group(worker)

    shown = invoke(["reconvert", "--status", f"--purge-list={tmp_path / 'purge.txt'}"], cenv)
    assert shown.exit_code == 0, shown.output
    rows = {line.split()[0]: line.split()[1:] for line in shown.stdout.splitlines()[1:]}
    assert rows["planned"][:5] == ["100%", "(16", "of", "16", "shards"]
    assert rows["examined"][0] == str(len(SPECS) + 4)
    assert rows["done"][0] == str(len(SPECS) + 2) and rows["remaining"][0] == "0"
    assert rows["failed"][0] == "0"
    settings = settings_from(cenv)
    expected = stale(before, digests(storage, corpus.prefix), settings.public_base_url)
    expected |= adopted_original(storage, corpus.prefix, corpus.orphan_original, settings)
    assert sorted(lines(tmp_path / "purge.txt")) == sorted(expected)
    assert rows["purge"][:2] == ["list", str(len(expected))]
    again = invoke(["reconvert", "--status", f"--purge-list={tmp_path / 'purge.txt'}"], cenv)
    assert len(lines(tmp_path / "purge.txt")) == len(expected), again.output  # drained once
