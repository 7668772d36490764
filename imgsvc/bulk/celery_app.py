"""Celery for distributed re-conversion: the app factory, its settings, the tasks.

The app is built from Settings when a command starts (``imgsvc worker``,
``imgsvc reconvert --enqueue``), never at import time. Two tasks, whose bodies
live in ``tasks`` and ``shards``: ``imgsvc.reconvert_batch`` brings a batch of
media ids up to date, and ``imgsvc.plan_shard`` lists, classifies and converts a
shard of the id space (``--enqueue --shards N``). Both are idempotent: a
redelivered or duplicated task finds its images settled or current.

What keeps a SIGKILLed worker from losing work (see ``celery_config``): messages
are acknowledged only after the task (``task_acks_late``), requeued when the
worker process dies (``task_reject_on_worker_lost``) or hits the hard time limit
(``task_acks_on_timeout=False``), and restored by kombu from the ``unacked`` hash
once ``visibility_timeout`` has passed when the whole worker died. Per-image
attempts are counted in Redis (``bulk.ledger``) because none of those
redeliveries increases Celery's retry count: an image whose attempts never finish
(it kills its worker, or hangs) is settled as failed after ``max_attempts``.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task
from kombu import Exchange, Queue

from ..settings import Settings
from .config import QUEUE, SHARD_TASK_NAME, TASK_NAME, BulkConfig, recipe
from .shards import ShardJob, ShardRunner
from .tasks import BatchRunner

__all__ = [
    "QUEUE",
    "SHARD_TASK_NAME",
    "TASK_NAME",
    "BulkConfig",
    "celery_config",
    "create_celery",
    "recipe",
    "run_worker",
]


def celery_config(settings: Settings, bulk: BulkConfig) -> dict[str, Any]:
    """The Celery settings; each one is here because losing an image is worse than redoing it."""
    queue = Queue(QUEUE, Exchange(QUEUE, type="direct"), routing_key=QUEUE)
    return {
        "broker_url": settings.broker_url,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            "visibility_timeout": bulk.visibility_timeout,
            "global_keyprefix": f"{bulk.namespace}:",
            "unacked_restore_interval": bulk.restore_interval,
            "unacked_restore_throttle": 1,
        },
        "task_queues": (queue,),
        "task_default_queue": QUEUE,
        "task_default_exchange": QUEUE,
        "task_default_routing_key": QUEUE,
        "task_serializer": "json",
        "accept_content": ["json"],
        # Outcomes go to the run ledger; a result backend would only duplicate them.
        "task_ignore_result": True,
        # Ack after the task, requeue when its process dies or overruns the hard limit.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_timeout": False,
        "task_time_limit": bulk.time_limit,
        # One message per child process: a killed worker strands no prefetched batches.
        "worker_prefetch_multiplier": 1,
        # Redelivered anyway after a broker outage; do not keep converting meanwhile.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
    }


def create_celery(settings: Settings, bulk: BulkConfig | None = None) -> Celery:
    """The Celery app for these settings, with the tasks registered on it."""
    bulk = bulk or BulkConfig.from_settings(settings)
    app = Celery("imgsvc", set_as_current=False)
    app.conf.update(celery_config(settings, bulk))
    batches, shards = BatchRunner(settings, bulk), ShardRunner(settings, bulk)

    @app.task(name=TASK_NAME, bind=True, max_retries=bulk.max_retries)
    def reconvert_batch(
        task: Task, run_id: str, media_ids: list[str], only_outdated: bool, enqueued_with: str
    ) -> None:
        """Bring each image of the batch up to date; idempotent, safe to redeliver."""
        batches.run(task, run_id, media_ids, only_outdated, enqueued_with)

    @app.task(name=SHARD_TASK_NAME, bind=True)
    def plan_shard(task: Task, *args: Any) -> None:
        """List, classify and convert a shard from a cursor, then hand on the rest;
        the arguments are a ``ShardJob``'s, in order."""
        shards.run(task, ShardJob(*args))

    return app


def run_worker(settings: Settings, bulk: BulkConfig, concurrency: int, loglevel: str) -> None:
    """Run a prefork worker on the reconvert queue until it is stopped."""
    app = create_celery(settings, bulk)
    app.worker_main(
        [
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            f"--queues={QUEUE}",
            f"--loglevel={loglevel}",
            f"--hostname=imgsvc-{os.getpid()}@%h",
            # Nothing here needs worker-to-worker chatter; it only costs broker traffic.
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )
