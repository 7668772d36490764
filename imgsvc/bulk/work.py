"""One image brought up to date: the unit of work of pool workers and Celery tasks.

Re-conversion is ``ImageService.reconvert``, whose write protocol (new conversions,
then the manifest, then removal of what the manifest no longer lists) keeps every
image complete at every instant. An original without a manifest is "adopted" here
from the service's public pieces, because the service has no method for it yet
(see ``adopt``); ``ingest`` is not usable for that: it rewrites the original and,
when a write fails, deletes it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..description import build_manifest
from ..errors import ImgsvcError
from ..naming import conversion_key, image_prefix, manifest_key
from ..pipeline import convert
from ..service import CONVERSION_CACHE_CONTROL, MANIFEST_CACHE_CONTROL, ImageService
from .scan import Action, Finding, State, StoredImage, inspect_image

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    RECONVERTED = "reconverted"
    ADOPTED = "adopted"
    #: Already up to date when its turn came (a redelivery, or another run got there first).
    CURRENT = "current"
    #: Needs work this run does not do (not selected, or nothing to convert from).
    SKIPPED = "skipped"
    #: Deleted since it was listed.
    GONE = "gone"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Result:
    media_id: str
    outcome: Outcome
    reason: str = ""


def reason(exc: BaseException) -> str:
    """One line for the operator: the error's code and message."""
    if isinstance(exc, ImgsvcError):
        return f"{exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def act(service: ImageService, finding: Finding) -> Outcome:
    """Do what the finding says. Raises the service's errors."""
    if finding.action is Action.RECONVERT:
        service.reconvert(finding.media_id)
        return Outcome.RECONVERTED
    if finding.action is Action.ADOPT and finding.original_key:
        adopt(service, finding.media_id, finding.original_key)
        return Outcome.ADOPTED
    return Outcome.SKIPPED


def refresh(service: ImageService, media_id: str, only_outdated: bool) -> Outcome:
    """List, classify and (if this run wants it) convert one image, from scratch.

    Used where the image may have changed since it was queued (Celery tasks, and
    their redeliveries): a second run on the same image finds it current and does
    nothing. Raises ``StorageUnavailable`` and the conversion errors.
    """
    keys = tuple(service.storage.list(image_prefix(service.settings.key_prefix, media_id)))
    if not keys:
        return Outcome.GONE
    finding = inspect_image(service, StoredImage(media_id, keys))
    if finding.action is None:
        return Outcome.CURRENT if finding.state is State.CURRENT else Outcome.SKIPPED
    if not finding.wanted(only_outdated):
        return Outcome.SKIPPED
    return act(service, finding)


def adopt(service: ImageService, media_id: str, original_key: str) -> dict[str, Any]:
    """Give a stored original that has no manifest its conversions and a manifest.

    Such an original is left by an upload interrupted between its last two writes,
    or by a bucket filled by another tool. The original is read, never written nor
    deleted; conversions go first and the manifest last, as in the service; if a
    write fails, the conversions this call wrote are removed again.

    Stand-in for the ``ImageService.adopt`` requested from the service's owner
    (``_store(..., original=None)`` does exactly this, with parallel uploads and the
    janitor); replace the body with that call once it exists.
    """
    settings, storage = service.settings, service.storage
    prefix = settings.key_prefix
    file_base = original_key[len(image_prefix(prefix, media_id)) :].rsplit(".", 1)[0]
    conversion = convert(storage.get(original_key).data, settings)
    keys = [
        conversion_key(prefix, media_id, file_base, v.size, v.width, v.format)
        for v in conversion.variants
    ]
    manifest = build_manifest(media_id, file_base, original_key, conversion, keys, settings)
    written: list[str] = []
    try:
        for variant, key in zip(conversion.variants, keys, strict=True):
            written.append(key)
            storage.put(key, variant.data, f"image/{variant.format}", CONVERSION_CACHE_CONTROL)
        body = json.dumps(manifest, indent=1, sort_keys=True).encode()
        storage.put(
            manifest_key(prefix, media_id), body, "application/json", MANIFEST_CACHE_CONTROL
        )
    except BaseException:
        try:
            storage.delete(written)
        except ImgsvcError as exc:
            # Storage is down: the next run finds the image orphaned again and retries.
            log.warning("%s: could not remove %d conversions: %s", media_id, len(written), exc)
        raise
    return service.describe(media_id)
