"""ImageService on real file storage: the write protocol, re-ingest, and failures part-way.

Faults are injected into a real ``FileStorage`` (a subclass that fails its Nth put),
never into a mock: what is left on disk afterwards is what the test asserts.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from imgsvc.errors import BadRequest, ImgsvcError, NotFound, StorageUnavailable
from imgsvc.service import ImageService
from imgsvc.settings import Settings, Size
from imgsvc.storage import FileStorage
from imgsvc.storage.file import LOCKS

from .support import images

SEED_ID = "b797c7e7-f97e-44af-848a-64a0818214cd"
SEED_NAME = "368de410-6cb2-4516-89cf-b8b9e44746cf.jpg"
SEED_BASE = SEED_NAME.removesuffix(".jpg")
BECLOUD = Path(__file__).resolve().parent.parent / "config" / "becloud.toml"
SEED_SRCSET = ", ".join(
    f"https://s3-minsk.becloud.by/media-assets/news-by/{SEED_ID}/conversions/"
    f"{SEED_BASE}-{size}-___webp_{width}.webp {width}w"
    for size, width in (("sm", 480), ("md", 768), ("lg", 1280), ("xl", 1920))
)


class RecordingStorage(FileStorage):
    """File storage that remembers every put (key, content type, cache control) in order."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.puts: list[tuple[str, str, str | None]] = []
        self._lock = threading.Lock()

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> None:
        super().put(key, data, content_type, cache_control)
        with self._lock:
            self.puts.append((key, content_type, cache_control))


class FailingStorage(FileStorage):
    """File storage whose ``fail_at``-th put (1-based, counting from ``arm()``) fails.

    The failing put first waits until ``settle`` puts have arrived and none is still
    writing: the conversions are uploaded in parallel, and this keeps the test about
    one failure, not about a race between uploads (that race has its own test).
    """

    def __init__(self, root: Path, settle: int = 4) -> None:
        super().__init__(root)
        self.fail_at: int | None = None
        self.settle = settle
        self.count = 0
        self.fail_deletes = 0
        self._in_flight = 0
        self._cond = threading.Condition()

    def arm(self, fail_at: int) -> None:
        self.fail_at, self.count = fail_at, 0

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> None:
        with self._cond:
            self.count += 1
            if self.count == self.fail_at:
                self._cond.wait_for(
                    lambda: self.count >= self.settle and self._in_flight == 0, timeout=5
                )
                raise StorageUnavailable(f"injected failure writing {key}")
            self._in_flight += 1
        try:
            super().put(key, data, content_type, cache_control)
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    def delete(self, keys: Iterable[str]) -> None:
        if self.fail_deletes:
            self.fail_deletes -= 1
            raise StorageUnavailable("injected failure deleting")
        super().delete(keys)


def files_under(root: Path) -> set[str]:
    """The objects on disk (lock files of conditional writes are not objects)."""
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and LOCKS not in p.parts
    }


@pytest.fixture
def recording(settings: Settings) -> RecordingStorage:
    return RecordingStorage(settings.file_root)


@pytest.fixture
def svc(settings: Settings, recording: RecordingStorage) -> Iterator[ImageService]:
    service = ImageService(settings, recording)
    yield service
    service.close()


@pytest.fixture
def failing(settings: Settings) -> FailingStorage:
    return FailingStorage(settings.file_root)


@pytest.fixture
def faulty(settings: Settings, failing: FailingStorage) -> Iterator[ImageService]:
    service = ImageService(settings, failing)
    yield service
    service.close()


def jpeg(size: tuple[int, int] = (2000, 1000)) -> bytes:
    return images.encode(images.gradient(size), "JPEG", quality=80)


# -- the write protocol --------------------------------------------------------------------


