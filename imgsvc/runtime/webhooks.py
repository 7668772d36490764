"""Webhooks: each change event POSTed to ``webhook_url``, in the background.

A listener of ``ImageService.events``. The change it hears of has landed already;
delivering it can never delay or fail that change: ``__call__`` only puts the event
in memory and returns, and background threads do the HTTP.

**The guarantee is at-least-once while the process lives, not durable.** An event
is retried (exponential backoff with full jitter, ``Retry-After`` honoured) until the
receiver answers 2xx or ``webhook_max_attempts`` have failed; then it is logged and
counted (``imgsvc_webhook_deliveries{outcome="failed"}``). Events still pending when
the process stops are given a few seconds to go out (``close``), then logged and
counted as ``lost``. A receiver may see an event twice (an answer lost after it was
processed): ``X-Imgsvc-Delivery`` is the same on every attempt of one event, for
de-duplication. Events go out in parallel and retries wait, so the order of arrival
is not the order of the changes: ``at`` tells that. A CMS that must not miss a
change reconciles with ``GET /v1/images`` (the listing), which is the truth.

Each POST is signed: ``X-Imgsvc-Signature: sha256=<hex HMAC-SHA256 of the body>``
with ``webhook_secret`` as the key (the header is left out when no secret is set).
"""

from __future__ import annotations

import atexit
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import multiprocessing.util
import os
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .events import Event, Events

if TYPE_CHECKING:
    from ..settings import Settings
    from .metrics import Metrics

log = logging.getLogger(__name__)

#: Events held in memory at most; past that a new one is dropped (and counted).
MAX_PENDING = 10_000
#: The longest wait between two attempts, whatever the backoff says.
MAX_DELAY = 600.0
#: Threads that deliver; a slow receiver holds one each for up to ``timeout``.
THREADS = 2
#: Seconds ``close`` lets pending deliveries go out before it gives them up.
CLOSE_GRACE = 5.0

Count = Callable[[str], None]


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    body: bytes = field(compare=False)
    event: Event = field(compare=False)
    delivery_id: str = field(compare=False)
    attempt: int = field(default=1, compare=False)


