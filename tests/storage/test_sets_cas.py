"""No write ever undoes another: each interleaving of two writers of one image, made
deterministic by pausing one writer between its read and its manifest write.

Run on three real servers: file storage (a lock held across check and write), SeaweedFS (honours
If-Match / If-None-Match) and ``rclone serve s3`` (ignores them: imgsvc checks just
before the write, which this pause point cannot slip through). The winner runs in
another ``ImageService`` on the same storage, as another worker process would.
"""

from __future__ import annotations

import hashlib
import io
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image

from imgsvc import ImageService, Settings, create_app
from imgsvc.describe import manifest_keys
from imgsvc.errors import Conflict, NotFound, StorageUnavailable
from imgsvc.storage import FileStorage, Storage
from imgsvc.storage.keys import image_prefix, manifest_key
from imgsvc.storage.s3 import S3Storage

from ..support import images
from ..support.rclone import RcloneS3
from ..support.seaweed import SeaweedS3

MEDIA_ID = "3f0c2a44-5d8e-4c1b-9a7e-2b6f1d0e9c11"
RED, GREEN, BLUE = (200, 30, 30), (30, 180, 60), (40, 60, 210)


def photo(colour: tuple[int, int, int]) -> bytes:
    return images.solid((900, 600), colour, "JPEG")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Gate:
    """Holds the first writer that reaches its manifest write until released."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        self._used = False
        self._lock = threading.Lock()

    def pause(self) -> None:
        with self._lock:
            if self._used:
                return
            self._used = True
        self.reached.set()
        if not self.release.wait(60):
            raise RuntimeError("the test never released the paused writer")


class Paused:
    """A storage whose conditional writes (the manifest's) wait at the gate first;
    with ``fail``, the paused manifest write then fails as if storage went away."""

    def __init__(self, inner: Storage, gate: Gate, fail: bool = False) -> None:
        self.inner = inner
        self.gate = gate
        self.fail = fail

    def put_if(self, key: str, *args: Any) -> None:
        self.gate.pause()
        if self.fail:
            raise StorageUnavailable("storage went away during the manifest write")
        self.inner.put_if(key, *args)

    def delete_if(self, key: str, etag: str) -> None:
        self.gate.pause()
        self.inner.delete_if(key, etag)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def buckets(s3_server: SeaweedS3, rclone_server: RcloneS3) -> dict[str, tuple[str, str]]:
    """One bucket per server for the module (SeaweedFS runs out of volumes when every
    test makes its own); each test writes under a key prefix of its own."""
    made = {}
    for kind, server in (("seaweedfs", s3_server), ("rclone", rclone_server)):
        name = f"cas-{uuid.uuid4().hex[:10]}"
        server.create_bucket(name)
        made[kind] = (server.endpoint, name)
    return made


@pytest.fixture(params=["file", "seaweedfs", "rclone"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[Callable[..., Settings], Storage]:
    """(settings factory, storage) on one of the three servers."""
    kind: str = request.param
    if kind == "file":
        root = tmp_path / "media"
        return (lambda **kw: Settings.load({}, file_root=root, **kw)), FileStorage(root)
    endpoint, bucket = request.getfixturevalue("buckets")[kind]
    prefix = f"news-{uuid.uuid4().hex[:8]}"

    def make(**kw: Any) -> Settings:
        return Settings.load(
            {},
            storage="s3",
            s3_bucket=bucket,
            s3_endpoint_url=endpoint,
            key_prefix=prefix,
            **kw,
        )

    return make, S3Storage.from_settings(make())


class Race:
    """A winner service and a paused loser service on the same storage."""

    def __init__(
        self, backend: tuple[Callable[..., Settings], Storage], fail: bool = False, **loser: Any
    ) -> None:
        make, self.storage = backend
        self.settings = make()
        self.gate = Gate()
        self.winner = ImageService(self.settings, self.storage)
        paused = Paused(self.storage, self.gate, fail)
        self.loser = ImageService(make(**loser), paused)  # type: ignore[arg-type]
        self._pool = ThreadPoolExecutor(1)

    def start(self, call: Callable[[], Any]) -> Future[Any]:
        """Run the loser's call until it pauses before its manifest write."""
        future = self._pool.submit(call)
        assert self.gate.reached.wait(60), "the loser never reached its manifest write"
        return future

    def finish(self, future: Future[Any]) -> Any:
        self.gate.release.set()
        return future.result(timeout=60)

    def close(self) -> None:
        self.gate.release.set()
        self._pool.shutdown()
        self.winner.close()
        self.loser.close()

    def objects(self) -> set[str]:
        prefix = image_prefix(self.settings.key_prefix, MEDIA_ID)
        return set(self.storage.list(prefix))

    def assert_whole(self, colour: tuple[int, int, int], source: bytes) -> dict[str, Any]:
        """The image is exactly one complete set of ``source``: every key its manifest
        lists exists, nothing else is stored, and the pixels are that photo's."""
        manifest = self.winner.manifest(MEDIA_ID)
        assert manifest["original"]["sha256"] == sha(source)
        mkey = manifest_key(self.settings.key_prefix, MEDIA_ID)
        assert self.objects() == manifest_keys(manifest) | {mkey}
        widest = max(manifest["variants"], key=lambda v: v["width"])
        im = Image.open(io.BytesIO(self.storage.get(widest["key"]).data)).convert("RGB")
        assert images.near(im.getpixel((im.width // 2, im.height // 2)), colour, 12)
        return manifest


@pytest.fixture
def race(backend: tuple[Callable[..., Settings], Storage]) -> Iterator[Callable[..., Race]]:
    made: list[Race] = []

    def make(**loser: Any) -> Race:
        made.append(Race(backend, **loser))
        return made[-1]

    yield make
    for r in made:
        r.close()


def test_a_reconversion_never_undoes_a_replacement(race: Callable[..., Race]) -> None:
    """The issue's 3-in-16 loss: the re-conversion read the old photo; the editor's
    replacement landed; the re-conversion must start over from the replacement."""
    r = race(webp_quality=70)
    old, new = photo(RED), photo(GREEN)
    r.winner.ingest(old, "photo.jpg", MEDIA_ID)
    paused = r.start(lambda: r.loser.reconvert(MEDIA_ID))
    replaced = r.winner.ingest(new, "photo.jpg", MEDIA_ID)
    result = r.finish(paused)
    manifest = r.assert_whole(GREEN, new)
    assert result["original"]["sha256"] == sha(new)
    assert manifest["fingerprint"] == r.loser.fingerprint, "re-converted from the new photo"
    assert replaced["original"]["key"] == manifest["original"]["key"]
    assert r.loser.metrics.conflicts.labels("reconvert")._value.get() == 1


def test_of_two_uploads_the_later_manifest_loses_and_keeps_nothing(
    race: Callable[..., Race],
) -> None:
    r = race()
    first, slow, fast = photo(RED), photo(GREEN), photo(BLUE)
    r.winner.ingest(first, "photo.jpg", MEDIA_ID)
    paused = r.start(lambda: r.loser.ingest(slow, "photo.jpg", MEDIA_ID))
    r.winner.ingest(fast, "photo.jpg", MEDIA_ID)
    with pytest.raises(Conflict, match="changed while this upload was being stored"):
        r.finish(paused)
    r.assert_whole(BLUE, fast)
    assert r.loser.metrics.conflicts.labels("upload")._value.get() == 1


def test_two_first_uploads_to_one_new_id(race: Callable[..., Race]) -> None:
    r = race()
    slow, fast = photo(GREEN), photo(BLUE)
    paused = r.start(lambda: r.loser.ingest(slow, "a.jpg", MEDIA_ID))
    r.winner.ingest(fast, "b.jpg", MEDIA_ID)
    with pytest.raises(Conflict):
        r.finish(paused)
    r.assert_whole(BLUE, fast)


def test_an_upload_that_races_a_delete_does_not_resurrect_the_image(
    race: Callable[..., Race],
) -> None:
    r = race()
    r.winner.ingest(photo(RED), "photo.jpg", MEDIA_ID)
    paused = r.start(lambda: r.loser.ingest(photo(GREEN), "photo.jpg", MEDIA_ID))
    r.winner.delete(MEDIA_ID)
    with pytest.raises(Conflict):
        r.finish(paused)
    assert r.objects() == set(), "the delete stands, and the loser left nothing"


def test_a_delete_that_races_an_upload_deletes_nothing(race: Callable[..., Race]) -> None:
    r = race()
    new = photo(GREEN)
    r.winner.ingest(photo(RED), "photo.jpg", MEDIA_ID)
    paused = r.start(lambda: r.loser.delete(MEDIA_ID))
    r.winner.ingest(new, "photo.jpg", MEDIA_ID)
    with pytest.raises(Conflict, match="nothing was deleted"):
        r.finish(paused)
    r.assert_whole(GREEN, new)
    assert r.loser.metrics.conflicts.labels("delete")._value.get() == 1


def reconvert_elsewhere(backend: tuple[Callable[..., Settings], Storage]) -> None:
    """A bulk run at other settings, in another service, re-converts the image."""
    make, storage = backend
    bulk = ImageService(make(webp_quality=70), storage)
    try:
        bulk.reconvert(MEDIA_ID)
    finally:
        bulk.close()


def test_a_delete_that_races_a_reconversion_of_the_same_photo_still_deletes(
    race: Callable[..., Race], backend: tuple[Callable[..., Settings], Storage]
) -> None:
    """The editor's decision stands against a bulk job: deleted, nothing left."""
    r = race()
    r.winner.ingest(photo(RED), "photo.jpg", MEDIA_ID)
    paused = r.start(lambda: r.loser.delete(MEDIA_ID))
    reconvert_elsewhere(backend)
    r.finish(paused)
    assert r.objects() == set()


def test_an_upload_that_races_a_reconversion_of_the_same_photo_still_replaces_it(
    race: Callable[..., Race], backend: tuple[Callable[..., Settings], Storage]
) -> None:
    """The editor's replacement still means what it meant: it is written on top."""
    r = race()
    new = photo(GREEN)
    r.winner.ingest(photo(RED), "photo.jpg", MEDIA_ID)
    paused = r.start(lambda: r.loser.ingest(new, "photo.jpg", MEDIA_ID))
    reconvert_elsewhere(backend)
    described = r.finish(paused)
    manifest = r.assert_whole(GREEN, new)
    assert described["original"]["sha256"] == sha(new)
    assert manifest["fingerprint"] == r.loser.fingerprint


def test_a_delete_during_a_first_upload_deletes_nothing(race: Callable[..., Race]) -> None:
    """Without a manifest the objects under the id may be an upload in flight: the
    DELETE is a 404 and the upload's set lands whole (it listed missing keys before)."""
    r = race()
    new = photo(GREEN)
    paused = r.start(lambda: r.loser.ingest(new, "photo.jpg", MEDIA_ID))
    with pytest.raises(NotFound):
        r.winner.delete(MEDIA_ID)
    r.finish(paused)
    r.assert_whole(GREEN, new)


def test_a_failed_first_upload_never_removes_the_manifest_that_won(
    race: Callable[..., Race],
) -> None:
    """The loser's clean-up removes its own objects, never a manifest by key."""
    r = race(fail=True)
    won = photo(BLUE)
    paused = r.start(lambda: r.loser.ingest(photo(GREEN), "slow.jpg", MEDIA_ID))
    r.winner.ingest(won, "fast.jpg", MEDIA_ID)
    with pytest.raises(StorageUnavailable):
        r.finish(paused)
    r.assert_whole(BLUE, won)


def test_adopt_never_writes_over_a_set_that_landed(race: Callable[..., Race]) -> None:
    """A bulk run found an original without a manifest; an editor's upload landed
    before the adoption ran. The adoption yields: the editor's set stays whole."""
    r = race()
    orphan = f"{image_prefix(r.settings.key_prefix, MEDIA_ID)}lost.jpg"
    r.storage.put(orphan, photo(RED), "image/jpeg")
    new = photo(GREEN)
    r.winner.ingest(new, "photo.jpg", MEDIA_ID)
    described = r.loser.adopt(MEDIA_ID, orphan)
    assert described["original"]["sha256"] == sha(new)
    manifest = r.winner.manifest(MEDIA_ID)
    assert manifest["original"]["sha256"] == sha(new)
    for key in manifest_keys(manifest):
        assert r.storage.exists(key)


def test_the_api_answers_409_conflict(tmp_path: Path) -> None:
    root = tmp_path / "media"
    settings = Settings.load({}, file_root=root)
    gate = Gate()
    loser = ImageService(settings, Paused(FileStorage(root), gate))  # type: ignore[arg-type]
    winner = ImageService(settings, FileStorage(root))
    client: FlaskClient = create_app(service=loser).test_client()
    try:
        winner.ingest(photo(RED), "photo.jpg", MEDIA_ID)
        with ThreadPoolExecutor(1) as pool:
            form = {"file": (io.BytesIO(photo(GREEN)), "photo.jpg"), "media_id": MEDIA_ID}
            answer = pool.submit(lambda: client.post("/v1/images", data=form))
            assert gate.reached.wait(60)
            winner.delete(MEDIA_ID)
            gate.release.set()
            response = answer.result(60)
    finally:
        gate.release.set()
        loser.close()
        winner.close()
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"
    assert MEDIA_ID in response.get_json()["error"]["message"]