def test_ingest_stores_conversions_then_original_then_manifest(
    svc: ImageService, recording: RecordingStorage, settings: Settings
) -> None:
    data = jpeg()
    description = svc.ingest(data, "holiday.jpg", SEED_ID)
    prefix = f"media/{SEED_ID}/"
    conversions = [
        (f"{prefix}conversions/holiday-{size}-___webp_{w}.webp", "image/webp",
         settings.conversion_cache_control)
        for size, w in (("sm", 480), ("md", 768), ("lg", 1280), ("xl", 1920))
    ]  # fmt: skip
    assert sorted(recording.puts[:4]) == sorted(conversions)
    assert recording.puts[4][:2] == (f"{prefix}holiday.jpg", "image/jpeg")
    assert recording.puts[5] == (f"{prefix}manifest.json", "application/json", "no-cache")
    assert len(recording.puts) == 6

    root = settings.file_root
    assert files_under(root) == {k for k, _, _ in recording.puts}
    assert (root / prefix / "holiday.jpg").read_bytes() == data
    for variant in description["variants"]:
        stored = (root / variant["key"]).read_bytes()
        assert len(stored) == variant["bytes"]
        im = Image.open(io.BytesIO(stored))
        assert (im.format, im.size) == ("WEBP", (variant["width"], variant["height"]))
    manifest = json.loads((root / prefix / "manifest.json").read_text())
    assert manifest["id"] == SEED_ID and manifest["file_base"] == "holiday"


def test_the_description(svc: ImageService) -> None:
    description = svc.ingest(images.oriented_jpeg(6, upright=(1000, 600)), "p.jpg", SEED_ID)
    assert description["id"] == SEED_ID
    assert (description["width"], description["height"]) == (1000, 600)  # upright
    assert [(v["size"], v["width"], v["height"]) for v in description["variants"]] == [
        ("sm", 480, 288),
        ("md", 768, 461),
        ("lg", 1000, 600),
    ]
    urls = [v["url"] for v in description["variants"]]
    assert description["srcset"] == ", ".join(
        f"{u} {w}w" for u, w in zip(urls, (480, 768, 1000), strict=True)
    )
    assert description["src"] == urls[-1]
    assert urls[0] == f"/media/media/{SEED_ID}/conversions/p-sm-___webp_480.webp"
    original = description["original"]
    assert (original["width"], original["height"]) == (1000, 600)
    assert original["content_type"] == "image/jpeg"
    assert original["url"] == f"/media/media/{SEED_ID}/p.jpg"
    assert svc.describe(SEED_ID) == description
    assert svc.srcset(SEED_ID) == description["srcset"]


def test_the_format_comes_from_the_bytes_not_the_name(
    svc: ImageService, settings: Settings
) -> None:
    description = svc.ingest(images.solid((600, 400), fmt="PNG"), "really-a-png.jpg")
    original = description["original"]
    assert original["key"].endswith("/really-a-png.png")
    assert original["content_type"] == "image/png"
    assert (settings.file_root / original["key"]).read_bytes()[:4] == b"\x89PNG"


def test_a_new_id_and_a_safe_name_are_made_up(svc: ImageService) -> None:
    description = svc.ingest(images.solid((300, 200)), "../../Фото.jpg")
    media_id, file_base = description["id"], description["original"]["key"].split("/")[2]
    assert media_id != SEED_ID and len(media_id) == 36
    assert file_base.removesuffix(".jpg") != media_id
    assert ".." not in description["original"]["key"]


def test_the_becloud_profile_gives_the_news_site_srcset(tmp_path: Path) -> None:
    settings = Settings.load({}, config_file=BECLOUD, storage="file", file_root=tmp_path)
    service = ImageService(settings, FileStorage(tmp_path))
    try:
        description = service.ingest(jpeg((1920, 1080)), SEED_NAME, SEED_ID)
    finally:
        service.close()
    assert description["srcset"] == SEED_SRCSET


# -- refused input writes nothing ------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "media_id", "error"),
    [
        (images.random_bytes(), None, "invalid_image"),
        (images.tiff(), None, "unsupported_format"),
        (images.png_bomb(), None, "too_many_pixels"),
        (images.solid((50, 50)), "not-a-uuid", "invalid_media_id"),
    ],
    ids=["garbage", "tiff", "bomb", "bad-id"],
)
def test_refused_input_writes_nothing(
    svc: ImageService, settings: Settings, data: bytes, media_id: str | None, error: str
) -> None:
    with pytest.raises(ImgsvcError) as caught:
        svc.ingest(data, "x.jpg", media_id)
    assert caught.value.code == error
    assert files_under(settings.file_root) == set()


def test_a_bad_media_id_is_a_bad_request(svc: ImageService) -> None:
    with pytest.raises(BadRequest):
        svc.ingest(images.solid((50, 50)), "x.jpg", "{" + SEED_ID + "}")


