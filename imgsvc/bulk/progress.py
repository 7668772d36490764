"""Progress of a bulk run: a bar on a terminal, plain lines in logs and pipes.

A bar redrawn with carriage returns is noise in a log file or a CI transcript, so
off a terminal the same figures (count, rate, ETA, failures) are printed as a line
every ``interval`` seconds. Both write to stderr; stdout carries the summary.

The total is unknown at first (the listing streams): it is estimated from where
the listing is in the id space (``idspace``), shown with a ``~`` while it is an
estimate, and set exactly when the listing ends. The rate and the ETA are those
of the last ``WINDOW`` seconds, not of the whole run: a run's first minute (the
pool starting, a slow listing page, the first conversions of big originals) says
little about its next hour.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import IO, Protocol

import click

#: Seconds of history behind the rate and the ETA.
WINDOW = 30.0

Clock = Callable[[], float]


class Progress(Protocol):
    def set_total(self, total: int | None, *, estimated: bool = False) -> None: ...

    def advance(self, *, failed: bool = False) -> None: ...

    def note(self, message: str) -> None:
        """Print a line (a failure) without breaking the bar."""
        ...

    def close(self) -> None: ...


def make_progress(label: str, stream: IO[str] | None = None) -> Progress:
    """A tqdm bar when ``stream`` is a terminal and tqdm is installed, else lines."""
    stream = stream or sys.stderr
    if stream.isatty():
        try:
            return _TqdmProgress(label, stream)
        except ImportError:
            pass
    return LineProgress(label, stream)


class RecentRate:
    """Items per second over the last ``window`` seconds, from one-second buckets."""

    def __init__(self, clock: Clock = time.monotonic, window: float = WINDOW) -> None:
        self.clock = clock
        self.window = window
        self._start = clock()
        self._buckets: deque[list[int]] = deque()  # [second, count], oldest first
        self._count = 0

    def add(self, n: int = 1) -> None:
        second = int(self.clock())
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1][1] += n
        else:
            self._buckets.append([second, n])
        self._count += n

    def rate(self) -> float:
        now = self.clock()
        while self._buckets and self._buckets[0][0] + 1 <= now - self.window:
            self._count -= self._buckets.popleft()[1]
        if not self._buckets:
            return 0.0
        span = now - max(self._start, self._buckets[0][0])  # what the buckets kept cover
        return self._count / span if span > 0 else 0.0

    def eta(self, left: int) -> float | None:
        """Seconds to do ``left`` more at the recent rate; None without a rate."""
        rate = self.rate()
        return left / rate if rate > 0 and left > 0 else None


class _TqdmProgress:
    def __init__(self, label: str, stream: IO[str], clock: Clock = time.monotonic) -> None:
        from tqdm import tqdm

        self._failed = 0
        self._estimated = False
        self._rate = RecentRate(clock)
        self._clock = clock
        self._shown = clock()
        self._bar = tqdm(
            total=None, desc=label, unit="img", file=stream, dynamic_ncols=True, smoothing=0.05
        )
        self._format()

    def _format(self) -> None:
        if self._bar.total is None:
            self._bar.bar_format = "{desc}: {n_fmt} img [{elapsed}{postfix}]"
            return
        approx = "~" if self._estimated else ""
        self._bar.bar_format = (
            "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/"
            + approx
            + "{total_fmt} [{elapsed}{postfix}]"
        )

    def set_total(self, total: int | None, *, estimated: bool = False) -> None:
        if estimated and total is not None:
            total = max(total, self._bar.n + 1)  # an estimate never reads as finished
        self._bar.total, self._estimated = total, estimated
        self._format()
        self._bar.refresh()

    def advance(self, *, failed: bool = False) -> None:
        self._failed += failed
        self._rate.add()
        self._bar.update(1)
        now = self._clock()
        if failed or now - self._shown >= 0.5:  # shown at the bar's next refresh
            self._shown = now
            self._bar.set_postfix_str(self._figures(), refresh=False)

    def _figures(self) -> str:
        parts = [f"{self._rate.rate():.1f} img/s"]
        if self._failed:
            parts.append(f"failed={self._failed}")
        total = self._bar.total
        eta = self._rate.eta(total - self._bar.n) if total else None
        if eta is not None:
            parts.append(f"{'about ' if self._estimated else ''}{duration(eta)} left")
        return ", ".join(parts)

    def note(self, message: str) -> None:
        self._bar.write(message, file=self._bar.fp)

    def close(self) -> None:
        self._bar.set_postfix_str(self._figures(), refresh=False)
        self._bar.close()


class LineProgress:
    """``label: 120/~1000 images (12%), 4.1/s, 2 failed, about 3m35s left``.

    ``~`` marks an estimated total; the rate and the time left are the recent ones.
    """

    def __init__(
        self, label: str, stream: IO[str], interval: float = 10.0, clock: Clock = time.monotonic
    ) -> None:
        self.label = label
        self.stream = stream
        self.interval = interval
        self.clock = clock
        self.total: int | None = None
        self.estimated = False
        self.done = 0
        self.failed = 0
        self._rate = RecentRate(clock)
        self._last = clock()
        self._lock = threading.Lock()

    def set_total(self, total: int | None, *, estimated: bool = False) -> None:
        with self._lock:
            self.total, self.estimated = total, estimated

    def advance(self, *, failed: bool = False) -> None:
        with self._lock:
            self.done += 1
            self.failed += failed
            self._rate.add()
            now = self.clock()
            if now - self._last >= self.interval:
                self._last = now
                self._print()

    def note(self, message: str) -> None:
        click.echo(message, file=self.stream)

    def close(self) -> None:
        with self._lock:
            self._print()

    def line(self) -> str:
        """The figures as they stand (what the next printed line would say)."""
        total = max(self.total, self.done) if self.total is not None else None
        parts = [f"{self.done} images"]
        if total:
            approx = "~" if self.estimated else ""
            parts = [f"{self.done}/{approx}{total} images ({100 * self.done // total}%)"]
        parts.append(f"{self._rate.rate():.1f}/s")
        if self.failed:
            parts.append(f"{self.failed} failed")
        eta = self._rate.eta(total - self.done) if total else None
        if eta is not None:
            parts.append(f"about {duration(eta)} left")
        return f"{self.label}: {', '.join(parts)}"

    def _print(self) -> None:
        click.echo(self.line(), file=self.stream)


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``: short enough for a progress line."""
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
