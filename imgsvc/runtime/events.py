"""Change events: what the service announces after every change of stored objects.

The service emits one ``Event`` when a write or a delete has landed (never before,
never for a write that lost a race) and hands it to every listener: the webhook
notifier (``webhooks.py``) and, in a bulk run, the collector that feeds the purge
list. A listener can never fail or delay the change: it is called after the fact,
and whatever it raises is logged and dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..describe.description import public_url
from ..describe.manifest import changed_keys, manifest_keys

log = logging.getLogger(__name__)

CREATED = "image.created"
REPLACED = "image.replaced"
UPDATED = "image.updated"
RECONVERTED = "image.reconverted"
DELETED = "image.deleted"


@dataclass(frozen=True, slots=True)
class Event:
    """One change of one image: the public URLs whose bytes changed (written anew,
    or rewritten with other bytes) and those removed."""

    type: str
    id: str
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "id": self.id,
            "changed": list(self.changed),
            "removed": list(self.removed),
            "at": self.at,
        }


def change_event(
    kind: str, previous: dict[str, Any] | None, manifest: dict[str, Any] | None, base_url: str
) -> Event:
    """The event of a set that replaced ``previous`` (None: there was none) by
    ``manifest`` (None: the image was deleted), its keys as public URLs."""
    if manifest is None:
        changed: list[str] = []
        removed = sorted(manifest_keys(previous)) if previous else []
        media_id = previous["id"] if previous else ""
    else:
        changed, removed = changed_keys(previous, manifest)
        media_id = manifest["id"]
    return Event(
        kind,
        media_id,
        tuple(public_url(base_url, k) for k in changed),
        tuple(public_url(base_url, k) for k in removed),
    )


Listener = Callable[[Event], None]


class Events:
    """The listeners of one service. ``collecting()`` gathers what the calling
    thread's own operations emit (a bulk worker's purge list), without a listener
    that other threads' events would reach."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._local = threading.local()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, event: Event) -> None:
        if not (event.changed or event.removed):
            return  # nothing reached storage that a reader or a cache could see
        for bucket in getattr(self._local, "buckets", ()):
            bucket.append(event)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a listener must never fail the change it hears of
                log.exception("event listener %r failed on %s %s", listener, event.type, event.id)

    @contextmanager
    def collecting(self) -> Iterator[list[Event]]:
        """The events this thread emits inside the block, in order."""
        bucket: list[Event] = []
        buckets: list[list[Event]] = getattr(self._local, "buckets", [])
        self._local.buckets = [*buckets, bucket]
        try:
            yield bucket
        finally:
            self._local.buckets = buckets
