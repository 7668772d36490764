"""runtime.metrics: storage failures are counted by operation, every metric appears in
the exposition, and stages are timed whether they succeed or fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgsvc.errors import NotFound, StorageUnavailable
from imgsvc.runtime.metrics import MULTIPROC_ENV, Metrics, ObservedStorage
from imgsvc.storage import FileStorage

NAMES = [
    "imgsvc_uploads",
    "imgsvc_http_requests",
    "imgsvc_http_request_duration_seconds",
    "imgsvc_conversion_stage_seconds",
    "imgsvc_upload_bytes",
    "imgsvc_output_bytes",
    "imgsvc_storage_errors",
    "imgsvc_conversions_in_flight",
    "imgsvc_conversions_waiting",
]


@pytest.fixture(autouse=True)
def _single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read this process's registry, not gunicorn's multiprocess files."""
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)


def errors(metrics: Metrics, operation: str) -> float:
    value = metrics.registry.get_sample_value(
        "imgsvc_storage_errors_total", {"operation": operation}
    )
    return value or 0.0


def stage_count(metrics: Metrics, stage: str) -> float:
    value = metrics.registry.get_sample_value(
        "imgsvc_conversion_stage_seconds_count", {"stage": stage}
    )
    return value or 0.0


def test_storage_failures_are_counted_by_operation(tmp_path: Path) -> None:
    """A FileStorage rooted at a regular file fails every write, read and delete for real."""
    root = tmp_path / "not-a-directory"
    root.write_bytes(b"")
    metrics = Metrics()
    storage = ObservedStorage(FileStorage(root), metrics)
    for call in (
        lambda: storage.put("a/b.webp", b"x", "image/webp"),
        lambda: storage.get("a/b.webp"),
        lambda: storage.delete(["a/b.webp"]),
        lambda: storage.ping(),
        lambda: storage.ping(),
    ):
        with pytest.raises(StorageUnavailable):
            call()
    counted = {op: errors(metrics, op) for op in ("put", "get", "delete", "ping", "list")}
    assert counted == {"put": 1, "get": 1, "delete": 1, "ping": 2, "list": 0}


def test_only_unavailability_counts_and_calls_pass_through(tmp_path: Path) -> None:
    """A missing key is an answer, not a storage failure."""
    metrics = Metrics()
    storage = ObservedStorage(FileStorage(tmp_path), metrics)
    storage.put("a/b.webp", b"data", "image/webp")
    assert storage.get("a/b.webp").data == b"data"
    assert list(storage.list("a/")) == ["a/b.webp"]
    assert storage.local_root() == tmp_path
    with pytest.raises(NotFound):
        storage.get("a/missing.webp")
    assert errors(metrics, "get") == 0


def test_two_services_do_not_count_into_each_other() -> None:
    first, second = Metrics(), Metrics()
    first.storage_errors.labels("put").inc()
    assert errors(first, "put") == 1
    assert errors(second, "put") == 0


def test_render_exposes_every_metric() -> None:
    metrics = Metrics()
    metrics.uploads.labels("201", "created").inc()
    body, content_type = metrics.render()
    text = body.decode()
    assert content_type.startswith("text/plain")
    for name in NAMES:
        assert f"# HELP {name}" in text, name
    assert 'imgsvc_uploads_total{code="created",status="201"} 1.0' in text


def test_a_stage_is_observed_on_success_and_on_failure() -> None:
    """A failed conversion still took time; dropping it would hide slow failures."""
    metrics = Metrics()
    with metrics.stage("convert"):
        pass
    with pytest.raises(ValueError, match="boom"), metrics.stage("store"):
        raise ValueError("boom")
    assert stage_count(metrics, "convert") == 1
    assert stage_count(metrics, "store") == 1
    assert stage_count(metrics, "decode") == 0
