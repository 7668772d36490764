"""Progress of a bulk run: a bar on a terminal, plain lines in logs and pipes.

A bar redrawn with carriage returns is noise in a log file or a CI transcript, so
off a terminal the same figures (count, rate, ETA, failures) are printed as a line
every ``interval`` seconds. Both write to stderr; stdout carries the summary.

The total may be unknown at first (the listing streams) and set later, from
another thread, once a counting pass has finished.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Protocol

import click


class Progress(Protocol):
    def set_total(self, total: int | None) -> None: ...

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


class _TqdmProgress:
    def __init__(self, label: str, stream: IO[str]) -> None:
        from tqdm import tqdm

        self._failed = 0
        self._bar = tqdm(
            total=None, desc=label, unit="img", file=stream, dynamic_ncols=True, smoothing=0.05
        )

    def set_total(self, total: int | None) -> None:
        self._bar.total = total
        self._bar.refresh()

    def advance(self, *, failed: bool = False) -> None:
        if failed:
            self._failed += 1
            self._bar.set_postfix(failed=self._failed, refresh=False)
        self._bar.update(1)

    def note(self, message: str) -> None:
        self._bar.write(message, file=self._bar.fp)

    def close(self) -> None:
        self._bar.close()


class LineProgress:
    """``label: 120/1000 images (12%), 4.1/s, 2 failed, about 3m35s left``."""

    def __init__(self, label: str, stream: IO[str], interval: float = 10.0) -> None:
        self.label = label
        self.stream = stream
        self.interval = interval
        self.total: int | None = None
        self.done = 0
        self.failed = 0
        self._start = self._last = time.monotonic()
        self._lock = threading.Lock()

    def set_total(self, total: int | None) -> None:
        self.total = total

    def advance(self, *, failed: bool = False) -> None:
        with self._lock:
            self.done += 1
            self.failed += failed
            now = time.monotonic()
            if now - self._last >= self.interval:
                self._last = now
                self._print(now)

    def note(self, message: str) -> None:
        click.echo(message, file=self.stream)

    def close(self) -> None:
        self._print(time.monotonic())

    def _print(self, now: float) -> None:
        elapsed = max(now - self._start, 1e-9)
        rate = self.done / elapsed
        parts = [f"{self.done} images"]
        if self.total:
            parts = [f"{self.done}/{self.total} images ({100 * self.done // self.total}%)"]
        parts.append(f"{rate:.1f}/s")
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.total and rate > 0 and self.done < self.total:
            parts.append(f"about {duration((self.total - self.done) / rate)} left")
        click.echo(f"{self.label}: {', '.join(parts)}", file=self.stream)


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``: short enough for a progress line."""
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
