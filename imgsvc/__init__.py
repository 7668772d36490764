"""imgsvc: responsive-image service. Uploads in; WebP srcset conversions stored out."""

from __future__ import annotations

from .app import create_app
from .errors import (
    BadRequest,
    ConfigError,
    ImageRefused,
    ImgsvcError,
    InvalidImage,
    NotFound,
    StorageUnavailable,
    Unauthorized,
    UnsupportedFormat,
    UploadTooLarge,
)
from .service import ImageService
from .settings import Settings, Size

__all__ = [
    "BadRequest",
    "ConfigError",
    "ImageRefused",
    "ImageService",
    "ImgsvcError",
    "InvalidImage",
    "NotFound",
    "Settings",
    "Size",
    "StorageUnavailable",
    "Unauthorized",
    "UnsupportedFormat",
    "UploadTooLarge",
    "create_app",
]
