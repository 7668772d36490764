"""``--purge-list FILE``: the public URLs a CDN must forget, appended as a run goes.

One URL a line, every URL whose bytes changed or that was removed (the change
events' ``changed`` and ``removed``). The file is opened for appending, so a rerun
adds to it; each image's lines go to the file in one unbuffered ``write`` as its
result arrives, so a run that is interrupted (Ctrl-C, a crash, even SIGKILL)
leaves whole lines only.
``fsync`` runs at most every ``sync_interval`` seconds and when the file is closed:
a power cut loses at most that much of the list, never the file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

from ..errors import ConfigError

#: Seconds between fsyncs while URLs arrive.
SYNC_INTERVAL = 1.0


class PurgeListError(ConfigError):
    """The purge list cannot be opened or written (exit code 2, like a bad setting)."""

    code = "purge_list"


class PurgeList:
    def __init__(self, path: Path, sync_interval: float = SYNC_INTERVAL) -> None:
        """Opens ``path`` for appending; raises ``PurgeListError`` when it cannot."""
        self.path = path
        self.sync_interval = sync_interval
        self.written = 0
        try:
            self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise PurgeListError(f"cannot open the purge list {path}: {exc.strerror}") from exc
        self._synced = time.monotonic()

    def add(self, urls: Iterable[str]) -> None:
        """Append the URLs, a line each, flushed now (whole lines or nothing)."""
        lines = [f"{url}\n" for url in urls]
        if not lines or self._fd is None:
            return
        data = "".join(lines).encode()
        try:
            while data:  # one write() in practice; a short write is finished, not cut
                data = data[os.write(self._fd, data) :]
            if time.monotonic() - self._synced >= self.sync_interval:
                self._sync()
        except OSError as exc:
            raise PurgeListError(f"cannot write the purge list {self.path}: {exc}") from exc
        self.written += len(lines)

    def _sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
        self._synced = time.monotonic()

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.fsync(fd)
        except OSError as exc:
            raise PurgeListError(f"cannot write the purge list {self.path}: {exc}") from exc
        finally:
            os.close(fd)
