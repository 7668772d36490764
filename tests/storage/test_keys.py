"""storage.keys: safe file bases, the key layout and media ids."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imgsvc.describe import public_url
from imgsvc.errors import BadRequest
from imgsvc.formats import content_type_of
from imgsvc.storage.keys import (
    MAX_FILE_BASE,
    conversion_key,
    crop_key,
    image_prefix,
    manifest_key,
    media_id_of,
    new_media_id,
    original_key,
    parse_media_id,
    safe_file_base,
)

SEED_ID = "b797c7e7-f97e-44af-848a-64a0818214cd"
SEED_BASE = "368de410-6cb2-4516-89cf-b8b9e44746cf"
SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def is_uuid4(value: str) -> bool:
    try:
        return uuid.UUID(value).version == 4 and str(uuid.UUID(value)) == value
    except ValueError:
        return False


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        (f"{SEED_BASE}.jpg", SEED_BASE),
        ("photo.JPG", "photo"),
        ("my photo (1).jpeg", "my-photo-1"),
        ("../../etc/passwd", "passwd"),
        ("/var/www/uploads/cat.png", "cat"),
        ("C:\\Users\\me\\Desktop\\dog.gif", "dog"),
        ("archive.tar.gz", "archive-tar"),
        ("café au lait.webp", "cafe-au-lait"),
        ("Ærøskøbing.jpg", "AEroskobing"),
        ("Łódź straße.png", "Lodz-strasse"),
        ("a—b.jpg", "a-b"),
        ("Москва 2024.jpg", "2024"),
        (".hidden", "hidden"),
        ("no_extension", "no_extension"),
        ("a\x00b\r\nc.jpg", "a-b-c"),
        ("__--x--__.png", "x"),
        ("semi;colon&amp=1?.jpg", "semi-colon-amp-1"),
    ],
)
def test_safe_file_base(filename: str, expected: str) -> None:
    assert safe_file_base(filename) == expected


@pytest.mark.parametrize(
    "filename", [None, "", ".", "..", "...", "Фото.jpg", "写真.png", "🙂.gif", "/", "---.jpg"]
)
def test_nothing_safe_left_gives_a_new_uuid4(filename: str | None) -> None:
    first, second = safe_file_base(filename), safe_file_base(filename)
    assert is_uuid4(first) and is_uuid4(second)
    assert first != second


def test_a_long_name_is_cut_and_stays_safe() -> None:
    base = safe_file_base("x" * 99 + "-" + "y" * 300 + ".jpg")
    assert len(base) <= MAX_FILE_BASE and SAFE.match(base)
    assert not base.endswith("-")


def test_file_bases_are_always_key_safe() -> None:
    for name in ["a b", "%2e%2e%2fetc", "<script>.png", "a/../../b.jpg", "x\\..\\y.png", "ü.jpg"]:
        assert SAFE.match(safe_file_base(name)), name


def test_the_key_layout() -> None:
    assert (
        conversion_key("news-by", SEED_ID, SEED_BASE, "sm", 480)
        == f"news-by/{SEED_ID}/conversions/{SEED_BASE}-sm-___webp_480.webp"
    )
    assert (
        conversion_key("news-by", SEED_ID, SEED_BASE, "xl", 1920, "avif")
        == f"news-by/{SEED_ID}/conversions/{SEED_BASE}-xl-___avif_1920.avif"
    )
    assert (
        original_key("news-by", SEED_ID, SEED_BASE, "jpg") == f"news-by/{SEED_ID}/{SEED_BASE}.jpg"
    )
    assert manifest_key("news-by", SEED_ID) == f"news-by/{SEED_ID}/manifest.json"
    assert image_prefix("", SEED_ID) == f"{SEED_ID}/"
    assert manifest_key("", SEED_ID) == f"{SEED_ID}/manifest.json"


def test_public_url_joins_with_one_slash() -> None:
    key = f"news-by/{SEED_ID}/manifest.json"
    for base in (
        "https://s3-minsk.becloud.by/media-assets",
        "https://s3-minsk.becloud.by/media-assets/",
    ):
        assert public_url(base, key) == f"https://s3-minsk.becloud.by/media-assets/{key}"
    assert public_url("/media", key) == f"/media/{key}"


def test_new_media_ids_are_fresh_uuid4s() -> None:
    ids = {new_media_id() for _ in range(50)}
    assert len(ids) == 50 and all(is_uuid4(i) for i in ids)


@pytest.mark.parametrize("value", [SEED_ID, SEED_ID.upper(), f" {SEED_ID}\n"])
def test_parse_media_id_accepts_a_uuid(value: str) -> None:
    assert parse_media_id(value) == SEED_ID


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not-a-uuid",
        SEED_ID[:-1],
        SEED_ID + "0",
        SEED_ID.replace("-", ""),
        "{" + SEED_ID + "}",
        "urn:uuid:" + SEED_ID,
        "b797c7e7f97e-44af-848a-64a0818214cd-",
        SEED_ID.replace("b", "g"),
        "../" + SEED_ID,
        SEED_ID + "/../x",
        None,
        42,
    ],
)
def test_parse_media_id_rejects_anything_else(value: object) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_media_id(value)  # type: ignore[arg-type]
    assert (caught.value.status_code, caught.value.code) == (400, "invalid_media_id")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("media/x/conversions/a-sm-___webp_480.webp", "image/webp"),
        ("media/x/conversions/a-sm-___avif_480.avif", "image/avif"),
        ("media/x/Photo.JPG", "image/jpeg"),
        ("media/x/a.png", "image/png"),
        ("media/x/manifest.json", "application/json"),
        ("media/x.webp/noext", "application/octet-stream"),
        ("media/x/a.tiff", "application/octet-stream"),
    ],
)
def test_content_type_of_a_key(key: str, expected: str) -> None:
    assert content_type_of(key) == expected


_NAME = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,31}", fullmatch=True)
_BASE = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,40}", fullmatch=True)
_BOX = st.tuples(*(st.integers(0, 20000) for _ in range(4)))


@given(
    file_base=_BASE,
    crops=st.lists(_NAME, min_size=1, max_size=4, unique=True),
    sizes=st.lists(_NAME, min_size=1, max_size=4, unique=True),
    box=_BOX,
    other=_BOX,
    width=st.integers(1, 16383),
    fmt=st.sampled_from(["webp", "avif", "jpeg"]),
)
def test_crop_keys_never_equal_main_keys_or_another_crops(
    file_base: str,
    crops: list[str],
    sizes: list[str],
    box: tuple[int, int, int, int],
    other: tuple[int, int, int, int],
    width: int,
    fmt: str,
) -> None:
    """The README's promise: a crop's key can never be a key of the main set or of
    another crop, whatever the names of sizes and crops, and a moved box is a new key."""
    media_id = "b797c7e7-f97e-44af-848a-64a0818214cd"
    main = {conversion_key("news-by", media_id, file_base, s, width, fmt) for s in sizes}
    main |= {
        original_key("news-by", media_id, file_base, "jpg"),
        manifest_key("news-by", media_id),
    }
    made = [crop_key("news-by", media_id, file_base, c, box, width, fmt) for c in crops]
    assert len(set(made)) == len(made)
    assert not main & set(made)
    assert all("/crops/" in k and media_id_of(k, "news-by/") == media_id for k in made)
    if other != box:
        assert crop_key("news-by", media_id, file_base, crops[0], other, width, fmt) != made[0]


def test_the_crop_key_layout() -> None:
    key = crop_key("news-by", "b797c7e7-f97e-44af-848a-64a0818214cd", "photo", "square",
                   (1000, 0, 3000, 2000), 480, "webp")  # fmt: skip
    assert key == (
        "news-by/b797c7e7-f97e-44af-848a-64a0818214cd/crops/square/photo-1000-0-3000-2000"
        "-___webp_480.webp"
    )
