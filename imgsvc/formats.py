"""The one registry of image formats: what imgsvc reads, what it writes, and how.

One record per format, after imgproxy's ``imagetype/defs.go``. Every fact that
depends on the format lives here and nowhere else: the extension of its keys, its
MIME type, whether it animates, the largest side its encoder takes, the parameters
its encoder gets, and where it ranks when a browser may choose among several. The
sniffer, the encoders, the key layout, the content types of stored objects, the
settings' validation and the ``<picture>`` helper all read this table.

Adding an output format is one record here (plus, if Pillow needs it, a line in the
encoder): nothing else names formats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import Any

#: WebP's VP8 bitstream stores each side in 14 bits.
WEBP_MAX_SIDE = 16383


@dataclass(frozen=True, slots=True)
class Format:
    """One image format as imgsvc knows it.

    ``name`` is imgsvc's own (in settings, manifests, keys); ``pillow`` is the name
    Pillow's ``open(formats=...)`` and ``save`` take. ``source`` says imgsvc accepts
    it as an upload, ``output`` that it can encode conversions in it. ``animated``
    sources may have frames (a multi-frame JPEG is a stereo pair, not a movie);
    an ``animated`` output keeps them. An output without ``alpha`` gets transparency
    flattened onto white. ``rank``: smaller files first, as a browser takes the first
    ``<source>`` it supports.
    """

    name: str
    pillow: str
    ext: str
    mime: str
    source: bool
    output: bool
    animated: bool = False
    alpha: bool = True
    max_side: int = 65535
    encoder: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    rank: int = 100
    #: What replaces entries of ``encoder`` at the widths quality targeting searches
    #: (several trial encodes each: ``pipeline/targeting.py``, ``searched``).
    search_encoder: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


#: As an output, for social cards and mail (LinkedIn and many mail clients take no
#: WebP): progressive, Huffman tables optimised (smaller at no loss), 4:2:0, sRGB with
#: no profile (the pipeline converts to sRGB), transparency flattened onto white.
JPEG = Format(
    "jpeg",
    "JPEG",
    "jpg",
    "image/jpeg",
    source=True,
    output=True,
    alpha=False,
    encoder=MappingProxyType({"progressive": True, "optimize": True, "subsampling": "4:2:0"}),
    rank=2,
)
PNG = Format("png", "PNG", "png", "image/png", source=True, output=False, animated=True)
GIF = Format("gif", "GIF", "gif", "image/gif", source=True, output=False, animated=True)
#: ``method`` 4 of libwebp's 0-6: the speed/size point sharp and cwebp default to.
#: With a quality target, method 2 at the searched widths (480 and 768 px by default),
#: whose several trials each are most of targeting's CPU: libwebp without its
#: rate-distortion passes, 0.41-0.43x method 4's CPU per encode for 5% more bytes at
#: SSIMULACRA2 70 there (geometric mean over the corpus), on widths that carry about a
#: seventh of a set's bytes; method 3 saves nothing on 4 (the same CPU and bytes).
#: ``benchmarks/quality_methods.py``, ``docs/quality.md``.
WEBP = Format(
    "webp",
    "WEBP",
    "webp",
    "image/webp",
    source=True,
    output=True,
    animated=True,
    max_side=WEBP_MAX_SIDE,
    encoder=MappingProxyType({"method": 4}),
    rank=1,
    search_encoder=MappingProxyType({"method": 2}),
)
AVIF = Format("avif", "AVIF", "avif", "image/avif", source=True, output=True, rank=0)

FORMATS: Mapping[str, Format] = MappingProxyType({f.name: f for f in (JPEG, PNG, GIF, WEBP, AVIF)})
#: The format of the srcset and of ``src``: every browser in use decodes it.
PRIMARY = WEBP
SOURCE_FORMATS = tuple(name for name, f in FORMATS.items() if f.source)
OUTPUT_FORMATS = tuple(name for name, f in FORMATS.items() if f.output)

#: Content types of every kind of object imgsvc stores, by key extension. Python's
#: ``mimetypes`` knows no ``.webp`` before 3.13 unless the host has /etc/mime.types.
CONTENT_TYPES: Mapping[str, str] = MappingProxyType(
    {**{f.ext: f.mime for f in FORMATS.values()}, "jpeg": JPEG.mime, "json": "application/json"}
)


def get(name: str) -> Format:
    """The record of ``name``; ``KeyError`` for a format imgsvc does not know."""
    return FORMATS[name]


def content_type_of(key: str) -> str:
    """The content type of a stored object, from its key's extension."""
    ext = PurePosixPath(key).suffix.removeprefix(".").lower()
    return CONTENT_TYPES.get(ext, "application/octet-stream")


def max_side(names: tuple[str, ...]) -> int:
    """The largest side every one of these output formats can encode."""
    return min(FORMATS[n].max_side for n in names)


def by_preference(names: tuple[str, ...] | list[str]) -> list[str]:
    """``names`` best first for a ``<picture>`` (AVIF before WebP); unknown ones last."""
    return sorted(dict.fromkeys(names), key=lambda n: FORMATS[n].rank if n in FORMATS else 999)
