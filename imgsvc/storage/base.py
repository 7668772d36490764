"""The storage interface every backend implements (after thumbor's storages)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class StoredObject:
    """``etag`` names this version of the object (S3's ETag, an MD5 of the bytes for
    file storage): a conditional write compares against it."""

    data: bytes
    content_type: str
    etag: str | None = None


@runtime_checkable
class Storage(Protocol):
    """Keys are ``/``-separated relative paths that ``keys.py`` built.

    Every method raises ``StorageUnavailable`` when the backend fails, and
    ``NotFound`` from ``get`` when the key does not exist. Nothing above this
    interface knows which library talks to the backend.

    ``put_if`` and ``delete_if`` are the compare-and-swap the write protocol needs
    for manifests: they act only if the object is still the version the caller read
    (``etag``; ``None`` for "must not exist yet"), else raise ``Conflict``. When
    ``conditional_writes()`` is true the check and the write are one atomic step
    (S3's ``If-Match`` / ``If-None-Match: *``, a lock for file storage); when false
    the backend checks just before it writes, which narrows the window between
    two writers but cannot close it.
    """

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> None: ...

    def put_if(
        self, key: str, data: bytes, content_type: str, cache_control: str | None, etag: str | None
    ) -> None: ...

    def get(self, key: str) -> StoredObject: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, keys: Iterable[str]) -> None:
        """Remove the keys; keys that do not exist are not an error."""
        ...

    def delete_if(self, key: str, etag: str) -> None:
        """Remove ``key`` only while its version is ``etag``; ``Conflict`` otherwise
        (also when it is gone already)."""
        ...

    def conditional_writes(self) -> bool:
        """Whether ``put_if``/``delete_if`` are atomic on this backend. May ask the
        server once (``StorageUnavailable`` when it cannot be reached)."""
        ...

    def list(self, prefix: str, start_after: str | None = None) -> Iterator[str]:
        """Yield the keys under ``prefix`` in order, page by page, never all at once;
        with ``start_after``, only the keys that sort after it (S3's StartAfter)."""
        ...

    def ping(self) -> None:
        """Raise ``StorageUnavailable`` unless the backend answers."""
        ...

    def local_root(self) -> Path | None:
        """The directory imgsvc must serve the objects from (under ``/media/``), or
        None when the backend serves its own public URLs."""
        ...
