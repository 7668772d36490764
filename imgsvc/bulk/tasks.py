"""The bodies of the Celery tasks, and the handling of one image that both share.

``reconvert_batch`` (``BatchRunner``) takes a batch of media ids and brings each
image up to date with ``work.refresh``, which lists, classifies and converts from
scratch: a redelivered or duplicated batch finds its images current and does
nothing. ``plan_shard`` (``shards.ShardRunner``) lists and classifies a shard of
the id space itself and converts what needs it through the same ``settle_one``.

Per-image attempts are counted in Redis (``ledger``) because no redelivery after
a kill increases Celery's retry count: an image whose attempts never finish (it
kills its worker, or hangs) is settled as failed after ``max_attempts``.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable

from celery import Task

from ..errors import ImgsvcError, ServiceUnavailable
from ..service import ImageService
from ..settings import Settings
from ..storage import create_storage
from .config import BulkConfig, recipe
from .ledger import Ledger
from .work import Done, Outcome, reason, refresh

log = logging.getLogger(__name__)


class Resources:
    """The per-process service and ledger of a task body.

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
            _close_at_exit(self._service)
        return self._service, self._ledger

    def mismatch(self, enqueued_with: str) -> str:
        """Why this worker refuses work enqueued with another recipe ("" if it does not)."""
        if enqueued_with == self.recipe:
            return ""
        return (
            f"worker settings ({self.recipe}) differ from the enqueuer's ({enqueued_with}):"
            " give every worker the same settings, then enqueue again"
        )

    def countdown(self, retries: int) -> float:
        """Full jitter (a uniform draw up to the exponential bound): the retries of
        many workers that all saw the same outage spread out."""
        bound = min(self.bulk.retry_backoff_max, self.bulk.retry_backoff * 2**retries)
        return random.uniform(self.bulk.retry_backoff / 2, bound)


def _close_at_exit(service: ImageService) -> None:
    """A prefork child ends with os._exit, past atexit: Celery's shutdown signal is
    the last moment its pending webhooks can go out (``ImageService.close``)."""
    from celery.signals import worker_process_shutdown

    worker_process_shutdown.connect(lambda **_: service.close(), weak=False)


def settle_one(
    service: ImageService,
    ledger: Ledger,
    bulk: BulkConfig,
    run_id: str,
    media_id: str,
    work: Callable[[], Done],
) -> Exception | None:
    """Do ``work`` for one image and settle it in the ledger with the URLs it made
    stale (the settlement and the URLs land together, once).

    Returns None when the image is settled (now or before), or the error for which
    it must be tried again later (storage unavailable, or an unexpected error with
    attempts left); the caller then retries from this image.
    """
    if ledger.is_settled(run_id, media_id):
        return None  # a redelivery: done before the worker was lost
    attempt = ledger.begin(run_id, media_id)
    if attempt > bulk.max_attempts:
        why = f"gave up: {attempt - 1} attempts never finished (worker killed or timed out)"
        ledger.settle(run_id, media_id, Outcome.FAILED, why)
        return None
    started = time.monotonic()
    try:
        outcome, urls = work()
    except ServiceUnavailable as exc:  # storage down: the same image, later
        ledger.abandon(run_id, media_id)
        return exc
    except ImgsvcError as exc:  # refused or corrupt: it would fail the same way again
        ledger.settle(run_id, media_id, Outcome.FAILED, reason(exc))
        log.warning("%s: %s", media_id, reason(exc))
        return None
    except Exception as exc:  # unexpected: a few more attempts, then failed
        log.exception("%s: attempt %d failed", media_id, attempt)
        if attempt < bulk.max_attempts:
            return exc
        ledger.settle(run_id, media_id, Outcome.FAILED, reason(exc))
        return None
    ledger.settle(run_id, media_id, outcome, urls=urls)
    log.info("%s: %s in %.1fs", media_id, outcome, time.monotonic() - started)
    return None


class BatchRunner(Resources):
    def run(
        self, task: Task, run_id: str, media_ids: list[str], only_outdated: bool, enqueued_with: str
    ) -> None:
        service, ledger = self._resources()
        if why := self.mismatch(enqueued_with):
            for media_id in media_ids:
                ledger.settle(run_id, media_id, Outcome.FAILED, why)
            return
        for index, media_id in enumerate(media_ids):

            def work(media_id: str = media_id) -> Done:
                return refresh(service, media_id, only_outdated)

            error = settle_one(service, ledger, self.bulk, run_id, media_id, work)
            if error is not None:
                self._retry(task, ledger, run_id, media_ids[index:], only_outdated, error)
                return

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

        Once the retries are spent, the rest is settled as failed instead.
        """
        retries = task.request.retries
        if retries >= self.bulk.max_retries:
            for media_id in remaining:
                why = f"{reason(exc)} (still failing after {retries} retries)"
                ledger.settle(run_id, media_id, Outcome.FAILED, why)
            return
        args = [run_id, remaining, only_outdated, self.recipe]
        raise task.retry(args=args, countdown=self.countdown(retries), exc=exc)
