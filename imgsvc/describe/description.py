"""The description clients receive: the manifest plus URLs, the srcset and ``src``."""

from __future__ import annotations

from typing import Any

from .. import formats
from .srcset import srcset


def describe(
    manifest: dict[str, Any], base_url: str, fmt: str = formats.PRIMARY.name
) -> dict[str, Any]:
    """The client-facing description: the manifest plus URLs, srcset and src."""
    variants = _with_urls(manifest["variants"], base_url)
    primary = [v for v in variants if v["format"] == fmt]
    original = {**manifest["original"], "url": public_url(base_url, manifest["original"]["key"])}
    crops = {
        name: _crop(crop, base_url, fmt) for name, crop in (manifest.get("crops") or {}).items()
    }
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
        # What the crops were placed around; None for a set stored before it was recorded.
        "focus": manifest.get("focus"),
        "crops": crops,
        "fingerprint": manifest["fingerprint"],
    }


def _with_urls(variants: list[dict[str, Any]], base_url: str) -> list[dict[str, Any]]:
    return [{**v, "url": public_url(base_url, v["key"])} for v in variants]


def _crop(crop: dict[str, Any], base_url: str, fmt: str) -> dict[str, Any]:
    """One crop as a small description of its own: the srcset is of the primary format
    when the crop has it, else of its first format (a JPEG-only social card)."""
    variants = _with_urls(crop["variants"], base_url)
    formats_in = [v["format"] for v in variants]
    chosen = fmt if fmt in formats_in else formats_in[0]
    widest = max((v for v in variants if v["format"] == chosen), key=lambda v: v["width"])
    left, top, right, bottom = crop["box"]
    return {
        "aspect": crop["aspect"],
        "box": list(crop["box"]),
        "width": right - left,
        "height": bottom - top,
        "format": chosen,
        "srcset": srcset(variants, chosen),
        "src": widest["url"],
        "variants": variants,
    }


def public_url(base_url: str, key: str) -> str:
    """``{public_base_url}/{key}`` with exactly one slash between them."""
    return f"{base_url.rstrip('/')}/{key}"
