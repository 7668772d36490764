"""Object keys and safe file bases: the storage layout in one place.

(Content types by extension are the format registry's: ``formats.content_type_of``.)

Defaults reproduce the news site's bucket::

    {prefix}/{media_id}/conversions/{file_base}-{size}-___webp_{width}.webp
    {prefix}/{media_id}/{file_base}.{ext}
    {prefix}/{media_id}/manifest.json
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from pathlib import PurePosixPath, PureWindowsPath

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


def original_key(prefix: str, media_id: str, file_base: str, ext: str) -> str:
    return f"{image_prefix(prefix, media_id)}{file_base}.{ext}"


def manifest_key(prefix: str, media_id: str) -> str:
    return f"{image_prefix(prefix, media_id)}manifest.json"