# -- re-ingest and reconvert -----------------------------------------------------------------


def test_reingest_with_the_same_id_replaces_the_set_cleanly(
    svc: ImageService, settings: Settings
) -> None:
    first = svc.ingest(jpeg((2000, 1000)), "first.jpg", SEED_ID)
    second = svc.ingest(images.solid((1000, 500), fmt="PNG"), "second.png", SEED_ID)
    keys = {v["key"] for v in second["variants"]} | {
        second["original"]["key"],
        f"media/{SEED_ID}/manifest.json",
    }
    assert files_under(settings.file_root) == keys  # nothing of "first" is left
    assert not {v["key"] for v in first["variants"]} & keys
    assert [v["width"] for v in second["variants"]] == [480, 768, 1000]
    assert svc.describe(SEED_ID) == second


def test_reingest_under_the_same_name_drops_widths_no_longer_made(
    svc: ImageService, settings: Settings
) -> None:
    svc.ingest(jpeg((2000, 1000)), "same.jpg", SEED_ID)
    second = svc.ingest(jpeg((700, 350)), "same.jpg", SEED_ID)
    conversions = {k for k in files_under(settings.file_root) if "/conversions/" in k}
    assert conversions == {v["key"] for v in second["variants"]}
    assert [v["width"] for v in second["variants"]] == [480, 700]


def keys_of(description: dict[str, object]) -> set[str]:
    return {v["key"] for v in description["variants"]} | {description["original"]["key"]}  # type: ignore[index, union-attr]


def test_new_content_never_takes_urls_that_other_content_had(
    svc: ImageService, settings: Settings
) -> None:
    """Conversions are cached as immutable: every replacement needs URLs of its own,
    however often a media record is replaced, and even when a photo comes back."""
    photos = [jpeg((2000, 1000)), jpeg((1800, 900)), jpeg((1600, 800))]
    first = svc.ingest(photos[0], "same.jpg", SEED_ID)
    assert first["original"]["key"] == f"media/{SEED_ID}/same.jpg"  # the first set: plain
    seen = {k: photos[0] for k in keys_of(first)}
    for data in [*photos[1:], photos[0]]:
        description = svc.ingest(data, "same.jpg", SEED_ID)
        digest = hashlib.sha256(data).hexdigest()
        assert description["original"]["key"] == f"media/{SEED_ID}/same-{digest[:8]}.jpg"
        reused = {k for k in keys_of(description) if k in seen and seen[k] is not data}
        assert not reused, reused
        seen |= {k: data for k in keys_of(description)}
        assert files_under(settings.file_root) == keys_of(description) | {
            f"media/{SEED_ID}/manifest.json"
        }


