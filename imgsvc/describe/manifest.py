"""The manifest stored beside each image: what a complete set holds.

The manifest records keys and sizes, never URLs: URLs are derived from the
current ``public_base_url`` when a description is made (``description.py``), so
moving the bucket behind a CDN needs no re-conversion.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..pipeline import PIPELINE_VERSION, Conversion, EncodedVariant
from ..pipeline.version import PIPELINE_REVISION

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
    crop_keys: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """``fingerprint``: that of the pipeline configuration the conversion was made with;
    ``crop_keys``: the keys of each crop's variants, by crop name, in their order."""
    src = conversion.source
    crop_keys = crop_keys or {}
    return {
        "schema": MANIFEST_SCHEMA,
        "id": media_id,
        "file_base": file_base,
        "width": src.width,
        "height": src.height,
        "frames": src.frames,
        "fingerprint": fingerprint,
        "pipeline_version": PIPELINE_VERSION,
        "pipeline_revision": PIPELINE_REVISION,
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
            _variant(v, key) for v, key in zip(conversion.variants, variant_keys, strict=True)
        ],
        "placeholder": conversion.placeholder.to_dict(),
        "credit": conversion.credit.to_dict(),
        "focus": conversion.focus.to_dict(),
        "crops": {
            c.name: {
                "aspect": "{}:{}".format(*c.aspect),
                "box": list(c.box),
                "variants": [
                    _variant(v, key) for v, key in zip(c.variants, crop_keys[c.name], strict=True)
                ],
            }
            for c in conversion.crops
        },
    }


def _variant(v: EncodedVariant, key: str) -> dict[str, Any]:
    """``quality`` always (the encoder setting used); ``score`` with a target only."""
    entry: dict[str, Any] = {
        "size": v.size,
        "width": v.width,
        "height": v.height,
        "format": v.format,
        "key": key,
        "bytes": len(v.data),
        "sha256": hashlib.sha256(v.data).hexdigest(),
        "quality": v.quality,
    }
    if v.score is not None:
        entry["score"] = round(v.score, 3)
    return entry


def all_variants(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The variants of the main set and of every crop (a manifest written before
    crops existed has none)."""
    crops = manifest.get("crops") or {}
    return [*manifest["variants"], *(v for c in crops.values() for v in c["variants"])]


def manifest_keys(manifest: dict[str, Any]) -> set[str]:
    """Every object key a manifest vouches for (original, conversions, crops)."""
    return {manifest["original"]["key"], *(v["key"] for v in all_variants(manifest))}


def changed_keys(
    previous: dict[str, Any] | None, manifest: dict[str, Any]
) -> tuple[list[str], list[str]]:
    """What a new set changed against the one it replaced: the keys whose bytes are
    new (absent before, or another digest there; a variant recorded before digests
    were kept counts as changed) and the keys the previous set had and this one has
    not. A cache holding any of them holds stale bytes (or a stale 404)."""
    before: dict[str, str | None] = {}
    if previous is not None:
        before = {v["key"]: v.get("sha256") for v in all_variants(previous)}
        before[previous["original"]["key"]] = previous["original"].get("sha256")
    now = {v["key"]: v.get("sha256") for v in all_variants(manifest)}
    now[manifest["original"]["key"]] = manifest["original"].get("sha256")
    changed = sorted(k for k, digest in now.items() if digest is None or before.get(k) != digest)
    return changed, sorted(set(before) - set(now))


def same_photo(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """Two manifests of one original: only the conversions can differ."""
    if a is None or b is None:
        return False
    sha256 = a["original"].get("sha256")
    return sha256 is not None and sha256 == b["original"].get("sha256")
