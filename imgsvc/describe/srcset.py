"""The srcset string from a description's variants (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .. import formats


def srcset(variants: Iterable[Mapping[str, Any]], fmt: str = formats.PRIMARY.name) -> str:
    """``URL WIDTHw`` entries of one format, joined by ``", "``, narrowest first."""
    chosen = sorted((v for v in variants if v["format"] == fmt), key=lambda v: v["width"])
    return ", ".join(f"{v['url']} {v['width']}w" for v in chosen)
