"""Where a listing is in the space of media ids, and how to cut that space in shards.

Media ids are UUIDs, lower-case ``8-4-4-4-12`` hex, and uniformly random in their
leading digits (uuid4; a client's own ids are assumed to be as well). The listing
returns them in order, so the hex value of the last id listed says which fraction
of the (prefix-restricted) id space is behind it, and ``listed / fraction``
estimates the total without a second, counting listing. With ``n`` images
listed the estimate is off by about ``1/sqrt(n)``: it is shown once a few dozen
images are in, and always marked as an estimate.

The same digits cut the space in shards for distributed planning: 16, 256 or 4096
prefixes of one, two or three leading hex digits, each listed by its own task.
"""

from __future__ import annotations

from dataclasses import dataclass

HEX = "0123456789abcdef"
#: Dashes of a canonical UUID, by the count of hex digits before them.
_DASHES_AFTER = (8, 12, 16, 20)
#: Leading digits that are uniformly random in a uuid4 (digit 13 is its version).
_RANDOM_DIGITS = 12
#: Shard counts on offer: one, two or three leading hex digits.
SHARD_COUNTS = (16, 256, 4096)
#: Images listed before an estimate of the total is shown (about +-14 % then).
MIN_FOR_ESTIMATE = 50


def id_prefix_of(key_prefix: str, base: str) -> str | None:
    """The leading part of the ids a listing of ``key_prefix`` can yield, dashes
    included (``news-by/0a`` under ``news-by/``: ``0a``); ``""`` for the whole
    space; None when it is not a run of id digits (a key inside one image,
    upper-case, or outside ``base``)."""
    if base.startswith(key_prefix):
        return ""
    if not key_prefix.startswith(base):
        return None
    rest = key_prefix[len(base) :]
    digits = rest.replace("-", "")
    if rest.endswith("-") and len(digits) not in _DASHES_AFTER:
        return None
    if len(rest) > 36 or rest.removesuffix("-") != canonical(digits):
        return None
    return rest


def canonical(digits: str) -> str:
    """Hex digits with the dashes of a UUID put back where they belong."""
    if any(c not in HEX for c in digits):
        return ""
    out = []
    for i, c in enumerate(digits):
        if i in _DASHES_AFTER:
            out.append("-")
        out.append(c)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class IdSpace:
    """The ids that start with ``prefix`` (hex digits and dashes, ``""`` for all)."""

    prefix: str = ""

    def fraction(self, media_id: str) -> float:
        """The share of this space at or before ``media_id``, in (0, 1]."""
        skip = len(self.prefix.replace("-", ""))
        digits = media_id.replace("-", "")[skip : skip + _RANDOM_DIGITS]
        if not digits:
            return 1.0
        return (int(digits, 16) + 1) / 16 ** len(digits)

    def estimate(self, listed: int, last_id: str) -> int | None:
        """The images in the whole space, from ``listed`` up to ``last_id``; None
        while too few are in for the figure to mean anything."""
        if listed < MIN_FOR_ESTIMATE:
            return None
        return max(listed, round(listed / self.fraction(last_id)))

    def shards(self, count: int) -> list[str]:
        """``count`` id prefixes (16, 256 or 4096) that cut this space in equal parts.

        Raises ``ValueError`` for another count, or when the space is too narrow to cut.
        """
        if count not in SHARD_COUNTS:
            raise ValueError("must be 16, 256 or 4096 (one, two or three leading hex digits)")
        width = SHARD_COUNTS.index(count) + 1
        own = self.prefix.replace("-", "")
        if len(own) + width > _RANDOM_DIGITS:
            raise ValueError(f"the prefix {self.prefix!r} is too narrow to cut in {count} shards")
        return [canonical(own + f"{n:0{width}x}") for n in range(count)]


def after_image(base: str, media_id: str) -> str:
    """A listing cursor (S3's StartAfter) that skips every key of the image: its keys
    all start ``{base}{id}/``, and ``0`` sorts after ``/``, before any later id."""
    return f"{base}{media_id}0"
