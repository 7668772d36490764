"""Bound the work one process accepts: conversion slots.

A conversion holds a decoded image (up to ``max_pixels`` x 4 bytes) and keeps a core
busy; letting every request thread convert at once would trade latency for an OOM
kill. ``ConversionSlots`` lets ``max_concurrent_conversions`` run, makes the rest wait
up to ``queue_timeout`` seconds, then refuses with ``Saturated`` (503 + Retry-After).
The queue is bounded by the server's threads: a waiting request already holds one.
(The deadline for request bodies is the web's: ``imgsvc.web.deadline``.)
"""

from __future__ import annotations

import threading
import time

from ..errors import Saturated


class ConversionSlots:
    """A counting semaphore whose wait is bounded: ``acquire`` then ``release``."""

    def __init__(self, limit: int, timeout: float) -> None:
        self.limit = limit
        self.timeout = timeout
        self._sem = threading.BoundedSemaphore(limit)

    def acquire(self) -> float:
        """Take a slot; return the seconds spent waiting for it.

        Raises ``Saturated`` when no slot frees up within ``timeout`` seconds.
        """
        started = time.monotonic()
        if not self._sem.acquire(timeout=self.timeout):
            raise Saturated(
                f"{self.limit} conversions are already running and none finished within "
                f"{self.timeout:g} s; retry later"
            )
        return time.monotonic() - started

    def release(self) -> None:
        self._sem.release()
