"""describe.srcset: the ``srcset`` attribute from a description's variants."""

from __future__ import annotations

from typing import Any

from imgsvc.describe import srcset


def variant(fmt: str, width: int) -> dict[str, Any]:
    return {"format": fmt, "width": width, "url": f"https://cdn.example/{fmt}-{width}.{fmt}"}


def test_narrowest_first_whatever_the_order_given() -> None:
    """Browsers accept any order; a fixed one keeps markup and caches stable."""
    variants = [variant("webp", 1280), variant("webp", 480), variant("webp", 768)]
    assert srcset(variants) == (
        "https://cdn.example/webp-480.webp 480w, "
        "https://cdn.example/webp-768.webp 768w, "
        "https://cdn.example/webp-1280.webp 1280w"
    )


def test_only_one_format_is_listed() -> None:
    """A srcset cannot say types: mixing AVIF into WebP's would break older browsers."""
    variants = [variant("avif", 480), variant("webp", 480), variant("avif", 768)]
    assert srcset(variants) == "https://cdn.example/webp-480.webp 480w"
    assert srcset(variants, "avif") == (
        "https://cdn.example/avif-480.avif 480w, https://cdn.example/avif-768.avif 768w"
    )


def test_no_variant_of_the_format_gives_an_empty_srcset() -> None:
    assert srcset([variant("webp", 480)], "avif") == ""
    assert srcset([]) == ""
