"""A page of the library: the descriptions of stored images in listing order, and
the cursor that continues after them. The cursor is opaque to clients (they must not
build one): the last media id of the page, base64url."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import BadRequest, ImgsvcError
from ..storage.keys import parse_media_id
from .manifest import MALFORMED

#: The most images one page of ``GET /v1/images`` lists.
MAX_PAGE = 1000


def check_limit(limit: int) -> int:
    """``limit`` when within 1..``MAX_PAGE``; ``BadRequest`` otherwise."""
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be within 1..{MAX_PAGE}, got {limit}", code="invalid_limit")
    return limit


def page(
    manifests: Iterable[dict[str, Any]],
    describe: Callable[[dict[str, Any]], dict[str, Any]],
    last: str | None,
) -> dict[str, Any]:
    """``{"images": [descriptions], "next_cursor": str | None}``, each manifest described
    by ``describe``; one that cannot be described is no image (``GET /v1/images/{id}``
    answers 404 for it) and is left out."""
    images = []
    for manifest in manifests:
        try:
            images.append(describe(manifest))
        except MALFORMED:
            continue
    return {"images": images, "next_cursor": cursor_of(last) if last else None}


def cursor_of(media_id: str) -> str:
    return base64.urlsafe_b64encode(media_id.encode()).decode().rstrip("=")


def cursor_id(cursor: str) -> str:
    """The media id a cursor continues after; ``BadRequest`` for anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return parse_media_id(text)
    except (ValueError, binascii.Error, ImgsvcError) as exc:
        raise BadRequest(
            "cursor is not one this service handed out (send next_cursor as it came)",
            code="invalid_cursor",
        ) from exc
