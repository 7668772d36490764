"""bulk/work.py: one image brought up to date, and what a run counts when the image
changed under it (deleted since the listing, or kept changing by editors)."""

from __future__ import annotations

import dataclasses
from typing import Any

from imgsvc import ImageService, Settings
from imgsvc.bulk.scan import Action, Finding, State
from imgsvc.bulk.work import Outcome, act
from imgsvc.errors import Conflict
from imgsvc.storage import Storage

from ..support import images


def test_an_image_deleted_since_the_listing_is_gone_not_failed(service: ImageService) -> None:
    media_id = service.ingest(images.solid((600, 400)), "a.jpg")["id"]
    finding = Finding(media_id, State.OUTDATED, action=Action.RECONVERT)
    service.delete(media_id)
    assert act(service, finding) is Outcome.GONE


def test_an_image_editors_keep_changing_is_skipped_for_the_next_run(
    service: ImageService, monkeypatch: Any
) -> None:
    media_id = service.ingest(images.solid((600, 400)), "a.jpg")["id"]

    def always_conflict(*_args: Any, **_kwargs: Any) -> Any:
        raise Conflict("changed")

    monkeypatch.setattr(service, "reconvert", always_conflict)
    finding = Finding(media_id, State.OUTDATED, action=Action.RECONVERT)
    assert act(service, finding) is Outcome.SKIPPED


def test_an_outdated_image_is_reconverted(
    service: ImageService, settings: Settings, storage: Storage
) -> None:
    media_id = service.ingest(images.solid((600, 400)), "a.jpg")["id"]
    newer = ImageService(dataclasses.replace(settings, webp_quality=70), storage)
    try:
        finding = Finding(media_id, State.OUTDATED, action=Action.RECONVERT)
        assert act(newer, finding) is Outcome.RECONVERTED
        assert newer.manifest(media_id)["fingerprint"] == newer.fingerprint != service.fingerprint
    finally:
        newer.close()
