"""Where objects live. One small interface, one class per backend.

``create_storage(settings)`` is the only place that chooses a backend by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import StorageUnavailable
from .base import Storage, StoredObject
from .file import FileStorage

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["FileStorage", "Storage", "StoredObject", "create_storage", "write_guarantee"]


def create_storage(settings: Settings) -> Storage:
    """Build the configured backend (``settings.storage``: ``file`` or ``s3``)."""
    if settings.storage == "s3":
        from .s3 import S3Storage  # boto3 is imported only by deployments that use it

        return S3Storage.from_settings(settings)
    return FileStorage(settings.file_root)


def write_guarantee(storage: Storage) -> tuple[str, str]:
    """Whether two writers of one image are serialised here, and why: for
    ``/readyz`` and the start-up log. Never raises."""
    try:
        honoured = storage.conditional_writes()
    except StorageUnavailable:
        return "unknown", "storage unreachable; checked again at the next write"
    if not honoured:
        return "not serialised", (
            "this S3 server ignores conditional writes (If-Match, If-None-Match): a "
            "writer checks the manifest just before writing it, which narrows the window "
            "between two writers of one image but cannot close it "
            "(IMGSVC_S3_CONDITIONAL_WRITES)"
        )
    if storage.local_root() is not None:
        return "serialised", "file storage: a lock held across check and write (one host)"
    return "serialised", "manifest writes are conditional (If-Match / If-None-Match)"
