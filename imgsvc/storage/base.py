"""The storage interface every backend implements (after thumbor's storages)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class StoredObject:
    data: bytes
    content_type: str


@runtime_checkable
class Storage(Protocol):
    """Keys are ``/``-separated relative paths that naming.py built.

    Every method raises ``StorageUnavailable`` when the backend fails, and
    ``NotFound`` from ``get`` when the key does not exist. Nothing above this
    interface knows which library talks to the backend.
    """

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> None: ...

    def get(self, key: str) -> StoredObject: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, keys: Iterable[str]) -> None:
        """Remove the keys; keys that do not exist are not an error."""
        ...

    def list(self, prefix: str) -> Iterator[str]:
        """Yield the keys under ``prefix`` in order, page by page, never all at once."""
        ...

    def ping(self) -> None:
        """Raise ``StorageUnavailable`` unless the backend answers."""
        ...

    def local_root(self) -> Path | None:
        """The directory imgsvc must serve the objects from (under ``/media/``), or
        None when the backend serves its own public URLs."""
        ...
