"""``imgsvc reconvert`` and ``imgsvc worker``: the bulk commands.

Thin: options are parsed and checked here, the work is in ``imgsvc.bulk`` (local
pool, enqueueing) and ``imgsvc.bulk.celery_app`` (Celery). Celery is imported only by the
commands that need it, so a plain install runs local re-conversions without it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

import click

from ..bulk.idspace import SHARD_COUNTS
from ..bulk.local import LocalRun, RunOptions, Summary
from ..bulk.progress import make_progress
from ..bulk.purge import PurgeList
from ..bulk.report import failure_lines, plan_lines, summary_lines
from ..errors import ImgsvcError
from ..storage.keys import layout_base

if TYPE_CHECKING:
    from ..bulk.ledger import Ledger
    from .context import Context

#: The shell's convention for "ended by SIGINT".
EXIT_INTERRUPTED = 130
#: Shards of ``--shards`` without a count: the tail of a run (its last shard) is
#: 0.4 % of the work, and up to 256 worker processes all have a shard to plan;
#: 4096 for larger fleets, 16 to keep the run's messages few.
DEFAULT_SHARDS = 256


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@click.command()
@click.option(
    "--prefix",
    metavar="P",
    help="Only keys starting with P (default: '{key_prefix}/'); "
    "e.g. 'news-by/0' for the media ids starting with 0.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Worker processes for a local run (default: one per CPU).",
)
@click.option(
    "--only-outdated",
    is_flag=True,
    help="Re-convert outdated images only (default: also missing conversions "
    "and orphaned originals).",
)
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    metavar="K",
    help="Re-convert (or enqueue) at most K images, then stop.",
)
@click.option(
    "--enqueue",
    is_flag=True,
    help="Publish the work to Celery workers ($IMGSVC_BROKER_URL) instead of converting here.",
)
@click.option(
    "--shards",
    type=int,
    is_flag=False,
    flag_value=DEFAULT_SHARDS,
    metavar="[N]",
    help=f"With --enqueue: publish N shards of the id space (16, 256 or 4096; "
    f"{DEFAULT_SHARDS} when N is left out) that the workers list, classify and "
    "convert themselves, instead of listing here.",
)
@click.option(
    "--purge-list",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Append the public URL of every object whose bytes changed or that was removed "
    "to FILE, one a line, as the run goes. With --status: drain the URLs the workers "
    "recorded for the last enqueued run.",
)
@click.option(
    "--status", "show_status", is_flag=True, help="Show the counters of the last enqueued run."
)
@click.pass_obj
def reconvert(
    obj: Context,
    prefix: str | None,
    workers: int | None,
    only_outdated: bool,
    dry_run: bool,
    limit: int | None,
    enqueue: bool,
    shards: int | None,
    purge_list: Path | None,
    show_status: bool,
) -> None:
    """Re-convert stored images with the current settings.

    Lists the storage page by page and re-converts, from the stored original,
    every image whose conversions are outdated or missing, and every original
    that has no manifest. Originals are never modified. Safe to interrupt and to
    run again: a second run has nothing to do. Exits 1 when an image failed,
    130 when interrupted.
    """
    if show_status:
        if enqueue or dry_run or only_outdated or limit or prefix or workers or shards:
            raise click.UsageError("--status takes no other option than --purge-list")
        try:
            _print_status(obj, purge_list)
        except ImgsvcError as exc:  # a Celery knob out of range, Redis away, a bad FILE
            _stop(exc)
        return
    _check(dry_run, limit, enqueue, shards, purge_list)
    options = RunOptions(prefix, workers or default_workers(), only_outdated, dry_run, limit)
    if enqueue and shards is not None:
        _publish_shards(obj, options, shards)
        return
    shown_prefix = layout_base(obj.settings.key_prefix) if prefix is None else prefix
    progress = make_progress("enqueue" if enqueue and not dry_run else "reconvert")
    with _interrupts_raise_keyboard_interrupt():
        purge = None
        try:
            purge = PurgeList(purge_list) if purge_list is not None else None
            if enqueue and not dry_run:
                from ..bulk.enqueue import Enqueuer

                enqueuer = Enqueuer(obj.service, options, progress)
                summary = enqueuer.run()
                click.echo("\n".join(enqueuer.report_lines(summary)))
            else:
                summary = LocalRun(obj.service, options, progress, purge).run()
                _print_run(summary, options, shown_prefix)
            if purge is not None:
                purge.close()
                click.echo(
                    f"  {'purge list':<20} {purge.written:>8}   (URLs appended to {purge.path})"
                )
        except ImgsvcError as exc:  # the listing failed, or the purge list cannot be written
            _stop(exc)
        finally:
            if purge is not None:
                purge.close()
    if summary.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    if summary.failed:
        sys.exit(1)


def _check(
    dry_run: bool, limit: int | None, enqueue: bool, shards: int | None, purge: Path | None
) -> None:
    """Refuse the combinations that cannot mean what they say (exit code 2)."""
    if shards is not None:
        if not enqueue:
            raise click.UsageError("--shards goes with --enqueue")
        if dry_run or limit:
            raise click.UsageError("--shards plans on the workers; --dry-run and --limit plan here")
        if shards not in SHARD_COUNTS:
            raise click.BadParameter(
                "must be 16, 256 or 4096 (one, two or three leading hex digits of the id)",
                param_hint="'--shards'",
            )
    if purge is not None and dry_run:
        raise click.UsageError("--purge-list with --dry-run: a dry run changes nothing to purge")
    if purge is not None and enqueue:
        raise click.UsageError(
            "--purge-list with --enqueue: the workers record the URLs in Redis; "
            "collect them with: imgsvc reconvert --status --purge-list FILE"
        )


def _publish_shards(obj: Context, options: RunOptions, shards: int) -> None:
    from ..bulk.enqueue import ShardEnqueuer

    with _interrupts_raise_keyboard_interrupt():
        try:
            enqueuer = ShardEnqueuer(obj.service, options, shards, None)
            finished = enqueuer.run()
        except ImgsvcError as exc:  # a bad prefix, a Celery knob, or Redis away
            _stop(exc)
    click.echo("\n".join(enqueuer.report_lines()))
    if not finished:
        sys.exit(EXIT_INTERRUPTED)


def _stop(exc: ImgsvcError) -> NoReturn:
    click.echo(f"reconvert: {exc.message}", err=True)
    sys.exit(exc.exit_code)


def _print_run(summary: Summary, options: RunOptions, shown_prefix: str) -> None:
    if options.dry_run:
        lines = plan_lines(summary.plan, shown_prefix, summary.ignored_keys, options.only_outdated)
    else:
        lines = summary_lines(summary, options.only_outdated)
    click.echo("\n".join(lines))


def _print_status(obj: Context, purge_list: Path | None) -> None:
    from ..bulk.celery_app import BulkConfig
    from ..bulk.ledger import Ledger
    from ..bulk.shardbook import ShardBook

    bulk = BulkConfig.from_settings(obj.settings)
    ledger = Ledger.connect(obj.settings.broker_url, bulk.namespace)
    run_id = ledger.last_run()
    if run_id is None:
        click.echo("No enqueued run found (reconvert --enqueue starts one).", err=True)
        sys.exit(1)
    drained = _drain(ledger, run_id, purge_list) if purge_list is not None else None
    status = ledger.status(run_id)
    queued = ledger.queue_length()
    if status.meta.get("mode") == "shards":
        progress = ShardBook(ledger).progress(run_id, int(status.meta["shards"]))
        lines = progress.lines(status, queued)
    else:
        lines = status.lines(queued)
    if drained is not None:
        lines.append(f"  {'purge list':<10} {drained:>8}   (URLs appended to {purge_list})")
    click.echo("\n".join(lines + failure_lines(status.failures)))


def _drain(ledger: Ledger, run_id: str, path: Path) -> int:
    """Move the run's recorded purge URLs to the file (appended, fsync'd per page)."""
    purge = PurgeList(path, sync_interval=0)
    try:
        return ledger.drain_purge(run_id, purge.add)
    finally:
        purge.close()


@contextmanager
def _interrupts_raise_keyboard_interrupt() -> Iterator[None]:
    """SIGTERM (systemd, kill) stops a run as cleanly as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command()
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(min=1),
    help="Worker processes (default: one per CPU).",
)
@click.option("--loglevel", "-l", default="INFO", show_default=True)
@click.pass_obj
def worker(obj: Context, concurrency: int | None, loglevel: str) -> None:
    """Run a Celery worker for `reconvert --enqueue` (prefork pool).

    Start as many as you like, on any machine with the same settings; stop one
    with SIGTERM (finishes its images) or kill it: its images are redelivered.
    """
    from ..bulk.celery_app import BulkConfig, run_worker

    try:
        bulk = BulkConfig.from_settings(obj.settings)
    except ImgsvcError as exc:
        click.echo(f"imgsvc: configuration error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    run_worker(obj.settings, bulk, concurrency or default_workers(), loglevel)
