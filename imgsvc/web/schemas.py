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


_FOCUS_RULE = (
    "`x,y` (a point) or `x,y,w,h` (a box): decimal fractions of the upright "
    "image in [0, 1]; the box must lie inside it."
)
#: A focus as the API takes it: "x,y" or "x,y,w,h", fractions of the upright image.
FOCUS_TEXT: dict[str, Any] = {
    "type": "string",
    "maxLength": 100,
    "examples": ["0.5,0.3", "0.2,0.1,0.3,0.4"],
    "description": _FOCUS_RULE,
}


def upload_form(max_bytes: int, media_id_pattern: str) -> dict[str, Any]:
    """The multipart body of ``POST /v1/images``."""
    return {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {
                "type": "string",
                "format": "binary",
                "description": "The image: JPEG, PNG, GIF, WebP or AVIF, at "
                f"most {max_bytes} bytes.",
            },
            "media_id": {
                "description": "Your own id for the image, a UUID "
                "(8-4-4-4-12 hex); empty or absent means a new one.",
                "type": "string",
                "pattern": media_id_pattern,
            },
            "focus": {
                **FOCUS_TEXT,
                "description": f"The editor's focus, which every crop contains: {_FOCUS_RULE} "
                "Empty or absent: imgsvc finds one.",
            },
        },
    }


def patch_body() -> dict[str, Any]:
    """The JSON body of ``PATCH /v1/images/{id}``."""
    return {
        "type": "object",
        "required": ["focus"],
        "additionalProperties": False,
        "properties": {
            "focus": {
                "anyOf": [FOCUS_TEXT, {"type": "null"}],
                "description": "The editor's focus; null goes back to the one imgsvc finds.",
            }
        },
    }


def _focus_schema() -> dict[str, Any]:
    fraction = {"type": "number", "minimum": 0, "maximum": 1}
    return {
        "type": ["object", "null"],
        "required": ["x", "y", "w", "h", "source"],
        "properties": {
            **{name: fraction for name in ("x", "y", "w", "h")},
            "source": {"enum": ["editor", "faces", "attention", "centre"]},
        },
        "description": "What the crops are placed around, in fractions of the upright "
        "image; null for a set stored before it was recorded.",
    }


def _crop_schema(variant: dict[str, Any], dims: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["aspect", "box", "width", "height", "format", "srcset", "src", "variants"],
        "properties": {
            "aspect": {"type": "string", "pattern": "^[0-9]+:[0-9]+$"},
            "box": {
                "type": "array",
                "items": {"type": "integer", "minimum": 0},
                "minItems": 4,
                "maxItems": 4,
                "description": "left, top, right, bottom in pixels of the upright source",
            },
            **dims,
            "format": {"enum": list(OUTPUT_FORMATS)},
            "srcset": {"type": "string"},
            "src": {"type": "string"},
            "variants": {"type": "array", "minItems": 1, "items": variant},
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
                "focus": _focus_schema(),
                "crops": {
                    "type": "object",
                    "additionalProperties": _crop_schema(variant, dims),
                    "description": "One entry per `[[crops]]` profile; {} without any.",
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
