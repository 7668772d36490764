"""storage.janitor: objects of a failed write are removed once storage answers again,
except those a newer set has claimed meanwhile; ``close()`` stops the retries."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from imgsvc.errors import StorageUnavailable
from imgsvc.storage import FileStorage
from imgsvc.storage.janitor import Janitor

KEYS = ["media/a/conversions/x-sm.webp", "media/a/conversions/x-md.webp", "media/a/x.jpg"]


class FlakyDeletes(FileStorage):
    """A real FileStorage whose first ``failures`` delete calls fail as if it were down."""

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures
        self.calls: list[list[str]] = []
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        with self._lock:
            self.calls.append(keys)
            self.threads.append(threading.current_thread())
            if self.failures > 0:
                self.failures -= 1
                raise StorageUnavailable("storage is down")
        super().delete(keys)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    storage = FileStorage(tmp_path / "media-root")
    for key in KEYS:
        storage.put(key, b"left by a failed write", "application/octet-stream")
    return storage.root


@pytest.fixture
def files(root: Path) -> FileStorage:
    return FileStorage(root)


def test_removals_are_retried_until_storage_answers(root: Path, files: FileStorage) -> None:
    flaky = FlakyDeletes(root, failures=2)
    janitor = Janitor(flaky, max_delay=0.05)
    try:
        janitor.schedule(KEYS)
        wait_for(lambda: not janitor.pending, "the janitor to finish")
    finally:
        janitor.close()
    assert not any(files.exists(k) for k in KEYS)
    assert len(flaky.calls) == 3  # two failures, then the removal
    assert all(call == sorted(KEYS) for call in flaky.calls)


def test_keys_a_newer_set_claims_are_not_removed(root: Path, files: FileStorage) -> None:
    """A client's retry may have written a set that lists a key meanwhile: it stays."""
    kept = KEYS[2]
    seen: list[list[str]] = []

    def unclaimed(keys: list[str]) -> list[str]:
        seen.append(keys)
        return [k for k in keys if k != kept]

    janitor = Janitor(FlakyDeletes(root, failures=1), unclaimed=unclaimed, max_delay=0.05)
    try:
        janitor.schedule(KEYS)
        wait_for(lambda: not janitor.pending, "the janitor to finish")
    finally:
        janitor.close()
    assert files.exists(kept)
    assert not files.exists(KEYS[0]) and not files.exists(KEYS[1])
    assert len(seen) == 2  # asked again before each attempt, not once up front


def test_an_idle_janitor_starts_again_on_new_keys(files: FileStorage) -> None:
    janitor = Janitor(files, max_delay=0.05)
    try:
        janitor.schedule(KEYS[:1])
        wait_for(lambda: not files.exists(KEYS[0]), "the first removal")
        wait_for(lambda: not janitor.pending, "the janitor to go idle")
        janitor.schedule(KEYS[1:])
        wait_for(lambda: not janitor.pending, "the second removal")
    finally:
        janitor.close()
    assert not any(files.exists(k) for k in KEYS)


def test_close_stops_the_retries(root: Path, files: FileStorage) -> None:
    flaky = FlakyDeletes(root, failures=10**6)
    janitor = Janitor(flaky, max_delay=0.05)
    janitor.schedule(KEYS)
    wait_for(lambda: len(flaky.calls) >= 1, "a first attempt")
    janitor.close()
    worker = flaky.threads[0]
    wait_for(lambda: not worker.is_alive(), "the janitor thread to end")
    assert janitor.pending == set(KEYS)  # given up, not pretended done
    assert all(files.exists(k) for k in KEYS)