def signature(secret: str, body: bytes) -> str:
    """The ``X-Imgsvc-Signature`` value of ``body``; receivers compute the same and
    compare with ``hmac.compare_digest``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Notifier:
    """POSTs events to one URL. ``count(outcome)`` hears of every outcome:
    ``delivered``, ``retried``, ``failed`` (attempts exhausted), ``dropped`` (too many
    pending) and ``lost`` (pending when the process stopped)."""

    def __init__(
        self,
        url: str,
        secret: str = "",
        *,
        max_attempts: int = 8,
        backoff: float = 2.0,
        timeout: float = 10.0,
        count: Count = lambda _outcome: None,
    ) -> None:
        self.url = url
        self.secret = secret
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.timeout = timeout
        self.count = count
        self._heap: list[_Delivery] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._busy = 0
        self._closed = False
        self._pid = 0  # threads are started in the process that first needs them
        self._threads: list[threading.Thread] = []
        atexit.register(self.close)
        me = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _forget_parent(me))

    def __call__(self, event: Event) -> None:
        body = json.dumps(event.to_dict(), separators=(",", ":")).encode()
        with self._cond:
            if self._closed:
                self._give_up(event, "lost", "the notifier is closed")
                return
            if len(self._heap) >= MAX_PENDING:
                self._give_up(event, "dropped", f"{MAX_PENDING} deliveries are pending")
                return
            self._start()
            item = _Delivery(time.monotonic(), next(self._seq), body, event, str(uuid.uuid4()))
            heapq.heappush(self._heap, item)
            self._cond.notify()

    def pending(self) -> int:
        """Deliveries not finished yet (waiting, retrying or in flight)."""
        with self._cond:
            return len(self._heap) + self._busy

    def close(self, grace: float = CLOSE_GRACE) -> None:
        """Let what is due go out for up to ``grace`` seconds, then stop; what is left
        is logged and counted as lost. Idempotent."""
        deadline = time.monotonic() + grace
        with self._cond:
            if self._closed:
                return
            while (self._heap or self._busy) and self._pid == os.getpid():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.05))
            self._closed = True
            for item in self._heap:
                self._give_up(item.event, "lost", "the process stopped before it went out")
            self._heap.clear()
            self._cond.notify_all()

    def _forget_parent(self) -> None:
        """In a forked child: the parent's pending events are the parent's to deliver
        (a child delivering them too would send them twice), and its lock may have
        been held by one of its threads at the fork."""
        self._cond = threading.Condition()
        self._heap = []
        self._busy = 0
        self._threads = []

    # -- the delivery threads ---------------------------------------------------------

    def _start(self) -> None:
        """Start the threads here if they run in another process (a fork: gunicorn's
        workers, a bulk run's pool) or not at all yet. Holds ``_cond``."""
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._busy = 0
        # A process-pool worker ends with os._exit, past atexit: multiprocessing's own
        # exit hook runs there (and, in a plain process, at exit too).
        multiprocessing.util.Finalize(self, self.close, exitpriority=10)
        self._threads = [
            threading.Thread(target=self._run, name=f"imgsvc-webhook-{i}", daemon=True)
            for i in range(THREADS)
        ]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._heap or self._heap[0].due > time.monotonic()):
                    wait = self._heap[0].due - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                if self._closed:
                    return
                item = heapq.heappop(self._heap)
                self._busy += 1
            try:
                retry_after = self._attempt(item)
            finally:
                with self._cond:
                    self._busy -= 1
                    if retry_after is not None:
                        self._requeue(item, retry_after)
                    self._cond.notify_all()

    def _requeue(self, item: _Delivery, retry_after: float) -> None:
        """Schedule the next attempt, or give up after the last. Holds ``_cond``."""
        if item.attempt >= self.max_attempts or self._closed:
            self._give_up(item.event, "failed", f"{item.attempt} attempts failed")
            return
        self.count("retried")
        delay = random.uniform(0, self.backoff * 2 ** (item.attempt - 1))  # full jitter
        item.due = time.monotonic() + min(max(delay, retry_after), MAX_DELAY)
        item.attempt += 1
        heapq.heappush(self._heap, item)

    def _attempt(self, item: _Delivery) -> float | None:
        """POST once. None when it was delivered, else the least wait before the
        next attempt (the receiver's ``Retry-After``, or 0)."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "imgsvc-webhook/1",
            "X-Imgsvc-Event": item.event.type,
            "X-Imgsvc-Delivery": item.delivery_id,
        }
        if self.secret:
            headers["X-Imgsvc-Signature"] = signature(self.secret, item.body)
        request = urllib.request.Request(self.url, item.body, headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                answer.read(65536)
        except urllib.error.HTTPError as exc:
            log.warning(
                "webhook %s for %s: HTTP %d (attempt %d)",
                item.event.type,
                item.event.id,
                exc.code,
                item.attempt,
            )
            return _retry_after(exc.headers.get("Retry-After"))
        except (OSError, ValueError) as exc:  # refused, reset, timed out, bad answer
            log.warning(
                "webhook %s for %s: %s (attempt %d)",
                item.event.type,
                item.event.id,
                exc,
                item.attempt,
            )
            return 0.0
        self.count("delivered")
        return None

    def _give_up(self, event: Event, outcome: str, why: str) -> None:
        log.error("webhook %s for image %s not delivered: %s", event.type, event.id, why)
        self.count(outcome)


def _forget_parent(ref: weakref.ref[Notifier]) -> None:
    notifier = ref()
    if notifier is not None:
        notifier._forget_parent()


def _retry_after(value: str | None) -> float:
    """Seconds from a ``Retry-After`` header (its date form is rare: treated as 0)."""
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0


def attach(settings: Settings, metrics: Metrics, events: Events) -> Notifier | None:
    """The notifier the settings ask for, listening to ``events`` and counting into
    ``metrics``; None without a URL."""
    if not settings.webhook_url:
        return None
    notifier = Notifier(
        settings.webhook_url,
        settings.webhook_secret,
        max_attempts=settings.webhook_max_attempts,
        backoff=settings.webhook_retry_backoff,
        timeout=settings.webhook_timeout,
        count=lambda outcome: metrics.webhooks.labels(outcome).inc(),
    )
    events.subscribe(notifier)
    return notifier
