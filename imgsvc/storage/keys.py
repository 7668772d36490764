"""Object keys and safe file bases: the storage layout in one place.

(Content types by extension are the format registry's: ``formats.content_type_of``.)

Defaults reproduce the news site's bucket::

    {prefix}/{media_id}/conversions/{file_base}-{size}-___webp_{width}.webp
    {prefix}/{media_id}/{file_base}.{ext}
    {prefix}/{media_id}/manifest.json

and, for each ``[[crops]]`` profile (none by default)::

    {prefix}/{media_id}/crops/{crop}/{file_base}-{left}-{top}-{right}-{bottom}-___{fmt}_{width}.{ext}

A crop's keys can never equal a key of the main set (another folder) or of another
crop (a folder per crop name; names are unique and hold no ``/``). The crop box (in
pixels of the upright source) is in the key, exactly: a new focus that moves the box
gives new keys, so the old objects stay whole until the new manifest lands, and no
cache can keep showing the old framing under the URL of the new one. (A digest of the
box would be shorter, and could collide.)
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from .. import formats
from ..errors import BadRequest, ImgsvcError, NotFound

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
MAX_FILE_BASE = 100
#: Latin letters that Unicode does not decompose into a base letter and an accent.
_LATIN_LETTERS = str.maketrans(
    {"Æ": "AE", "æ": "ae", "Ø": "O", "ø": "o", "Œ": "OE", "œ": "oe", "ß": "ss", "Ł": "L",
     "ł": "l", "Đ": "D", "đ": "d", "Þ": "TH", "þ": "th", "Ð": "D", "ð": "d", "\u0131": "i"}
)  # fmt: skip


def new_media_id() -> str:
    return str(uuid.uuid4())


def parse_media_id(value: str) -> str:
    """Accept a client's media id only as a UUID in its 8-4-4-4-12 form (any case).

    Returned in lower case. ``uuid.UUID`` alone would also take braces, ``urn:uuid:``
    prefixes, bare hex and hyphens anywhere: one image, many spellings.
    """
    text = value.strip() if isinstance(value, str) else ""
    if not _CANONICAL_UUID.fullmatch(text):
        raise BadRequest(f"media_id must be a UUID, got {value!r}", code="invalid_media_id")
    return str(uuid.UUID(text))


def lookup_media_id(value: str) -> str:
    """An id in a lookup that is not a UUID cannot exist: ``NotFound``, not 400."""
    try:
        return parse_media_id(value)
    except ImgsvcError as exc:
        raise NotFound(f"no image {value!r}") from exc


def safe_file_base(filename: str | None) -> str:
    """The client's file name without directories or extension, made key-safe.

    Only ASCII letters, digits, ``-`` and ``_`` survive: accents are folded to
    ASCII (``café`` -> ``cafe``, ``Ærø`` -> ``AEro``), any other run of characters
    becomes one ``-``. When nothing safe is left, a new uuid4.
    """
    name = PureWindowsPath(PurePosixPath(filename or "").name).name
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    decomposed = unicodedata.normalize("NFKD", stem.translate(_LATIN_LETTERS))
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    safe = _UNSAFE.sub("-", folded).strip("-_")[:MAX_FILE_BASE].strip("-_")
    return safe or str(uuid.uuid4())


def replacement_file_base(file_base: str, sha256: str) -> str:
    """The file base of a set that replaces another: the name plus the first 8 hex
    digits of the new original's SHA-256.

    Conversions are cached (up to a year), so new content must never take URLs that
    other content had; a suffix from the content itself cannot repeat for another
    photo, however often a media record is replaced.
    """
    return f"{file_base[: MAX_FILE_BASE - 9]}-{sha256[:8]}"


def layout_base(key_prefix: str) -> str:
    """The part of every key before the media id."""
    return f"{key_prefix}/" if key_prefix else ""


def media_id_of(key: str, base: str) -> str | None:
    """The media id of a key in the layout (``base`` from ``layout_base``), else None."""
    if not key.startswith(base):
        return None
    media_id, sep, rest = key[len(base) :].partition("/")
    if not sep or not rest:
        return None
    try:
        canonical = str(uuid.UUID(media_id))
    except ValueError:
        return None
    return media_id if canonical == media_id else None


def image_prefix(prefix: str, media_id: str) -> str:
    return f"{prefix}/{media_id}/" if prefix else f"{media_id}/"


def conversion_key(
    prefix: str,
    media_id: str,
    file_base: str,
    size: str,
    width: int,
    fmt: str = formats.PRIMARY.name,
) -> str:
    ext = formats.get(fmt).ext
    return f"{image_prefix(prefix, media_id)}conversions/{file_base}-{size}-___{fmt}_{width}.{ext}"


def crop_key(
    prefix: str,
    media_id: str,
    file_base: str,
    crop: str,
    box: tuple[int, int, int, int] | list[int],
    width: int,
    fmt: str,
) -> str:
    where = "-".join(str(int(v)) for v in box)
    ext = formats.get(fmt).ext
    return (
        f"{image_prefix(prefix, media_id)}crops/{crop}/{file_base}-{where}-___{fmt}_{width}.{ext}"
    )


def original_key(prefix: str, media_id: str, file_base: str, ext: str) -> str:
    return f"{image_prefix(prefix, media_id)}{file_base}.{ext}"


def manifest_key(prefix: str, media_id: str) -> str:
    return f"{image_prefix(prefix, media_id)}manifest.json"


def file_base_beside(previous: dict[str, Any] | None, file_base: str, sha256: str) -> str:
    """The file base of an upload to a media id that may already have a set.

    The first set takes the plain name (the layout the news site's bucket has). A
    set that replaces another takes the name plus a digest of its own content:
    conversions are cached (for a day by default, up to a year where an operator made
    them immutable), so content written at URLs that other content had would stay
    hidden behind browser and CDN caches, and a failure
    part-way would leave one set mixing two photos. The same bytes under the same
    name again (a client's retry) keep the keys they have.
    """
    if previous is None:
        return file_base
    replacement = replacement_file_base(file_base, sha256)
    same_content = previous.get("original", {}).get("sha256") == sha256
    if same_content and previous.get("file_base") in (file_base, replacement):
        return str(previous["file_base"])
    return replacement
