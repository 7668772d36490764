"""``imgsvc reconvert --enqueue``: the same scan as a local run, published to Celery;
or, with ``--shards N``, only the shards, each listed by a worker (``ShardEnqueuer``).

The listing streams and is classified exactly as in a local run; instead of a
process pool, the images that need work are published in batches of media ids.
Before each batch the queue's length is read, and publishing waits while it is
at ``max_queued``: the queue never holds more than that, whatever the bucket's
size, and a run enqueued against stopped workers simply pauses.

The run's counters (``ledger``) let ``--status`` say what is done, failed and
left. Workers check every image again before converting it, so enqueueing while
an earlier run is still draining costs only duplicate manifest reads.
"""

from __future__ import annotations

import time

from ..errors import ConfigError
from ..service import ImageService
from ..storage.keys import layout_base
from .celery_app import QUEUE, SHARD_TASK_NAME, TASK_NAME, BulkConfig, create_celery, recipe
from .idspace import IdSpace, id_prefix_of
from .ledger import Ledger
from .local import LocalRun, RunOptions, Summary
from .progress import Progress
from .report import plan_lines
from .scan import Finding
from .shards import ShardJob

#: How long to sleep between looks at a full queue.
BACKPRESSURE_POLL = 0.5


class Enqueuer(LocalRun):
    def __init__(
        self,
        service: ImageService,
        options: RunOptions,
        progress: Progress,
        bulk: BulkConfig | None = None,
    ) -> None:
        super().__init__(service, options, progress)
        settings = service.settings
        self.bulk = bulk or BulkConfig.from_settings(settings)
        self.recipe = recipe(settings)
        self.app = create_celery(settings, self.bulk)
        self.ledger = Ledger.connect(settings.broker_url, self.bulk.namespace)
        self.prefix = layout_base(settings.key_prefix) if options.prefix is None else options.prefix
        selection = "outdated" if options.only_outdated else "outdated, missing, orphaned"
        self.run_id = self.ledger.start(self.prefix, selection, service.fingerprint)
        self.enqueued = 0
        self.batches = 0
        self.waited = 0.0
        self._batch: list[str] = []

    def _warm_up(self) -> None:
        """No pool here: the workers are elsewhere."""

    def _submit(self, finding: Finding) -> None:
        self._batch.append(finding.media_id)
        self._submitted += 1
        self.progress.advance()
        if len(self._batch) >= self.bulk.batch_size:
            self._publish()

    def _publish(self) -> None:
        batch, self._batch = self._batch, []
        if not batch:
            return
        while self.ledger.queue_length(QUEUE) >= self.bulk.max_queued:
            time.sleep(BACKPRESSURE_POLL)  # the workers are behind: wait for room
            self.waited += BACKPRESSURE_POLL
        # Count before publishing: a worker may settle the batch before send_task returns.
        self.ledger.add_total(self.run_id, len(batch))
        self.app.send_task(
            TASK_NAME, args=[self.run_id, batch, self.options.only_outdated, self.recipe]
        )
        self.enqueued += len(batch)
        self.batches += 1

    def _finish(self) -> None:
        self._publish()
        self.ledger.finish(self.run_id, "done")

    def _terminate(self) -> None:
        self.ledger.finish(self.run_id, "interrupted")

    def _shutdown(self) -> None:
        self.app.close()

    def report_lines(self, summary: Summary) -> list[str]:
        opts = self.options
        plan = plan_lines(summary.plan, self.prefix, summary.ignored_keys, opts.only_outdated)
        head = "Interrupted: " if summary.interrupted else ""
        return [
            f"{head}Enqueued {self.enqueued} images in {self.batches} batches as run {self.run_id}"
            f" (waited {self.waited:.0f}s for room in the queue).",
            "Follow it with: imgsvc reconvert --status",
            *plan[1:],
        ]


class ShardEnqueuer:
    """Publish one ``plan_shard`` task per prefix of leading id digits, and nothing else.

    Listing and classifying are the workers' (``shards``): this process sends a few
    hundred small messages and is done in a second, whatever the store's size.
    Back-pressure is not needed: a shard task publishes no conversion tasks.
    """

    def __init__(
        self, service: ImageService, options: RunOptions, shards: int, bulk: BulkConfig | None
    ) -> None:
        """Raises ``ConfigError`` when the prefix cannot be cut in ``shards``."""
        settings = service.settings
        self.options = options
        self.base = layout_base(settings.key_prefix)
        self.prefix = self.base if options.prefix is None else options.prefix
        found = id_prefix_of(self.prefix, self.base)
        if found is None:
            raise ConfigError(f"--prefix {self.prefix!r} is not a prefix of media ids to shard")
        try:
            self.shards = [f"{self.base}{p}" for p in IdSpace(found).shards(shards)]
        except ValueError as exc:
            raise ConfigError(f"--shards {shards}: {exc}") from exc
        self.bulk = bulk or BulkConfig.from_settings(settings)
        self.recipe = recipe(settings)
        self.app = create_celery(settings, self.bulk)
        self.ledger = Ledger.connect(settings.broker_url, self.bulk.namespace)
        selection = "outdated" if options.only_outdated else "outdated, missing, orphaned"
        self.run_id = self.ledger.start(
            self.prefix, selection, service.fingerprint, mode="shards", shards=shards
        )
        self.published = 0

    def run(self) -> bool:
        """Publish every shard; False when interrupted part-way (the run says so)."""
        try:
            for shard in self.shards:
                job = ShardJob(self.run_id, shard, None, self.options.only_outdated, self.recipe)
                self.app.send_task(SHARD_TASK_NAME, args=job.args())
                self.published += 1
        except KeyboardInterrupt:
            self.ledger.finish(self.run_id, "interrupted")
            return False
        finally:
            self.app.close()
        self.ledger.finish(self.run_id, "done")
        return True

    def report_lines(self) -> list[str]:
        head = "" if self.published == len(self.shards) else "Interrupted: "
        return [
            f"{head}Published {self.published} of {len(self.shards)} shards of {self.prefix}"
            f" as run {self.run_id}; the workers list, classify and convert them.",
            "Follow it with: imgsvc reconvert --status",
        ]