def test_the_same_photo_again_keeps_its_keys(svc: ImageService, settings: Settings) -> None:
    """A client's retry (its first answer lost) gets the same URLs, not a second set:
    for the first set of an image and for a replacement alike."""
    data = jpeg((2000, 1000))
    first = svc.ingest(data, "same.jpg", SEED_ID)
    again = svc.ingest(data, "same.jpg", SEED_ID)
    assert again["srcset"] == first["srcset"]
    assert first["original"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert len(files_under(settings.file_root)) == len(first["variants"]) + 2
    other = jpeg((1800, 900))
    replaced = svc.ingest(other, "same.jpg", SEED_ID)
    assert svc.ingest(other, "same.jpg", SEED_ID)["srcset"] == replaced["srcset"]


def test_a_manifest_without_a_digest_is_replaced_under_new_keys(
    svc: ImageService, settings: Settings
) -> None:
    """Images stored before the digest was recorded: whatever comes, it gets new URLs."""
    data = jpeg((2000, 1000))
    first = svc.ingest(data, "same.jpg", SEED_ID)
    path = settings.file_root / f"media/{SEED_ID}/manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["original"]["sha256"]
    path.write_text(json.dumps(manifest))
    again = svc.ingest(data, "same.jpg", SEED_ID)
    assert not keys_of(again) & keys_of(first)


def test_reconvert_uses_new_settings_and_never_touches_the_original(
    svc: ImageService, settings: Settings, recording: RecordingStorage
) -> None:
    data = jpeg((2000, 1000))
    svc.ingest(data, "orig.jpg", SEED_ID)
    narrower = Settings.load(
        {}, file_root=settings.file_root, sizes=(Size("s", 300), Size("l", 900))
    )
    other = ImageService(narrower, recording)
    try:
        recording.puts.clear()
        description = other.reconvert(SEED_ID)
    finally:
        other.close()
    assert all(not key.endswith("orig.jpg") for key, _, _ in recording.puts)
    assert [(v["size"], v["width"]) for v in description["variants"]] == [("s", 300), ("l", 900)]
    root = settings.file_root
    assert (root / f"media/{SEED_ID}/orig.jpg").read_bytes() == data
    conversions = {k for k in files_under(root) if "/conversions/" in k}
    assert conversions == {v["key"] for v in description["variants"]}
    assert other.is_current(description)
    assert not svc.is_current(json.loads((root / f"media/{SEED_ID}/manifest.json").read_text()))


def test_adopt_converts_an_original_without_a_manifest(
    svc: ImageService, settings: Settings, recording: RecordingStorage
) -> None:
    data = jpeg((1000, 500))
    key = f"media/{SEED_ID}/lost-upload.jpg"
    recording.put(key, data, "image/jpeg")
    recording.puts.clear()
    description = svc.adopt(SEED_ID, key)
    assert [(v["size"], v["width"]) for v in description["variants"]] == [
        ("sm", 480),
        ("md", 768),
        ("lg", 1000),
    ]
    assert all(k != key for k, _, _ in recording.puts), "the original is never written"
    assert (settings.file_root / key).read_bytes() == data
    assert svc.describe(SEED_ID)["original"]["key"] == key
    for wrong in (f"media/{SEED_ID}/conversions/x.webp", f"media/{SEED_ID}/noext", "elsewhere.jpg"):
        with pytest.raises(NotFound):
            svc.adopt(SEED_ID, wrong)


def test_delete_removes_everything(svc: ImageService, settings: Settings) -> None:
    svc.ingest(jpeg((800, 400)), "gone.jpg", SEED_ID)
    svc.delete(SEED_ID)
    assert files_under(settings.file_root) == set()
    with pytest.raises(NotFound):
        svc.describe(SEED_ID)
    with pytest.raises(NotFound):
        svc.delete(SEED_ID)


@pytest.mark.parametrize("media_id", [SEED_ID, "nope", "../../etc"])
def test_unknown_images_are_not_found(svc: ImageService, media_id: str) -> None:
    with pytest.raises(NotFound):
        svc.describe(media_id)


@pytest.mark.parametrize(
    "damage",
    [
        lambda m: m.pop("id"),
        lambda m: m.update(variants=[]),
        lambda m: m.update(variants="x"),
        lambda m: m["variants"][0].pop("width"),
        lambda m: m.update(original=None),
    ],
    ids=["no-id", "no-variants", "variants-not-a-list", "variant-without-width", "no-original"],
)
def test_a_damaged_manifest_is_no_manifest(
    svc: ImageService, settings: Settings, damage: object
) -> None:
    svc.ingest(jpeg((800, 400)), "a.jpg", SEED_ID)
    path = settings.file_root / f"media/{SEED_ID}/manifest.json"
    manifest = json.loads(path.read_text())
    damage(manifest)  # type: ignore[operator]
    path.write_text(json.dumps(manifest))
    with pytest.raises(NotFound, match="no valid manifest"):
        svc.describe(SEED_ID)


# -- failures part-way -------------------------------------------------------------------------

# Puts of one ingest of a 2000 px JPEG: 4 conversions (in parallel), the original, the manifest.
PUTS = 6


@pytest.mark.parametrize("fail_at", range(1, PUTS + 1))
def test_a_failed_first_ingest_leaves_nothing(
    faulty: ImageService, failing: FailingStorage, settings: Settings, fail_at: int
) -> None:
    failing.arm(fail_at)
    with pytest.raises(StorageUnavailable):
        faulty.ingest(jpeg(), "x.jpg", SEED_ID)
    faulty.close()  # wait for every upload thread
    assert files_under(settings.file_root) == set()
    with pytest.raises(NotFound):
        faulty.describe(SEED_ID)


@pytest.mark.parametrize("names", [("old.jpg", "new.jpg"), ("same.jpg", "same.jpg")])
@pytest.mark.parametrize("fail_at", range(1, PUTS))
def test_a_failed_reingest_keeps_the_earlier_set(
    faulty: ImageService,
    failing: FailingStorage,
    settings: Settings,
    fail_at: int,
    names: tuple[str, str],
) -> None:
    """Byte for byte, even when the new photo comes under the old one's name."""
    before = faulty.ingest(jpeg((1000, 500)), names[0], SEED_ID)
    on_disk = {p: (settings.file_root / p).read_bytes() for p in files_under(settings.file_root)}
    failing.arm(fail_at)
    with pytest.raises(StorageUnavailable):
        faulty.ingest(jpeg(), names[1], SEED_ID)
    faulty.close()
    after = {p: (settings.file_root / p).read_bytes() for p in files_under(settings.file_root)}
    assert after == on_disk
    assert faulty.describe(SEED_ID) == before


def test_a_failed_manifest_write_on_reingest_keeps_the_earlier_manifest(
    faulty: ImageService, failing: FailingStorage, settings: Settings
) -> None:
    before = faulty.ingest(jpeg((1000, 500)), "old.jpg", SEED_ID)
    failing.arm(PUTS)  # the manifest
    with pytest.raises(StorageUnavailable):
        faulty.ingest(jpeg(), "new.jpg", SEED_ID)
    faulty.close()
    assert faulty.describe(SEED_ID) == before


def test_uploads_still_in_flight_when_one_fails_are_cleaned_up(
    settings: Settings, tmp_path: Path
) -> None:
    cleaned = threading.Event()

    class SlowAfterFailure(FileStorage):
        """The first conversion (sm) fails at once; the others are still uploading."""

        def put(
            self, key: str, data: bytes, content_type: str, cache_control: str | None = None
        ) -> None:
            if "-sm-" in key:
                raise StorageUnavailable("injected failure on the first conversion")
            if "/conversions/" in key:
                cleaned.wait(timeout=1)  # lands after the clean-up, unless it is awaited
            super().put(key, data, content_type, cache_control)

        def delete(self, keys: Iterable[str]) -> None:
            super().delete(keys)
            cleaned.set()

    storage = SlowAfterFailure(settings.file_root)
    service = ImageService(settings, storage)
    with pytest.raises(StorageUnavailable):
        service.ingest(jpeg(), "x.jpg", SEED_ID)
    service.close()
    assert files_under(settings.file_root) == set()


def test_when_storage_cannot_delete_the_janitor_cleans_up_later(
    faulty: ImageService, failing: FailingStorage, settings: Settings
) -> None:
    failing.arm(5)  # the original, after the four conversions were written
    failing.fail_deletes = 2  # the immediate clean-up fails, and so does the first retry
    with pytest.raises(StorageUnavailable):
        faulty.ingest(jpeg(), "x.jpg", SEED_ID)
    assert len(faulty.janitor.pending) == 5
    done = threading.Event()
    for _ in range(100):
        if not faulty.janitor.pending:
            done.set()
            break
        done.wait(0.05)
    assert done.is_set(), faulty.janitor.pending
    assert files_under(settings.file_root) == set()


def test_the_janitor_spares_what_a_successful_retry_wrote(
    faulty: ImageService, failing: FailingStorage, settings: Settings
) -> None:
    """A replacement fails at its manifest while storage cannot delete; the client's
    retry then writes the same keys and succeeds. The clean-up, when it finally runs,
    must remove only what no manifest lists: the replaced set, not the retry's."""
    faulty.ingest(jpeg((1000, 500)), "photo.jpg", SEED_ID)
    failing.arm(PUTS)  # the manifest of the replacement
    failing.fail_deletes = 10**6  # deletes fail until the test says otherwise
    new = jpeg()
    with pytest.raises(StorageUnavailable):
        faulty.ingest(new, "photo.jpg", SEED_ID)
    assert faulty.janitor.pending
    failing.arm(0)
    retried = faulty.ingest(new, "photo.jpg", SEED_ID)  # its own stale removal is queued too
    failing.fail_deletes = 0
    for _ in range(1200):  # the janitor backs off while deletes fail: up to a minute
        if not faulty.janitor.pending:
            break
        threading.Event().wait(0.05)
    assert not faulty.janitor.pending
    assert files_under(settings.file_root) == keys_of(retried) | {f"media/{SEED_ID}/manifest.json"}
    assert faulty.describe(SEED_ID) == retried
