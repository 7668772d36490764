"""The soak of the compare-and-swap issue: ``imgsvc reconvert --workers 2`` over a few
dozen images on SeaweedFS while editors' replacements and deletes arrive at random
moments.

Before the manifest write became conditional, about 3 rounds in 16 ended with a
201 replacement undone (the image described the old photo again and its manifest
listed an original that no longer existed). Afterwards every replacement must be
what its image describes, every deleted image stays deleted, and every key every
manifest lists must exist.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import time

from imgsvc import ImageService
from imgsvc.describe import manifest_keys
from imgsvc.errors import Conflict
from imgsvc.storage.keys import image_prefix, manifest_key
from imgsvc.storage.s3 import S3Storage

from .test_reconvert import (  # fixtures among them, used by name
    bulk_bucket,
    check_complete,
    env,
    ingest_corpus,
    old_service,
    photo,
    prefix,
    start_reconvert,
    storage,
)

__all__ = ["bulk_bucket", "env", "old_service", "prefix", "storage"]  # fixtures in use

IMAGES = 30


def test_replacements_during_a_bulk_reconversion_are_never_undone(
    old_service: ImageService, env: dict[str, str], storage: S3Storage, prefix: str
) -> None:
    ids = ingest_corpus(old_service, [(640, 427, "JPEG")] * IMAGES)
    rng = random.Random(14)
    replaced: dict[str, str] = {}  # media id -> sha256 of its last 201 replacement
    deleted: set[str] = set()  # media ids whose last change was a 204 delete
    refused = lost_deletes = 0
    run = start_reconvert(env, "--workers", "2")
    seed = 1000
    try:
        for step in itertools.count():
            if run.poll() is not None:
                break
            time.sleep(rng.uniform(0.0, 0.25))
            media_id = rng.choice(ids)
            if media_id not in deleted and step % 5 == 2:  # every fifth change a delete
                try:
                    old_service.delete(media_id)
                except Conflict:  # only another photo may win over a delete: counted below
                    lost_deletes += 1
                    continue
                deleted.add(media_id)
                replaced.pop(media_id, None)
                continue
            seed += 1
            data = photo(640, 427, seed)
            try:
                described = old_service.ingest(data, "photo.jpg", media_id)
            except Conflict:
                refused += 1  # another change of ours won: never the bulk run
                continue
            assert described["original"]["sha256"] == hashlib.sha256(data).hexdigest()
            replaced[media_id] = described["original"]["sha256"]
            deleted.discard(media_id)
        _, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, err
    assert len(replaced) >= 5, f"only {len(replaced)} replacements landed during the run"
    assert refused == 0, "replacements are sequential here: none may lose to the bulk run"
    assert lost_deletes == 0, "a delete racing the bulk run is done on top of it"
    assert deleted, f"no delete landed during the run ({lost_deletes} answered 409)"
    for media_id in ids:
        stored = set(storage.list(image_prefix(prefix, media_id)))
        if media_id in deleted:
            assert stored == set(), f"{media_id}: a delete was undone (or left objects)"
            continue
        manifest = check_complete(storage, prefix, media_id)
        if media_id in replaced:
            assert manifest["original"]["sha256"] == replaced[media_id], (
                f"{media_id}: a 201 replacement was undone"
            )
        mkey = manifest_key(prefix, media_id)
        assert stored == manifest_keys(manifest) | {mkey}, f"{media_id}: stray objects"
