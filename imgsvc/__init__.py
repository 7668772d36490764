"""imgsvc: responsive-image service. Uploads in; WebP srcset conversions stored out.

``create_app`` and ``ImageService`` are loaded on first use (PEP 562), so that
importing a pure room such as ``imgsvc.pipeline`` does not import Flask and the
storage libraries along with this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from .settings import Settings, Size

if TYPE_CHECKING:
    from .service import ImageService
    from .web import create_app

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


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .web import create_app

        return create_app
    if name == "ImageService":
        from .service import ImageService

        return ImageService
    raise AttributeError(f"module 'imgsvc' has no attribute {name!r}")
