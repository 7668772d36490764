"""Where objects live. One small interface, one class per backend.

``create_storage(settings)`` is the only place that chooses a backend by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Storage, StoredObject
from .file import FileStorage

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["FileStorage", "Storage", "StoredObject", "create_storage"]


def create_storage(settings: Settings) -> Storage:
    """Build the configured backend (``settings.storage``: ``file`` or ``s3``)."""
    if settings.storage == "s3":
        from .s3 import S3Storage  # boto3 is imported only by deployments that use it

        return S3Storage.from_settings(settings)
    return FileStorage(settings.file_root)
