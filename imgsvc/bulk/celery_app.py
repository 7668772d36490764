"""Celery for distributed re-conversion: the app factory, its settings, the task.

The app is built from Settings when a command starts (``imgsvc worker``,
``imgsvc reconvert --enqueue``), never at import time. One task,
``imgsvc.reconvert_batch``, takes a batch of media ids and brings each image up to
date with ``bulk.work.refresh``, which lists, classifies and converts from scratch:
a redelivered or duplicated batch finds its images current and does nothing.

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

import logging
import os
import random
import time
from dataclasses import dataclass, fields
from typing import Any

from celery import Celery, Task
from kombu import Exchange, Queue

from ..errors import ConfigError, ImgsvcError, ServiceUnavailable
from ..pipeline import PipelineConfig
from ..service import ImageService
from ..settings import Settings
from ..storage import create_storage
from .ledger import Ledger
from .work import Outcome, reason, refresh

log = logging.getLogger(__name__)

QUEUE = "reconvert"
TASK_NAME = "imgsvc.reconvert_batch"


@dataclass(frozen=True, slots=True)
class BulkConfig:
    """Knobs of the distributed mode: ``Settings.celery_<name>`` (defaults live there),
    checked together by ``validated``."""

    #: Prefix of every Redis key (kombu's queue and ``unacked`` hash, the run ledger):
    #: two deployments, or two test runs, on one Redis do not see each other.
    namespace: str
    #: Media ids per task message.
    batch_size: int
    #: Messages waiting in the queue beyond which ``--enqueue`` pauses (back-pressure).
    max_queued: int
    #: Hard limit for one batch, in seconds; the child is killed and the batch requeued.
    time_limit: int
    #: Seconds before kombu redelivers a message whose worker vanished. Must exceed
    #: ``time_limit`` and ``retry_backoff_max``, or a slow batch runs twice at once.
    visibility_timeout: int
    #: Seconds between kombu's sweeps of the ``unacked`` hash (throttle fixed at 1).
    restore_interval: int
    #: Attempts at one image that never finished before it is settled as failed.
    max_attempts: int
    #: Retries of a batch while storage is unavailable, with exponential backoff.
    max_retries: int
    retry_backoff: int
    retry_backoff_max: int

    @classmethod
    def from_settings(cls, settings: Settings) -> BulkConfig:
        """The ``celery_*`` settings (TOML keys, or ``IMGSVC_CELERY_*`` variables)."""
        values = {f.name: getattr(settings, f"celery_{f.name}") for f in fields(cls)}
        return cls(**values).validated()

    def validated(self) -> BulkConfig:
        for f in fields(self):
            if f.name != "namespace" and getattr(self, f.name) < 1:
                raise ConfigError(f"IMGSVC_CELERY_{f.name.upper()}: must be at least 1")
        if self.visibility_timeout <= self.time_limit + self.retry_backoff_max:
            raise ConfigError(
                "IMGSVC_CELERY_VISIBILITY_TIMEOUT: must exceed the time limit plus the "
                f"longest retry countdown ({self.time_limit} + {self.retry_backoff_max} s)"
            )
        return self


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
    """The Celery app for these settings, with the task registered on it."""
    bulk = bulk or BulkConfig.from_settings(settings)
    app = Celery("imgsvc", set_as_current=False)
    app.conf.update(celery_config(settings, bulk))
    runner = _BatchRunner(settings, bulk)

    @app.task(name=TASK_NAME, bind=True, max_retries=bulk.max_retries)
    def reconvert_batch(
        task: Task, run_id: str, media_ids: list[str], only_outdated: bool, enqueued_with: str
    ) -> None:
        """Bring each image of the batch up to date; idempotent, safe to redeliver."""
        runner.run(task, run_id, media_ids, only_outdated, enqueued_with)

    return app


def recipe(settings: Settings) -> str:
    """What enqueuer and workers must agree on: the conversion settings and the store.

    A worker with other sizes would "re-convert" to stale settings, and one pointed
    at another bucket or prefix would find every image gone; both refuse instead.
    """
    store = settings.s3_bucket if settings.storage == "s3" else "file"
    fingerprint = PipelineConfig.from_settings(settings).fingerprint
    return f"{fingerprint} {settings.storage}:{store}/{settings.key_prefix}"


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


class _BatchRunner:
    """The task body, with the per-process service and ledger it needs.

    Both are built lazily in each pool process, after the fork: a boto3 client or
    a Redis connection must not be shared across processes.
    """

    def __init__(self, settings: Settings, bulk: BulkConfig) -> None:
        self.settings = settings
        self.bulk = bulk
        self.recipe = recipe(settings)
        self._pid = -1
        self._service: ImageService | None = None
        self._ledger: Ledger | None = None

    def _resources(self) -> tuple[ImageService, Ledger]:
        if self._pid != os.getpid() or self._service is None or self._ledger is None:
            self._service = ImageService(self.settings, create_storage(self.settings))
            self._ledger = Ledger.connect(self.settings.broker_url, self.bulk.namespace)
            self._pid = os.getpid()
        return self._service, self._ledger

    def run(
        self, task: Task, run_id: str, media_ids: list[str], only_outdated: bool, enqueued_with: str
    ) -> None:
        service, ledger = self._resources()
        if enqueued_with != self.recipe:
            why = (
                f"worker settings ({self.recipe}) differ from the enqueuer's ({enqueued_with}):"
                " give every worker the same settings, then enqueue again"
            )
            for media_id in media_ids:
                ledger.settle(run_id, media_id, Outcome.FAILED, why)
            return
        for index, media_id in enumerate(media_ids):
            if ledger.is_settled(run_id, media_id):
                continue  # a redelivery: done before the worker was lost
            attempt = ledger.begin(run_id, media_id)
            if attempt > self.bulk.max_attempts:
                why = f"gave up: {attempt - 1} attempts never finished (worker killed or timed out)"
                ledger.settle(run_id, media_id, Outcome.FAILED, why)
                continue
            started = time.monotonic()
            try:
                outcome = refresh(service, media_id, only_outdated)
            except ServiceUnavailable as exc:  # storage down: the same batch, later
                ledger.abandon(run_id, media_id)
                self._retry(task, ledger, run_id, media_ids[index:], only_outdated, exc)
                return
            except ImgsvcError as exc:  # refused or corrupt: it would fail the same way again
                ledger.settle(run_id, media_id, Outcome.FAILED, reason(exc))
                log.warning("%s: %s", media_id, reason(exc))
                continue
            except Exception as exc:  # unexpected: a few more attempts, then failed
                log.exception("%s: attempt %d failed", media_id, attempt)
                if attempt >= self.bulk.max_attempts:
                    ledger.settle(run_id, media_id, Outcome.FAILED, reason(exc))
                    continue
                self._retry(task, ledger, run_id, media_ids[index:], only_outdated, exc)
                return
            ledger.settle(run_id, media_id, outcome)
            log.info("%s: %s in %.1fs", media_id, outcome, time.monotonic() - started)

    def _retry(
        self,
        task: Task,
        ledger: Ledger,
        run_id: str,
        remaining: list[str],
        only_outdated: bool,
        exc: Exception,
    ) -> None:
        """Publish the rest of the batch again after a jittered backoff (raises ``Retry``).

        Once the retries are spent, the rest is settled as failed instead. Full
        jitter (a uniform draw up to the exponential bound) spreads the retries of
        many workers that all saw the same outage.
        """
        retries = task.request.retries
        if retries >= self.bulk.max_retries:
            for media_id in remaining:
                why = f"{reason(exc)} (still failing after {retries} retries)"
                ledger.settle(run_id, media_id, Outcome.FAILED, why)
            return
        bound = min(self.bulk.retry_backoff_max, self.bulk.retry_backoff * 2**retries)
        countdown = random.uniform(self.bulk.retry_backoff / 2, bound)
        args = [run_id, remaining, only_outdated, self.recipe]
        raise task.retry(args=args, countdown=countdown, exc=exc)
