"""Prometheus metrics: what operators need to see the service is healthy and busy.

One ``Metrics`` per service, on its own registry, so two apps in one process (the
tests) do not count into each other. Under ``imgsvc serve`` every gunicorn worker
counts into files in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess
mode) and ``/metrics`` adds up all workers, whichever worker answers the scrape.

prometheus-client picks its storage when it is first imported, from that variable,
so it is imported here lazily: ``imgsvc serve`` sets the variable before any worker
builds its app.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import StorageUnavailable
from ..storage import Storage, StoredObject

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Conversions of a phone photo take 0.1-2 s; a 100-megapixel one far longer.
STAGE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class Metrics:
    """The service's counters, histograms and gauges (names start ``imgsvc_``)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.uploads = Counter(
            "imgsvc_uploads",
            "Uploads (POST /v1/images) by HTTP status and error code ('created' for 201).",
            ["status", "code"],
            registry=self.registry,
        )
        self.requests = Counter(
            "imgsvc_http_requests",
            "HTTP requests by route and status.",
            ["route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "imgsvc_http_request_duration_seconds",
            "Time from the first byte of a request to its answer, by route.",
            ["route"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "imgsvc_conversion_stage_seconds",
            "Seconds per stage of an upload: queue (waiting for a conversion slot), "
            "convert (all of the conversion), within it decode, resize (to the largest "
            "width, sRGB, upright) and encode (every width and format), and store "
            "(all objects written).",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.bytes_in = Counter(
            "imgsvc_upload_bytes",
            "Bytes of image data received in uploads.",
            registry=self.registry,
        )
        self.bytes_out = Counter(
            "imgsvc_output_bytes",
            "Bytes of conversions produced and stored.",
            registry=self.registry,
        )
        self.storage_errors = Counter(
            "imgsvc_storage_errors",
            "Storage calls that failed (after the client's own retries), by operation.",
            ["operation"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "imgsvc_conversions_in_flight",
            "Conversions running now, over all workers.",
            multiprocess_mode="livesum",
            registry=self.registry,
        )
        self.conflicts = Counter(
            "imgsvc_write_conflicts",
            "Writes that found their image changed since they read it (another writer's "
            "newer state won), by operation: upload, reconvert, adopt, delete. An upload "
            "or delete that lost answered 409; a re-conversion started over.",
            ["operation"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "imgsvc_webhook_deliveries",
            "Webhook deliveries by outcome: delivered, retried (an attempt failed, another "
            "follows), failed (every attempt failed), dropped (too many pending), lost "
            "(pending when the process stopped). Anything but delivered and retried is "
            "an event the receiver never got.",
            ["outcome"],
            registry=self.registry,
        )
        self.waiting = Gauge(
            "imgsvc_conversions_waiting",
            "Requests waiting for a conversion slot now, over all workers.",
            multiprocess_mode="livesum",
            registry=self.registry,
        )

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the ``with`` block as one stage, whether it succeeds or fails."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stage_seconds.labels(name).observe(time.perf_counter() - started)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type, summed over workers when forked."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        registry = self.registry
        if multiprocess_dir():
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST


def mark_worker_dead(pid: int) -> None:
    """gunicorn ``child_exit`` hook: a dead worker's live gauges stop counting."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


class ObservedStorage:
    """A storage backend that counts its failures; everything else passes through."""

    def __init__(self, inner: Storage, metrics: Metrics) -> None:
        self.inner = inner
        self._errors = metrics.storage_errors

    @contextlib.contextmanager
    def _counted(self, operation: str) -> Iterator[None]:
        try:
            yield
        except StorageUnavailable:
            self._errors.labels(operation).inc()
            raise

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> None:
        with self._counted("put"):
            self.inner.put(key, data, content_type, cache_control)

    def put_if(
        self, key: str, data: bytes, content_type: str, cache_control: str | None, etag: str | None
    ) -> None:
        with self._counted("put"):
            self.inner.put_if(key, data, content_type, cache_control, etag)

    def get(self, key: str) -> StoredObject:
        with self._counted("get"):
            return self.inner.get(key)

    def delete_if(self, key: str, etag: str) -> None:
        with self._counted("delete"):
            self.inner.delete_if(key, etag)

    def conditional_writes(self) -> bool:
        with self._counted("probe"):
            return self.inner.conditional_writes()

    def exists(self, key: str) -> bool:
        with self._counted("exists"):
            return self.inner.exists(key)

    def delete(self, keys: Iterable[str]) -> None:
        with self._counted("delete"):
            self.inner.delete(keys)

    def list(self, prefix: str, start_after: str | None = None) -> Iterator[str]:
        with self._counted("list"):
            yield from self.inner.list(prefix, start_after)

    def ping(self) -> None:
        with self._counted("ping"):
            self.inner.ping()

    def local_root(self) -> Path | None:
        return self.inner.local_root()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
