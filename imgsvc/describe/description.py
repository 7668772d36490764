"""The description clients receive: the manifest plus URLs, the srcset and ``src``."""

from __future__ import annotations

from typing import Any

from .. import formats
from .srcset import srcset


def describe(
    manifest: dict[str, Any], base_url: str, fmt: str = formats.PRIMARY.name
) -> dict[str, Any]:
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
        # For the CMS to prefill; {} when the source says nothing (or was stored earlier).
        "credit": manifest.get("credit", {}),
        "fingerprint": manifest["fingerprint"],
    }


def public_url(base_url: str, key: str) -> str:
    """``{public_base_url}/{key}`` with exactly one slash between them."""
    return f"{base_url.rstrip('/')}/{key}"
