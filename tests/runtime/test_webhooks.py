"""Webhooks against a real HTTP receiver on loopback: what it gets after each change,
the signature, retries, and that no change ever waits on or fails by a webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import multiprocessing
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image

from imgsvc.runtime.events import Event
from imgsvc.runtime.webhooks import Notifier, signature
from imgsvc.service import ImageService
from imgsvc.settings import Settings, Size
from imgsvc.storage import FileStorage

from ..support import images
from ..support.http import multipart
from ..support.receiver import Receiver, receiver
from ..support.servers import imgsvc_serve

SECRET = "s3cr3t-for-tests"
MEDIA_ID = "0f6d3a52-8c1e-4c3b-9a57-2a4f7f1c9b10"


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def _service(tmp_path: Path, url: str, **overrides: object) -> ImageService:
    settings = Settings.load(
        {},
        file_root=tmp_path / "media",
        webhook_url=url,
        webhook_secret=SECRET,
        webhook_retry_backoff=0.01,
        **overrides,
    )
    return ImageService(settings, FileStorage(settings.file_root))


def _settled(svc: ImageService) -> None:
    """Wait (a generous bound) until the notifier has heard back about everything."""
    deadline = time.monotonic() + 30
    while svc.notifier is not None and svc.notifier.pending() and time.monotonic() < deadline:
        time.sleep(0.01)


def _photo(width: int = 1000, seed: int = 0) -> bytes:
    im = images.gradient((width, width * 2 // 3))
    if seed:
        im = im.rotate(seed * 90, expand=False)
    return images.encode(im, "JPEG", quality=90)


def _urls(description: dict[str, object]) -> list[str]:
    variants = description["variants"]
    original = description["original"]
    assert isinstance(variants, list) and isinstance(original, dict)
    return sorted([v["url"] for v in variants] + [original["url"]])


def test_each_change_reaches_the_receiver_signed(tmp_path: Path, hook: Receiver) -> None:
    svc = _service(tmp_path, hook.url)
    try:
        first = svc.ingest(_photo(), "front.jpg", MEDIA_ID)
        second = svc.ingest(_photo(seed=1), "front.jpg", MEDIA_ID)  # another photo
        svc.delete(MEDIA_ID)
        got = hook.wait_for(3)
    finally:
        svc.close()
    by_type = {r.json()["type"]: r for r in got}
    assert set(by_type) == {"image.created", "image.replaced", "image.deleted"}
    for r in got:
        want = "sha256=" + hmac.new(SECRET.encode(), r.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(r.headers["X-Imgsvc-Signature"], want)
        assert r.headers["Content-Type"] == "application/json"
        assert r.headers["X-Imgsvc-Event"] == r.json()["type"]
        assert set(r.json()) == {"type", "id", "changed", "removed", "at"}
        assert r.json()["id"] == MEDIA_ID
    created = by_type["image.created"].json()
    assert sorted(created["changed"]) == _urls(first) and created["removed"] == []
    replaced = by_type["image.replaced"].json()
    assert sorted(replaced["changed"]) == _urls(second)  # new keys: a digest suffix
    assert sorted(replaced["removed"]) == _urls(first)
    deleted = by_type["image.deleted"].json()
    assert deleted["changed"] == [] and sorted(deleted["removed"]) == _urls(second)


def test_reconversion_announces_only_the_bytes_it_changed(tmp_path: Path, hook: Receiver) -> None:
    svc = _service(tmp_path, hook.url)
    description = svc.ingest(_photo(), "front.jpg", MEDIA_ID)
    svc.reconvert(MEDIA_ID)  # same settings, same bytes: nothing reached storage
    svc.close()
    changed = _service(
        tmp_path, hook.url, webp_quality=60, sizes=(Size("sm", 480), Size("md", 768))
    )
    try:
        changed.reconvert(MEDIA_ID)
        got = hook.wait_for(2)
    finally:
        changed.close()
    assert [r.json()["type"] for r in hook.got] == ["image.created", "image.reconverted"]
    event = got[1].json()
    by_size = {v["size"]: v["url"] for v in description["variants"]}
    # 1000 px: sm 480, md 768, lg 1000. lg is gone; sm and md got new bytes; the
    # original was not touched.
    assert sorted(event["changed"]) == sorted([by_size["sm"], by_size["md"]])
    assert event["removed"] == [by_size["lg"]]


def test_a_failing_receiver_is_retried_with_the_same_delivery_id(tmp_path: Path) -> None:
    with receiver([500, 503]) as hook:
        svc = _service(tmp_path, hook.url)
        try:
            svc.ingest(_photo(), "front.jpg", MEDIA_ID)
            got = hook.wait_for(3)
            _settled(svc)
            metrics = svc.metrics.render()[0].decode()
        finally:
            svc.close()
    assert len({r.headers["X-Imgsvc-Delivery"] for r in got}) == 1
    assert len({r.body for r in got}) == 1
    assert 'imgsvc_webhook_deliveries_total{outcome="retried"} 2.0' in metrics
    assert 'imgsvc_webhook_deliveries_total{outcome="delivered"} 1.0' in metrics


def test_an_upload_never_waits_for_the_receiver(tmp_path: Path, hook: Receiver) -> None:
    hook.open.clear()  # the receiver holds every request until told to answer
    svc = _service(tmp_path, hook.url)
    try:
        description = svc.ingest(_photo(), "front.jpg", MEDIA_ID)
        # The upload is complete and answered while its webhook is still unanswered.
        assert svc.notifier is not None and svc.notifier.pending() == 1
        assert svc.describe(MEDIA_ID)["srcset"] == description["srcset"]
        hook.open.set()
        hook.wait_for(1)
    finally:
        svc.close()


def test_undeliverable_events_are_counted_and_nothing_fails(tmp_path: Path) -> None:
    with receiver() as hook:
        url = hook.url  # the port is closed once the receiver is gone: refused
    svc = _service(tmp_path, url, webhook_max_attempts=3)
    try:
        description = svc.ingest(_photo(), "front.jpg", MEDIA_ID)
        assert svc.notifier is not None
        svc.notifier.close(grace=30)  # lets the retries run out, then stops
        metrics = svc.metrics.render()[0].decode()
    finally:
        svc.close()
    assert 'imgsvc_webhook_deliveries_total{outcome="failed"} 1.0' in metrics
    assert 'imgsvc_webhook_deliveries_total{outcome="retried"} 2.0' in metrics
    with Image.open(tmp_path / "media" / description["variants"][0]["key"]) as im:
        assert im.format == "WEBP"


def test_events_pending_at_close_are_counted_as_lost() -> None:
    counted: list[str] = []
    with receiver() as hook:
        hook.open.clear()
        notifier = Notifier(hook.url, count=counted.append, backoff=0.01)
        for kind in ("image.created", "image.reconverted", "image.deleted"):
            notifier(Event(kind, MEDIA_ID, ("http://x/a.webp",), ()))
        # Two threads hold a request each at the receiver; the third event waits.
        hook.wait_for(2)
        notifier.close(grace=0.2)
        assert "lost" in counted and "delivered" not in counted


def test_a_listener_that_raises_never_fails_the_change(tmp_path: Path) -> None:
    settings = Settings.load({}, file_root=tmp_path / "media")
    svc = ImageService(settings, FileStorage(settings.file_root))

    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    svc.events.subscribe(broken)
    try:
        with svc.events.collecting() as seen:
            svc.ingest(_photo(), "front.jpg", MEDIA_ID)
        assert [e.type for e in seen] == ["image.created"]
        assert svc.describe(MEDIA_ID)["id"] == MEDIA_ID
    finally:
        svc.close()


def test_the_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"type":"image.created"}'
    assert signature("k", body) == "sha256=" + hmac.new(b"k", body, "sha256").hexdigest()


def test_imgsvc_serve_delivers_webhooks(tmp_path: Path, hook: Receiver) -> None:
    env = {
        "IMGSVC_FILE_ROOT": str(tmp_path / "media"),
        "IMGSVC_WEBHOOK_URL": hook.url,
        "IMGSVC_WEBHOOK_SECRET": SECRET,
    }
    with imgsvc_serve(env, tmp_path, workers=2) as base:
        body, ctype = multipart(_photo(), "front.jpg")
        request = urllib.request.Request(
            f"{base}/v1/images", body, {"Content-Type": ctype}, method="POST"
        )
        with urllib.request.urlopen(request) as answer:
            description = json.loads(answer.read())
        got = hook.wait_for(1)
    event = got[0].json()
    assert event["type"] == "image.created" and event["id"] == description["id"]
    # Without public_base_url, file storage's public URLs are paths under /media;
    # the HTTP answer put them on the request's host.
    assert sorted(event["changed"]) == sorted(urlsplit(u).path for u in _urls(description))
    assert got[0].headers["X-Imgsvc-Signature"] == signature(SECRET, got[0].body)


def _ingest_in_child(root: str, url: str) -> None:
    svc = _service(Path(root), url)
    svc.ingest(_photo(), "front.jpg", MEDIA_ID)
    # No close: a pool worker's process ends with os._exit, past atexit.


def test_a_worker_process_delivers_before_it_ends(tmp_path: Path, hook: Receiver) -> None:
    """A bulk run's pool workers end with os._exit; their pending events still go out."""
    child = multiprocessing.get_context("fork").Process(
        target=_ingest_in_child, args=(str(tmp_path), hook.url)
    )
    child.start()
    child.join(120)
    assert child.exitcode == 0
    assert [r.json()["type"] for r in hook.wait_for(1)] == ["image.created"]


def _emit_in_child(notifier: Notifier) -> None:
    notifier(Event("image.deleted", "child", (), ("http://x/c.webp",)))


def test_a_forked_child_never_delivers_its_parents_events() -> None:
    """gunicorn and the bulk pool fork: what the parent had pending is the parent's."""
    with receiver() as hook:
        hook.open.clear()
        notifier = Notifier(hook.url, backoff=0.01)
        for n in range(3):  # two held at the receiver, the third waits in the parent
            notifier(Event("image.created", f"parent-{n}", (f"http://x/{n}.webp",), ()))
        hook.wait_for(2)
        child = multiprocessing.get_context("fork").Process(target=_emit_in_child, args=(notifier,))
        child.start()
        hook.wait_for(3)  # the child's own event
        hook.open.set()
        child.join(60)
        notifier.close(grace=30)
        ids = sorted(r.json()["id"] for r in hook.got)
    assert child.exitcode == 0
    assert ids == ["child", "parent-0", "parent-1", "parent-2"]
