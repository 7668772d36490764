"""bulk.scan on a real FileStorage: every kind of stored image is classified as the
re-conversion must treat it, in listing order, with keys outside the layout ignored."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from imgsvc import ImageService, Settings
from imgsvc.bulk.scan import Action, Finding, Listing, Plan, State, classify_stream
from imgsvc.settings import Size
from imgsvc.storage import Storage
from imgsvc.storage.keys import image_prefix, manifest_key

from ..support import images


@dataclass(frozen=True)
class Bucket:
    current: str
    outdated: str
    missing: str
    orphan_original: str
    no_original: str
    lost_original: str
    deleted_conversion: str


def stored_manifest(storage: Storage, prefix: str, media_id: str) -> dict[str, Any]:
    return json.loads(storage.get(manifest_key(prefix, media_id)).data)


@pytest.fixture
def bucket(settings: Settings, storage: Storage, service: ImageService) -> Bucket:
    prefix = settings.key_prefix
    photo = images.encode(images.gradient((500, 300)), "JPEG")

    def ingest(name: str) -> str:
        return str(service.ingest(photo, f"{name}.jpg")["id"])

    old_settings = Settings.load({}, file_root=settings.file_root, sizes=(Size("sm", 480),))
    old = ImageService(old_settings, storage)
    try:
        outdated = str(old.ingest(photo, "outdated.jpg")["id"])
    finally:
        old.close()
    current, missing, no_original, lost_original = map(
        ingest, ("current", "missing", "no-original", "lost-original")
    )
    deleted_conversion = stored_manifest(storage, prefix, missing)["variants"][0]["key"]
    storage.delete([deleted_conversion])
    original = stored_manifest(storage, prefix, no_original)["original"]["key"]
    storage.delete([manifest_key(prefix, no_original), original])
    storage.delete([stored_manifest(storage, prefix, lost_original)["original"]["key"]])
    orphan = str(uuid.uuid4())
    storage.put(f"{image_prefix(prefix, orphan)}lost.jpg", photo, "image/jpeg")
    stray = f"{image_prefix(prefix, current)}conversions/left-by-a-crash.webp"
    storage.put(stray, b"x", "image/webp")
    storage.put(f"{prefix}/README", b"not an image", "text/plain")
    storage.put(f"{prefix}/not-a-uuid/x.jpg", photo, "image/jpeg")
    return Bucket(
        current, outdated, missing, orphan, no_original, lost_original, deleted_conversion
    )


def test_each_kind_of_image_is_classified(
    settings: Settings, service: ImageService, bucket: Bucket
) -> None:
    listing = Listing(service.storage, settings.key_prefix)
    findings = list(classify_stream(service, listing, threads=2))
    by_id = {f.media_id: f for f in findings}
    assert [f.media_id for f in findings] == sorted(by_id)  # listing order, kept
    assert listing.ignored == 2  # README and the folder that is not a UUID

    assert by_id[bucket.current] == Finding(bucket.current, State.CURRENT, stray=1)
    outdated = by_id[bucket.outdated]
    assert (outdated.state, outdated.action) == (State.OUTDATED, Action.RECONVERT)
    assert outdated.detail.startswith("converted with fingerprint ")
    gone = (bucket.deleted_conversion,)
    assert by_id[bucket.missing] == Finding(
        bucket.missing, State.MISSING, "1 of 2 conversions missing", Action.RECONVERT, missing=gone
    )
    orphan = by_id[bucket.orphan_original]
    assert (orphan.state, orphan.action) == (State.ORPHANED, Action.ADOPT)
    prefix = image_prefix(settings.key_prefix, bucket.orphan_original)
    assert orphan.original_key == f"{prefix}lost.jpg"
    assert by_id[bucket.no_original] == Finding(
        bucket.no_original, State.ORPHANED, "conversions without an original"
    )
    lost = by_id[bucket.lost_original]
    assert (lost.state, lost.action, lost.detail) == (
        State.ORPHANED,
        None,
        "the manifest's original is missing",
    )


def test_what_a_run_would_convert(
    settings: Settings, service: ImageService, bucket: Bucket
) -> None:
    """By default everything convertible; with --only-outdated, the outdated only."""
    findings = list(classify_stream(service, Listing(service.storage, settings.key_prefix)))
    everything, outdated_only = Plan(), Plan()
    for finding in findings:
        everything.add(finding, finding.wanted(only_outdated=False))
        outdated_only.add(finding, finding.wanted(only_outdated=True))
    assert everything.images == 6
    assert everything.states == {
        State.CURRENT: 1,
        State.OUTDATED: 1,
        State.MISSING: 1,
        State.ORPHANED: 3,
    }
    assert everything.to_do == 3  # outdated, missing, the adoptable original
    assert outdated_only.to_do == 1
    assert everything.stray == 1


def test_a_prefix_narrows_the_listing_to_one_image(
    settings: Settings, service: ImageService, bucket: Bucket
) -> None:
    prefix = image_prefix(settings.key_prefix, bucket.missing)
    [image] = Listing(service.storage, settings.key_prefix, prefix)
    assert image.media_id == bucket.missing
    assert all(key.startswith(prefix) for key in image.keys)


def test_an_animation_made_before_the_alpha_fix_is_outdated_and_says_why(
    settings: Settings, storage: Storage, service: ImageService
) -> None:
    """Revision 2 (pipeline/version.py) outdates animated sets made before it, under a
    fingerprint that is still current; stills of the same age stay current."""
    prefix = settings.key_prefix
    animated = str(service.ingest(images.animation("GIF"), "moving.gif")["id"])
    still = str(service.ingest(images.solid((300, 200)), "still.jpg")["id"])
    for media_id in (animated, still):  # as a release before the revisions wrote them
        manifest = stored_manifest(storage, prefix, media_id)
        del manifest["pipeline_revision"]
        body = json.dumps(manifest).encode()
        storage.put(manifest_key(prefix, media_id), body, "application/json")
    listing = Listing(service.storage, prefix)
    by_id = {f.media_id: f for f in classify_stream(service, listing, threads=2)}
    assert by_id[still].state is State.CURRENT
    outdated = by_id[animated]
    assert (outdated.state, outdated.action) == (State.OUTDATED, Action.RECONVERT)
    assert outdated.detail == "converted before a fix of its kind of image (at revision 0)"
