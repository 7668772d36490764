"""``imgsvc reconvert --workers N``: a process pool on one machine.

The listing streams in this process, a few threads classify (manifest GETs), and
only the images that need work go to N worker processes, at most two per worker
in flight, so neither the listing nor the queue of work is ever held in memory.
Each worker builds its own service and storage client from the (picklable)
Settings: boto3 clients must not cross a process boundary.

Interrupting is safe at any instant because the service writes the manifest last:
the pool is terminated, what finished is summarised, and the next run picks up
what did not. A worker process that dies (OOM killer, a crashing decoder) breaks
the pool; the images it had in flight are then retried one at a time in a fresh
pool, so that only the image that kills its worker is reported.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from ..service import ImageService
from ..settings import Settings
from ..storage import create_storage
from .idspace import IdSpace, id_prefix_of
from .progress import Progress
from .purge import PurgeList
from .scan import Finding, Listing, Plan, State, classify_stream
from .work import Outcome, Result, act_collecting, reason

#: Failures kept for the summary; every one is printed on stderr as it happens.
KEPT_FAILURES = 20
#: Images in flight per worker process: enough to keep it busy between results.
IN_FLIGHT_PER_WORKER = 2
#: Images between two updates of the estimated total.
ESTIMATE_EVERY = 64


@dataclass(frozen=True, slots=True)
class RunOptions:
    prefix: str | None = None
    workers: int = 1
    only_outdated: bool = False
    dry_run: bool = False
    #: Re-convert at most this many images, then stop (a trial run).
    limit: int | None = None
    #: Threads reading manifests; None: ``Settings.classify_threads``.
    classify_threads: int | None = None


@dataclass
class Summary:
    plan: Plan = field(default_factory=Plan)
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    failures: list[Result] = field(default_factory=list)
    ignored_keys: int = 0
    interrupted: bool = False
    limit_reached: bool = False
    elapsed: float = 0.0

    @property
    def failed(self) -> int:
        return self.outcomes[Outcome.FAILED]

    def record(self, result: Result) -> None:
        self.outcomes[result.outcome] += 1
        if result.outcome is Outcome.FAILED and len(self.failures) < KEPT_FAILURES:
            self.failures.append(result)


class LocalRun:
    """One run over a listing; ``run()`` returns its summary, even when interrupted."""

    def __init__(
        self,
        service: ImageService,
        options: RunOptions,
        progress: Progress,
        purge: PurgeList | None = None,
    ) -> None:
        self.service = service
        self.options = options
        self.progress = progress
        self.purge = purge
        self.summary = Summary()
        self._executor: ProcessPoolExecutor | None = None
        self._inflight: dict[Future[Result], Finding] = {}
        self._submitted = 0
        self._space: IdSpace | None = None

    def run(self) -> Summary:
        """Raises ``StorageUnavailable`` when the listing itself fails, and
        ``PurgeListError`` when the purge list cannot be written."""
        started = time.monotonic()
        settings = self.service.settings
        listing = Listing(self.service.storage, settings.key_prefix, self.options.prefix)
        found = id_prefix_of(listing.prefix, listing.base)
        self._space = None if found is None else IdSpace(found)
        threads = self.options.classify_threads or settings.classify_threads
        findings = classify_stream(self.service, listing, threads)
        try:
            if not self.options.dry_run:
                self._warm_up()
            self._consume(findings)
            self.progress.set_total(self.summary.plan.images)  # the listing is over: exact
            self._finish()
        except KeyboardInterrupt:
            self.summary.interrupted = True
            self._terminate()
        finally:
            findings.close()
            self._shutdown()
            self.summary.ignored_keys = listing.ignored
            self.summary.elapsed = time.monotonic() - started
            self.progress.close()
        return self.summary

    def _consume(self, findings: Iterator[Finding]) -> None:
        opts = self.options
        for finding in findings:
            wanted = finding.state is not State.UNREADABLE and finding.wanted(opts.only_outdated)
            if wanted and opts.limit is not None and self._submitted >= opts.limit:
                self.summary.limit_reached = True
                return
            self.summary.plan.add(finding, wanted)
            if self.summary.plan.images % ESTIMATE_EVERY == 0:
                self._estimate(finding.media_id)
            if finding.state is State.UNREADABLE:
                self._settle(Result(finding.media_id, Outcome.FAILED, finding.detail))
            elif wanted and not opts.dry_run:
                self._submit(finding)
            else:
                self.progress.advance()
            if self._inflight:
                self._collect(block=False)

    def _finish(self) -> None:
        while self._inflight:
            self._collect(block=True)

    def _estimate(self, last_id: str) -> None:
        """Show the total as estimated from the id space listed so far; with
        ``--limit``, from the share of the images examined that were wanted too."""
        if self._space is None:
            return  # a prefix inside one image: nothing worth estimating
        plan, limit = self.summary.plan, self.options.limit
        total = self._space.estimate(plan.images, last_id)
        if total is not None and limit is not None and plan.to_do:
            total = min(total, round(plan.images * limit / plan.to_do))
        if total is not None:
            self.progress.set_total(total, estimated=True)

    # -- the pool -----------------------------------------------------------------

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self.options.workers,
                # spawn, not fork: this process runs threads (classification, boto3)
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.service.settings,),
            )
        return self._executor

    def _warm_up(self) -> None:
        """Start every worker now, so that their imports overlap the first manifest reads."""
        pool = self._pool()
        for _ in range(self.options.workers):
            pool.submit(_ready)

    def _submit(self, finding: Finding) -> None:
        while len(self._inflight) >= self.options.workers * IN_FLIGHT_PER_WORKER:
            self._collect(block=True)
        self._inflight[self._pool().submit(_work, finding)] = finding
        self._submitted += 1

    def _collect(self, *, block: bool) -> None:
        done, _ = wait(self._inflight, timeout=None if block else 0, return_when=FIRST_COMPLETED)
        broken: list[Finding] = []
        for future in done:
            finding = self._inflight.pop(future)
            try:
                self._settle(future.result())
            except BrokenProcessPool:
                broken.append(finding)
        if broken:
            self._isolate([*broken, *self._inflight.values()])

    def _isolate(self, suspects: list[Finding]) -> None:
        """A worker died: retry its pool's images one by one to find the culprit."""
        self._inflight.clear()
        self._shutdown()
        for finding in suspects:
            try:
                result = self._pool().submit(_work, finding).result()
            except BrokenProcessPool:
                result = Result(
                    finding.media_id,
                    Outcome.FAILED,
                    "the worker process died converting it (killed, out of memory, or crashed)",
                )
                self._shutdown()
            self._settle(result)

    def _settle(self, result: Result) -> None:
        if self.purge is not None:
            self.purge.add(result.urls)
        self.summary.record(result)
        failed = result.outcome is Outcome.FAILED
        if failed:
            self.progress.note(f"{result.media_id}: {result.reason}")
        self.progress.advance(failed=failed)

    def _terminate(self) -> None:
        """Stop the workers now; their half-written sets are invisible (no manifest)."""
        executor = self._executor
        if executor is None:
            return
        terminate = getattr(executor, "terminate_workers", None)  # Python >= 3.14
        if terminate is not None:
            terminate()
            return
        processes = list((getattr(executor, "_processes", None) or {}).values())
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(5)

    def _shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


# -- inside a worker process ---------------------------------------------------------

#: The worker process's service, built once by the pool initializer.
_worker_service: ImageService | None = None


def _init_worker(settings: Settings) -> None:
    """Build this process's service; leave Ctrl-C to the parent, which terminates us."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _worker_service
    _worker_service = ImageService(settings, create_storage(settings))


def _ready() -> None:
    """Nothing: submitting it makes the pool start a worker process."""


def _work(finding: Finding) -> Result:
    """Never raises: a failure is a result, so that one image cannot stop the run."""
    assert _worker_service is not None, "the pool initializer did not run"
    try:
        outcome, urls = act_collecting(_worker_service, finding)
    except Exception as exc:
        return Result(finding.media_id, Outcome.FAILED, reason(exc))
    return Result(finding.media_id, outcome, urls=urls)
