"""Fuzzing the decoder entry point, ``pipeline.convert``, with hostile bytes.

Every input must end as a conversion or as one of the documented errors (an
``ImgsvcError``), never another exception, with the work of each input bounded by
the limits (pixels times frames, never the clock: a slow machine must not fail a
test; a hang is what pytest-timeout's bound catches) and a memory bound for the run.
Inputs: random bytes, random bytes behind each allowed format's magic, seeds of
every allowed format (stills, animations, metadata, ICC profiles) mutated
byte-wise, and headers with hostile dimensions.

Budget: ``IMGSVC_FUZZ_EXAMPLES`` examples per test (default 100, ~20 s in all);
``IMGSVC_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz.py`` for a long run. A crash
found is written to ``.cache/fuzz-crashes/``; the smallest goes into
``tests/fuzz_corpus/`` (small files only), which ``test_corpus`` replays for ever after.
"""

from __future__ import annotations

import hashlib
import os
import resource
import struct
import zlib
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imgsvc.errors import ImgsvcError
from imgsvc.pipeline import PipelineConfig, convert
from imgsvc.settings import Settings, Size

from ..support import images

# Hostile headers claim huge sizes on purpose; Pillow's warning about them is expected.
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "fuzz_corpus"
CRASHES = ROOT / ".cache" / "fuzz-crashes"
EXAMPLES = int(os.environ.get("IMGSVC_FUZZ_EXAMPLES", "100"))
#: Peak RSS of the whole test process; the limits below keep one input far under it.
MAX_RSS_BYTES = 1536 * 1024 * 1024
#: Small outputs and limits: hostile headers are what is tested, not big pictures.
SETTINGS = Settings.load(
    {},
    sizes=(Size("sm", 64), Size("md", 160)),
    max_pixels=2_000_000,
    max_frames=40,
    max_upload_bytes=1_000_000,
    formats=("webp", "avif"),
)
# No database= here: the active profile chooses it. On CI hypothesis loads its own
# "ci" profile (derandomized, no database), and an explicit database is an error there.
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # speed is not asserted; the work per input is, below
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check(data: bytes) -> str:
    """Convert ``data``; return the outcome, failing on anything undocumented."""
    try:
        conversion = convert(data, PipelineConfig.from_settings(SETTINGS))
    except ImgsvcError as exc:
        assert 400 <= exc.status_code < 500, f"{exc.code} is not a client error"
        outcome = exc.code
    except Exception:
        _save(data)
        raise
    else:
        assert conversion.variants and all(v.data for v in conversion.variants)
        source = conversion.source
        decoded = source.width * source.height * source.frames
        assert decoded <= SETTINGS.max_pixels, f"decoded {decoded} pixels past the limit"
        outcome = "converted"
    return outcome


def _save(data: bytes) -> None:
    """Keep a crashing input (shrinking saves many: copy the smallest to the corpus)."""
    CRASHES.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(data).hexdigest()[:16]
    (CRASHES / f"crash-{len(data):07d}-{name}.bin").write_bytes(data)


@cache
def seeds() -> tuple[bytes, ...]:
    """Small, valid images of every allowed format and the features decoders parse."""
    return (
        images.oriented_jpeg(6),
        images.with_metadata("JPEG"),
        images.cmyk_jpeg(adobe=False),
        images.encode(images.gradient((40, 30)), "JPEG", progressive=True),
        images.mpo((24, 16)),
        images.with_metadata("PNG"),
        images.png16_grey(30000, (24, 16)),
        images.palette_with_transparency("PNG", (24, 16)),
        images.tagged((200, 30, 60), images.display_p3(), "PNG", (16, 12)),
        images.animation("PNG", (24, 16)),
        images.animation("GIF", (24, 16)),
        images.palette_with_transparency("GIF", (24, 16)),
        images.with_metadata("WEBP", (24, 16)),
        images.encode(images.gradient((24, 16), "RGBA"), "WEBP", lossless=True),
        images.animation("WEBP", (24, 16)),
        images.avif((24, 16)),
    )


def mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """Apply (kind, position, bytes) edits: flip, overwrite, insert, delete, truncate."""
    out = bytearray(data)
    for kind, pos, blob in edits:
        if not out:
            break
        at = pos % len(out)
        if kind == 0:
            out[at] ^= 1 << (pos % 8)
        elif kind == 1:
            out[at : at + len(blob)] = blob
        elif kind == 2:
            out[at:at] = blob
        elif kind == 3:
            del out[at : at + 1 + len(blob) * 8]
        else:
            del out[at:]
    return bytes(out)


EDITS = st.lists(
    st.tuples(
        st.integers(0, 4),
        st.integers(0, 1 << 20),
        st.one_of(
            st.binary(min_size=1, max_size=8),
            st.sampled_from([b"\xff" * 4, b"\x00" * 4, b"\x7f\xff\xff\xff", b"\xff\xd8\xff"]),
        ),
    ),
    min_size=1,
    max_size=6,
)
MAGIC = [
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF89a",
    b"RIFF\x00\x00\x00\x00WEBP",
    b"\x00\x00\x00\x1cftypavif",
]


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    check(data)


@FUZZ
@given(st.sampled_from(MAGIC), st.binary(max_size=4096))
def test_random_bytes_behind_a_magic_number(magic: bytes, rest: bytes) -> None:
    check(magic + rest)


@FUZZ
@given(st.integers(0, 1000), EDITS)
def test_mutated_images(which: int, edits: list[tuple[int, int, bytes]]) -> None:
    all_seeds = seeds()
    check(mutate(all_seeds[which % len(all_seeds)], edits))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


DIMENSION = st.one_of(st.integers(0, 70000), st.sampled_from([0, 1, 2**31 - 1, 2**32 - 1]))


@FUZZ
@given(DIMENSION, DIMENSION, st.sampled_from([1, 2, 4, 8, 16]), st.integers(0, 6), EDITS)
def test_png_headers(width: int, height: int, depth: int, colour: int, edits: list) -> None:
    """Valid CRCs, so the decoder gets past the checksum to the hostile numbers."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    body = mutate(zlib.compress(b"\0" * 64), edits)
    plte = _chunk(b"PLTE", b"\x00\x80\xff" * 4) if colour == 3 else b""
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + plte + _chunk(b"IDAT", body)
    check(data + _chunk(b"IEND", b""))


@FUZZ
@given(DIMENSION, DIMENSION, st.integers(0, 1000), EDITS)
def test_gif_and_jpeg_dimensions(width: int, height: int, which: int, edits: list) -> None:
    """Rewrite the stated size of a GIF screen or a JPEG frame, then mutate."""
    gif = bytearray(images.animation("GIF", (24, 16)))
    gif[6:10] = struct.pack("<HH", width & 0xFFFF, height & 0xFFFF)
    jpeg = bytearray(images.oriented_jpeg(1))
    sof = jpeg.find(b"\xff\xc0")
    if sof > 0:
        jpeg[sof + 5 : sof + 9] = struct.pack(">HH", height & 0xFFFF, width & 0xFFFF)
    check(mutate(bytes(gif if which % 2 else jpeg), edits))


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.bin")), ids=lambda p: p.name)
def test_corpus(path: Path) -> None:
    """Every input that once crashed ends as a documented outcome now."""
    check(path.read_bytes())


def test_seeds_convert_and_memory_stayed_bounded() -> None:
    """Runs last in this module: the seeds are valid, and the fuzzing above stayed small."""
    assert all(check(seed) == "converted" for seed in seeds())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert peak < MAX_RSS_BYTES, f"peak RSS {peak >> 20} MiB"
