"""bulk.idspace: the share of the id space behind a listing estimates its total, and
the space cuts into shards that cover it exactly once, in listing order."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import pytest

from imgsvc.bulk.idspace import IdSpace, after_image, id_prefix_of
from imgsvc.storage import FileStorage


def ids(count: int, seed: int, prefix: str = "") -> list[str]:
    """Sorted random uuid4s starting with ``prefix`` (hex digits only)."""
    rng = random.Random(seed)
    rest = 128 - 4 * len(prefix)
    made = (int(prefix or "0", 16) << rest | rng.getrandbits(rest) for _ in range(count))
    return sorted(str(uuid.UUID(int=n, version=4)) for n in made)


@pytest.mark.parametrize(
    ("key_prefix", "expected"),
    [
        ("news-by/", ""),
        ("news", ""),
        ("", ""),
        ("news-by/0", "0"),
        ("news-by/0a1c2d3e", "0a1c2d3e"),
        ("news-by/0a1c2d3e-", "0a1c2d3e-"),
        ("news-by/0a1c2d3e-4", "0a1c2d3e-4"),
        ("news-by/0A", None),  # ids are lower-case: nothing matches
        ("news-by/0a1-", None),  # a dash where no UUID has one
        ("news-by/g", None),
        ("news-by/0a1c2d3e-4bd4-4d6f-9e4e-0b5b9d7a1a01/", None),  # inside one image
        ("other/", None),
    ],
)
def test_the_id_prefix_of_a_key_prefix(key_prefix: str, expected: str | None) -> None:
    assert id_prefix_of(key_prefix, "news-by/") == expected


def test_the_fraction_grows_with_the_id_and_ends_at_one() -> None:
    space = IdSpace()
    assert space.fraction("00000000-0000-4000-8000-000000000000") == pytest.approx(0, abs=1e-12)
    assert space.fraction("80000000-0000-4000-8000-000000000000") == pytest.approx(0.5)
    assert space.fraction("ffffffff-ffff-4fff-bfff-ffffffffffff") == 1.0
    assert IdSpace("8").fraction("8c000000-0000-4000-8000-000000000000") == pytest.approx(0.75)


@pytest.mark.parametrize("prefix", ["", "0", "a7"])
def test_the_estimate_part_way_is_close_to_the_total(prefix: str) -> None:
    """Uniform ids: a third of the way in, the estimate is within a few percent."""
    listed = ids(3000, seed=len(prefix), prefix=prefix)
    space = IdSpace(prefix)
    third = len(listed) // 3
    assert space.estimate(10, listed[9]) is None  # too few to say
    estimate = space.estimate(third, listed[third - 1])
    assert estimate is not None and abs(estimate - len(listed)) / len(listed) < 0.12
    assert space.estimate(len(listed), listed[-1]) == pytest.approx(len(listed), rel=0.01)


def test_shards_cover_the_space_once_in_order() -> None:
    assert IdSpace().shards(16) == list("0123456789abcdef")
    two = IdSpace().shards(256)
    assert two[:2] == ["00", "01"] and two[-1] == "ff" and two == sorted(set(two))
    assert IdSpace("0").shards(16)[:2] == ["00", "01"]
    assert IdSpace("0a1c2d3").shards(16)[0] == "0a1c2d30"
    assert IdSpace("0a1c2d3e").shards(16)[1] == "0a1c2d3e-1"  # the dash where UUIDs have it
    everything = ids(500, seed=7)
    owned = [[i for i in everything if i.startswith(s)] for s in IdSpace().shards(256)]
    assert [i for part in owned for i in part] == everything


@pytest.mark.parametrize("count", [0, 2, 100, 65536])
def test_only_whole_hex_digits_make_shards(count: int) -> None:
    with pytest.raises(ValueError, match="16, 256 or 4096"):
        IdSpace().shards(count)


def test_a_cursor_after_an_image_skips_its_keys_and_nothing_else(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path)
    a, b = ids(2, seed=3)
    keys = [
        f"news-by/{a}/a.jpg",
        f"news-by/{a}/conversions/a-sm-___webp_480.webp",
        f"news-by/{a}/manifest.json",
        f"news-by/{b}/b.jpg",
        f"news-by/{b}/manifest.json",
    ]
    for key in keys:
        storage.put(key, b"x", "application/octet-stream")
    after = after_image("news-by/", a)
    assert list(storage.list("news-by/", start_after=after)) == keys[3:]
