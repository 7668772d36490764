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
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

import click

from ..bulk.local import LocalRun, RunOptions, Summary
from ..bulk.progress import make_progress
from ..bulk.report import failure_lines, plan_lines, summary_lines
from ..errors import ImgsvcError
from ..storage.keys import layout_base

if TYPE_CHECKING:
    from .context import Context

#: The shell's convention for "ended by SIGINT".
EXIT_INTERRUPTED = 130


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
        if enqueue or dry_run or only_outdated or limit or prefix or workers:
            raise click.UsageError("--status takes no other option")
        try:
            _print_status(obj)
        except ImgsvcError as exc:  # a Celery knob out of range, or Redis away
            _stop(exc)
        return
    options = RunOptions(prefix, workers or default_workers(), only_outdated, dry_run, limit)
    shown_prefix = layout_base(obj.settings.key_prefix) if prefix is None else prefix
    progress = make_progress("enqueue" if enqueue and not dry_run else "reconvert")
    with _interrupts_raise_keyboard_interrupt():
        try:
            if enqueue and not dry_run:
                from ..bulk.enqueue import Enqueuer

                enqueuer = Enqueuer(obj.service, options, progress)
                summary = enqueuer.run()
                click.echo("\n".join(enqueuer.report_lines(summary)))
            else:
                summary = LocalRun(obj.service, options, progress).run()
                _print_run(summary, options, shown_prefix)
        except ImgsvcError as exc:  # the listing itself failed
            _stop(exc)
    if summary.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    if summary.failed:
        sys.exit(1)


def _stop(exc: ImgsvcError) -> NoReturn:
    click.echo(f"reconvert: {exc.message}", err=True)
    sys.exit(exc.exit_code)


def _print_run(summary: Summary, options: RunOptions, shown_prefix: str) -> None:
    if options.dry_run:
        lines = plan_lines(summary.plan, shown_prefix, summary.ignored_keys, options.only_outdated)
    else:
        lines = summary_lines(summary, options.only_outdated)
    click.echo("\n".join(lines))


def _print_status(obj: Context) -> None:
    from ..bulk.celery_app import BulkConfig
    from ..bulk.ledger import Ledger

    bulk = BulkConfig.from_settings(obj.settings)
    ledger = Ledger.connect(obj.settings.broker_url, bulk.namespace)
    run_id = ledger.last_run()
    if run_id is None:
        click.echo("No enqueued run found (reconvert --enqueue starts one).", err=True)
        sys.exit(1)
    status = ledger.status(run_id)
    click.echo("\n".join(status.lines(ledger.queue_length()) + failure_lines(status.failures)))


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
