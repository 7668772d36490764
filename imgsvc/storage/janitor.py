"""The janitor: removes objects of a failed attempt once storage is back.

A write can fail because storage went away; the objects it already wrote must not
stay behind, but they cannot be removed until storage answers again. The janitor
retries those removals in a background thread with capped exponential backoff.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable

from ..errors import StorageUnavailable
from .base import Storage

log = logging.getLogger(__name__)


class Janitor:
    """``unclaimed`` filters the keys just before each removal: what a set written
    meanwhile (a client's retry) lists must stay."""

    def __init__(
        self,
        storage: Storage,
        unclaimed: Callable[[list[str]], list[str]] = list,
        max_delay: float = 30.0,
    ) -> None:
        self._storage = storage
        self._unclaimed = unclaimed
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._max_delay = max_delay
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> set[str]:
        with self._lock:
            return set(self._pending)

    def schedule(self, keys: Iterable[str]) -> None:
        with self._lock:
            self._pending.update(keys)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="imgsvc-janitor", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            with self._lock:
                keys = sorted(self._pending)
                if not keys:
                    self._thread = None
                    return
            try:
                self._storage.delete(self._unclaimed(keys))
            except StorageUnavailable:
                self._stop.wait(delay + random.uniform(0, delay / 2))
                delay = min(delay * 2, self._max_delay)
                continue
            with self._lock:
                self._pending.difference_update(keys)
            log.info("janitor removed %d objects of a failed write", len(keys))
            delay = 0.5

    def close(self) -> None:
        self._stop.set()
