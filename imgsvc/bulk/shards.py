"""``plan_shard``: a worker lists, classifies and converts one shard of the id space.

``reconvert --enqueue --shards N`` publishes N tasks, one per prefix of leading
hex digits of the media id, instead of listing in the enqueuing process; planning
then scales with the workers as converting does. A task lists its shard from a
cursor, classifies in ``classify_threads`` threads as a local run does, and
converts each image that needs it right there (``tasks.settle_one``: attempts
counted, settled once, purge URLs recorded). After ``SEGMENT_SHARE`` of the task
time limit it stops at an image boundary, records the segment (``shardbook``)
and publishes a task for the rest of the shard: no task runs near the hard limit
however large the shard, and a killed one redoes at most one segment, whose
already settled images it skips.

Storage errors end the segment at the last image done and publish the rest with
the batch tasks' jittered backoff; a shard still failing after ``max_retries``
is reported by ``--status`` (enqueue again with ``--prefix`` to finish it).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, fields, replace

from celery import Task

from ..errors import ServiceUnavailable
from ..storage.keys import layout_base
from .config import SHARD_TASK_NAME
from .idspace import after_image, id_prefix_of
from .ledger import Ledger
from .scan import Finding, Listing, Plan, State, classify_stream
from .shardbook import DONE, Segment, ShardBook
from .tasks import Resources, settle_one
from .work import Done, Outcome, act_collecting, reason

log = logging.getLogger(__name__)

#: The share of ``task_time_limit`` one segment may run before it hands on.
SEGMENT_SHARE = 0.25


@dataclass(frozen=True, slots=True)
class ShardJob:
    """What one ``plan_shard`` message asks: its arguments, in order."""

    run_id: str
    shard: str
    start_after: str | None
    only_outdated: bool
    enqueued_with: str
    retries: int = 0

    def args(self) -> list[object]:
        return [getattr(self, f.name) for f in fields(self)]

    def send(self, task: Task, countdown: float = 0.0) -> None:
        task.app.send_task(SHARD_TASK_NAME, args=self.args(), countdown=countdown or None)


class ShardRunner(Resources):
    def run(self, task: Task, job: ShardJob) -> None:
        service, ledger = self._resources()
        book = ShardBook(ledger)
        base = layout_base(self.settings.key_prefix)
        id_prefix = id_prefix_of(job.shard, base) or ""
        segment: Segment = (id_prefix, job.start_after or "")
        if why := self.mismatch(job.enqueued_with):
            book.fail_shard(job.run_id, id_prefix, why)
            book.complete(job.run_id, segment, "", "", Plan(), failed=why)
            return
        handed_on = book.completed(job.run_id, segment)
        if handed_on is not None:  # a redelivery of a segment that was completed
            if handed_on and not book.is_sent(job.run_id, segment):
                replace(job, start_after=handed_on, retries=0).send(task)
                book.mark_sent(job.run_id, segment)
            return
        plan, cursor, last_id = Plan(), job.start_after, ""
        deadline = time.monotonic() + self.bulk.time_limit * SEGMENT_SHARE
        listing = Listing(service.storage, self.settings.key_prefix, job.shard, job.start_after)
        findings = classify_stream(service, listing, self.settings.classify_threads)
        error: Exception | None = None
        finished = False
        try:
            for finding in findings:
                error = self._one(ledger, job, finding, plan)
                if error is not None:
                    break
                cursor, last_id = after_image(base, finding.media_id), finding.media_id
                if time.monotonic() > deadline:
                    break
            else:
                finished = True
        except ServiceUnavailable as exc:  # the listing itself failed
            error = exc
        finally:
            findings.close()
        if finished:
            book.complete(job.run_id, segment, "", DONE, plan)
        elif cursor != job.start_after:  # out of time, or a failure after some progress
            if book.complete(job.run_id, segment, cursor or "", last_id, plan):
                wait = 0.0 if error is None else self.countdown(0)
                replace(job, start_after=cursor, retries=int(error is not None)).send(task, wait)
                book.mark_sent(job.run_id, segment)
        elif error is not None and job.retries < self.bulk.max_retries:  # no progress: again
            log.warning("shard %s: %s; retrying", job.shard, reason(error))
            replace(job, retries=job.retries + 1).send(task, self.countdown(job.retries))
        elif error is not None:
            why = f"{reason(error)} (still failing after {job.retries} retries)"
            log.error("shard %s: %s", job.shard, why)
            book.fail_shard(job.run_id, id_prefix, why)
            book.complete(job.run_id, segment, "", "", plan, failed=why)

    def _one(self, ledger: Ledger, job: ShardJob, finding: Finding, plan: Plan) -> Exception | None:
        """Plan one image and convert it if this run wants it; the error to retry on."""
        service = self._resources()[0]
        if finding.state is State.UNREADABLE:
            ledger.settle(job.run_id, finding.media_id, Outcome.FAILED, finding.detail)
            plan.add(finding, True)  # to be settled by this run, as a failure
            return None
        wanted = finding.wanted(job.only_outdated)
        if wanted:

            def work() -> Done:
                return act_collecting(service, finding)

            error = settle_one(service, ledger, self.bulk, job.run_id, finding.media_id, work)
            if error is not None:
                return error
        plan.add(finding, wanted)
        return None
