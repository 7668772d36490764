"""The manifest stored beside each image: what a complete set holds.

The manifest records keys and sizes, never URLs: URLs are derived from the
current ``public_base_url`` when a description is made (``description.py``), so
moving the bucket behind a CDN needs no re-conversion.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..pipeline import PIPELINE_VERSION, Conversion

MANIFEST_SCHEMA = 1
#: What reading or describing a manifest of the wrong shape raises.
MALFORMED = (ValueError, KeyError, TypeError, AttributeError)


def build_manifest(
    media_id: str,
    file_base: str,
    original_key: str,
    conversion: Conversion,
    variant_keys: Sequence[str],
    fingerprint: str,
) -> dict[str, Any]:
    """``fingerprint``: that of the pipeline configuration the conversion was made with."""
    src = conversion.source
    return {
        "schema": MANIFEST_SCHEMA,
        "id": media_id,
        "file_base": file_base,
        "width": src.width,
        "height": src.height,
        "frames": src.frames,
        "fingerprint": fingerprint,
        "pipeline_version": PIPELINE_VERSION,
        "converted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "original": {
            "key": original_key,
            "width": src.width,
            "height": src.height,
            "content_type": src.content_type,
            "bytes": src.bytes,
            "sha256": src.sha256,
        },
        "variants": [
            {
                "size": v.size,
                "width": v.width,
                "height": v.height,
                "format": v.format,
                "key": key,
                "bytes": len(v.data),
            }
            for v, key in zip(conversion.variants, variant_keys, strict=True)
        ],
        "placeholder": conversion.placeholder.to_dict(),
    }


def manifest_keys(manifest: dict[str, Any]) -> set[str]:
    """Every object key a manifest vouches for (original and conversions)."""
    return {manifest["original"]["key"], *(v["key"] for v in manifest["variants"])}
