"""The schemas of the OpenAPI document (``openapi.py`` builds the paths): what a
description, an error and a health answer look like, kept beside each other so that
the shape of the API's data reads in one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..formats import OUTPUT_FORMATS


def status_schema() -> dict[str, Any]:
    """The body of /healthz and /readyz."""
    return {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"enum": ["ok", "unavailable"]},
            "reason": {"type": "string"},
            "concurrent_writes": {
                "enum": ["serialised", "not serialised", "unknown"],
                "description": "Whether two writers of one image are serialised on this "
                "storage (conditional writes); see `concurrent_writes_detail`.",
            },
            "concurrent_writes_detail": {"type": "string"},
        },
    }


def component_schemas(error_codes: Mapping[int, tuple[str, ...]]) -> dict[str, Any]:
    """``Description`` and ``Error``; the error codes come from the document."""
    dims = {"width": {"type": "integer", "minimum": 1}, "height": {"type": "integer", "minimum": 1}}
    url_key = {"key": {"type": "string"}, "url": {"type": "string"}}
    variant = {
        "type": "object",
        "required": ["size", "width", "height", "format", "key", "bytes", "url"],
        "properties": {
            "size": {"type": "string"},
            **dims,
            "format": {"enum": list(OUTPUT_FORMATS)},
            **url_key,
            "bytes": {"type": "integer", "minimum": 0},
            # Of the bytes stored; absent from manifests written before it was recorded.
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            # The encoder quality used; absent from manifests written before it was recorded.
            "quality": {"type": "integer", "minimum": 0, "maximum": 100},
            # The SSIMULACRA2 score reached: only when a quality target is set.
            "score": {"type": "number"},
        },
    }
    original = {
        "type": "object",
        "required": ["key", "width", "height", "content_type", "bytes", "url"],
        "properties": {
            **url_key,
            **dims,
            "content_type": {"type": "string"},
            "bytes": {"type": "integer", "minimum": 0},
            # Absent from manifests written before it was recorded.
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        },
    }
    placeholder = {
        "type": ["object", "null"],
        "properties": {"data_uri": {"type": "string"}, "color": {"type": "string"}},
    }
    codes = sorted({code for group in error_codes.values() for code in group})
    return {
        "Description": {
            "type": "object",
            "required": ["id", "srcset", "src", "width", "height", "variants", "original"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "srcset": {"type": "string"},
                "src": {"type": "string"},
                **dims,
                "frames": {"type": "integer", "minimum": 1},
                "variants": {"type": "array", "minItems": 1, "items": variant},
                "original": original,
                "placeholder": placeholder,
                "fingerprint": {"type": "string"},
                "credit": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        name: {"type": "string"}
                        for name in ("creator", "credit", "copyright", "caption", "source")
                    },
                },
            },
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"enum": codes}, "message": {"type": "string"}},
                }
            },
        },
    }
