"""Local file storage: the embedded default, served by the app under ``/media/``.

Conditional writes hold an exclusive ``flock`` on the key's lock file (one of 256 under
``.imgsvc-locks/`` in the root) across check and write, so every thread and process
on this host that writes the same manifest is serialised. ``flock`` does not reach
across hosts (NFS): one host per file root.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import Conflict, NotFound, StorageUnavailable
from ..formats import content_type_of
from .base import StoredObject

#: Lock files live here, beside the objects; listings skip it and /media/ refuses it.
#: 256 of them at most, shared by hash: two images rarely wait on one another, and
#: the folder never grows with the library.
LOCKS = ".imgsvc-locks"


def etag_of(data: bytes) -> str:
    """An S3-style ETag: the quoted MD5 of the bytes."""
    return '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'


class FileStorage:
    """Objects as files under ``root``; writes are atomic (temp file, then rename)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def conditional_writes(self) -> bool:
        return True

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        slot = hashlib.sha256(key.encode()).digest()[0]  # one of the 256 lock files
        path = self.root / LOCKS / f"{slot:02x}.lock"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StorageUnavailable(f"cannot lock {key}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _expect(self, key: str, etag: str | None) -> None:
        """``Conflict`` unless ``key`` is at version ``etag`` (None: absent)."""
        try:
            now: str | None = etag_of(self._path(key).read_bytes())
        except FileNotFoundError:
            now = None
        except OSError as exc:
            raise StorageUnavailable(f"cannot read {key}: {exc.strerror}") from exc
        if now != etag:
            raise Conflict(f"{key} changed since it was read")

    def put_if(
        self, key: str, data: bytes, content_type: str, cache_control: str | None, etag: str | None
    ) -> None:
        with self._locked(key):
            self._expect(key, etag)
            self.put(key, data, content_type, cache_control)

    def delete_if(self, key: str, etag: str) -> None:
        with self._locked(key):
            self._expect(key, etag)
            self.delete([key])

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root.joinpath(*parts)

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.chmod(tmp, 0o644)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StorageUnavailable(f"cannot write {key}: {exc.strerror}") from exc

    def get(self, key: str) -> StoredObject:
        path = self._path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"no object {key}") from exc
        except OSError as exc:
            raise StorageUnavailable(f"cannot read {key}: {exc.strerror}") from exc
        return StoredObject(data, content_type_of(key), etag_of(data))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            path = self._path(key)
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise StorageUnavailable(f"cannot delete {key}: {exc.strerror}") from exc
            self._prune(path.parent)

    def _prune(self, directory: Path) -> None:
        """Remove directories emptied by a delete, up to the root."""
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    def list(self, prefix: str, start_after: str | None = None) -> Iterator[str]:
        """Keys in S3's order (lexicographic), walking only the prefix's directory."""
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self._path(base) if base else self.root
        for key in self._walk(start, base):
            if key.startswith(prefix) and (start_after is None or key > start_after):
                yield key

    def _walk(self, directory: Path, rel: str) -> Iterator[str]:
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            raise StorageUnavailable(f"cannot list {rel or '/'}: {exc.strerror}") from exc
        # A directory sorts as "name/", exactly where S3 would put the keys inside it.
        entries.sort(key=lambda e: e.name + "/" if e.is_dir() else e.name)
        for entry in entries:
            key = f"{rel}/{entry.name}" if rel else entry.name
            if key == LOCKS:
                continue
            if entry.is_dir():
                yield from self._walk(Path(entry.path), key)
            elif not entry.name.startswith(".tmp-"):
                yield key

    def ping(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK):
                raise StorageUnavailable(f"{self.root} is not writable")
        except OSError as exc:
            raise StorageUnavailable(f"{self.root}: {exc.strerror}") from exc

    def local_root(self) -> Path:
        return self.root
