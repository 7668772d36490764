"""One image brought up to date: the unit of work of pool workers and Celery tasks.

Re-conversion is ``ImageService.reconvert``, whose write protocol (new conversions,
then the manifest, then removal of what the manifest no longer lists) keeps every
image complete at every instant. An original without a manifest is "adopted" with
``ImageService.adopt`` (not ``ingest``, which would rewrite the original).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..describe.description import public_url
from ..errors import Conflict, ImgsvcError, NotFound
from ..runtime.events import Event
from ..service import ImageService
from ..storage.keys import image_prefix
from .scan import Action, Finding, State, StoredImage, inspect_image


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
    #: Public URLs whose bytes changed or that were removed (the purge list's lines).
    urls: tuple[str, ...] = ()


#: An outcome and the URLs it made stale (the purge list's lines).
Done = tuple[Outcome, tuple[str, ...]]


def purge_urls(events: Iterable[Event], reappeared: Iterable[str] = ()) -> tuple[str, ...]:
    """What a CDN must forget after these events: changed and removed, and the
    ``reappeared`` URLs, each once."""
    urls = [url for e in events for url in (*e.changed, *e.removed)]
    return tuple(dict.fromkeys([*urls, *reappeared]))


def reason(exc: BaseException) -> str:
    """One line for the operator: the error's code and message."""
    if isinstance(exc, ImgsvcError):
        return f"{exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def act(service: ImageService, finding: Finding) -> Outcome:
    """Do what the finding says. Raises the service's errors, except two that are no
    failure of the run: the image was deleted since it was listed (``GONE``), or
    editors kept changing it faster than it could be re-converted (``SKIPPED``: the
    next run finds it as they left it)."""
    try:
        if finding.action is Action.RECONVERT:
            service.reconvert(finding.media_id)
            return Outcome.RECONVERTED
        if finding.action is Action.ADOPT and finding.original_key:
            adopt(service, finding.media_id, finding.original_key)
            return Outcome.ADOPTED
    except NotFound:
        return Outcome.GONE
    except Conflict:
        return Outcome.SKIPPED
    return Outcome.SKIPPED


def act_collecting(service: ImageService, finding: Finding) -> Done:
    """``act``, with the URLs its change made stale: those of its change event, and
    those of conversions that were missing and are stored again. The event does not
    list the latter when their bytes are the ones the manifest recorded, but a cache
    may hold their 404."""
    with service.events.collecting() as events:
        outcome = act(service, finding)
    base = service.settings.public_base_url
    back = [public_url(base, k) for k in finding.missing] if outcome is Outcome.RECONVERTED else []
    return outcome, purge_urls(events, back)


def refresh(service: ImageService, media_id: str, only_outdated: bool) -> Done:
    """List, classify and (if this run wants it) convert one image, from scratch.

    Used where the image may have changed since it was queued (Celery tasks, and
    their redeliveries): a second run on the same image finds it current and does
    nothing. Raises ``StorageUnavailable`` and the conversion errors.
    """
    keys = tuple(service.storage.list(image_prefix(service.settings.key_prefix, media_id)))
    if not keys:
        return Outcome.GONE, ()
    finding = inspect_image(service, StoredImage(media_id, keys))
    if finding.action is None:
        return Outcome.CURRENT if finding.state is State.CURRENT else Outcome.SKIPPED, ()
    if not finding.wanted(only_outdated):
        return Outcome.SKIPPED, ()
    return act_collecting(service, finding)


def adopt(service: ImageService, media_id: str, original_key: str) -> dict[str, Any]:
    """Give a stored original that has no manifest its conversions and a manifest."""
    return service.adopt(media_id, original_key)
