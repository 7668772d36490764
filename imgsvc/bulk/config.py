"""The distributed mode's knobs, and the recipe enqueuer and workers must share.

Apart from the Celery app (``celery_app``) so that the task bodies (``tasks``)
can read them without importing the app that registers them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..errors import ConfigError
from ..pipeline import PipelineConfig
from ..settings import Settings

QUEUE = "reconvert"
TASK_NAME = "imgsvc.reconvert_batch"
SHARD_TASK_NAME = "imgsvc.plan_shard"


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


def recipe(settings: Settings) -> str:
    """What enqueuer and workers must agree on: the conversion settings and the store.

    A worker with other sizes would "re-convert" to stale settings, and one pointed
    at another bucket or prefix would find every image gone; both refuse instead.
    """
    store = settings.s3_bucket if settings.storage == "s3" else "file"
    fingerprint = PipelineConfig.from_settings(settings).fingerprint
    return f"{fingerprint} {settings.storage}:{store}/{settings.key_prefix}"
