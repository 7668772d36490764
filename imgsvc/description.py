"""The manifest stored beside each image, and the description clients receive.

The manifest records keys and sizes, never URLs: URLs are derived from the
current ``public_base_url`` when a description is made, so moving the bucket
behind a CDN needs no re-conversion.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from .naming import public_url
from .pipeline import PIPELINE_VERSION, WEBP_METHOD, Conversion
from .settings import Settings
from .srcset import srcset

MANIFEST_SCHEMA = 1


def fingerprint(settings: Settings) -> str:
    """What the conversions depend on; a manifest with another one is outdated."""
    recipe = {
        "pipeline": PIPELINE_VERSION,
        "webp_method": WEBP_METHOD,
        "sizes": [[s.name, s.width] for s in settings.sizes],
        "formats": {fmt: settings.quality_for(fmt) for fmt in settings.formats},
    }
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()
    return digest[:16]


def build_manifest(
    media_id: str,
    file_base: str,
    original_key: str,
    conversion: Conversion,
    variant_keys: Sequence[str],
    settings: Settings,
) -> dict[str, Any]:
    src = conversion.source
    return {
        "schema": MANIFEST_SCHEMA,
        "id": media_id,
        "file_base": file_base,
        "width": src.width,
        "height": src.height,
        "frames": src.frames,
        "fingerprint": fingerprint(settings),
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


def describe(manifest: dict[str, Any], base_url: str, fmt: str = "webp") -> dict[str, Any]:
    """The client-facing description: the manifest plus URLs, srcset and src."""
    variants = [{**v, "url": public_url(base_url, v["key"])} for v in manifest["variants"]]
    primary = [v for v in variants if v["format"] == fmt]
    original = {**manifest["original"], "url": public_url(base_url, manifest["original"]["key"])}
    return {
        "id": manifest["id"],
        "srcset": srcset(variants, fmt),
        "src": max(primary, key=lambda v: v["width"])["url"],
        "width": manifest["width"],
        "height": manifest["height"],
        "frames": manifest.get("frames", 1),
        "variants": variants,
        "original": original,
        "placeholder": manifest.get("placeholder"),
        "fingerprint": manifest["fingerprint"],
    }
