"""ImageService: the one core that HTTP, CLI and workers call.

It ties three rooms together and adds nothing of its own but orchestration: the
pure pipeline (``imgsvc.pipeline``) converts, the set store (``imgsvc.storage.sets``)
writes by the protocol that keeps every stored set complete, and the description
(``imgsvc.describe``) tells clients what is stored. It also bounds the work of its
process (``ConversionSlots``: at most ``max_concurrent_conversions`` at once) and
counts what it does (``Metrics``), so every front end gets back-pressure and
metrics without knowing about either.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from .describe import describe
from .describe.listing import check_limit, cursor_id, page
from .describe.manifest import MALFORMED, same_photo
from .errors import Conflict, NotFound
from .pipeline import Conversion, Focus, PipelineConfig, convert
from .pipeline.focus import CENTRE, editor_focus
from .races import MAX_ATTEMPTS, gave_up, kept_focus, lost, still_applies
from .runtime import events, webhooks
from .runtime.events import Events, change_event
from .runtime.metrics import Metrics, ObservedStorage
from .runtime.slots import ConversionSlots
from .settings import Settings
from .storage import Storage, write_guarantee
from .storage.keys import (
    file_base_beside,
    image_prefix,
    lookup_media_id,
    new_media_id,
    original_key,
    parse_media_id,
    safe_file_base,
)
from .storage.sets import Current, SetStore

Manifest = dict[str, Any]


class ImageService:
    def __init__(
        self, settings: Settings, storage: Storage, metrics: Metrics | None = None
    ) -> None:
        self.settings = settings
        self.pipeline = PipelineConfig.from_settings(settings)
        # Pillow's process-wide bomb check must never be stricter than ours; set once.
        Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, settings.max_pixels)
        self.metrics = metrics or Metrics()
        self.storage: Storage = ObservedStorage(storage, self.metrics)
        self.sets = SetStore(
            self.storage,
            settings.key_prefix,
            settings.storage_threads,
            self.pipeline.fingerprint,
            on_conflict=lambda operation: self.metrics.conflicts.labels(operation).inc(),
            cache_control=settings.conversion_cache_control,
        )
        self.janitor = self.sets.janitor
        self.slots = ConversionSlots(settings.max_concurrent_conversions, settings.queue_timeout)
        #: Every change of stored objects, after it landed (``runtime/events.py``).
        self.events = Events()
        self.notifier = webhooks.attach(settings, self.metrics, self.events)

    def close(self) -> None:
        self.sets.close()
        if self.notifier is not None:
            self.notifier.close()

    def _announce(self, kind: str, previous: Manifest | None, manifest: Manifest | None) -> None:
        self.events.emit(change_event(kind, previous, manifest, self.settings.public_base_url))

    @property
    def fingerprint(self) -> str:
        """That of the current settings; a stored set with another one is outdated."""
        return self.pipeline.fingerprint

    def ingest(
        self,
        data: bytes,
        filename: str | None = None,
        media_id: str | None = None,
        base_url: str | None = None,
        focus: Focus | None = None,
    ) -> dict[str, Any]:
        """Convert and store one upload; return its description (its URLs under
        ``base_url``, by default the configured ``public_base_url``). ``focus``: the
        editor's; None keeps the stored editor's focus of these very bytes, else lets
        the pipeline find one.

        Raises the pipeline's errors for refused input (nothing is written then),
        ``Saturated`` when no slot frees up in time, ``StorageUnavailable`` when storage
        fails (what was written is removed), and ``Conflict`` when another upload, focus
        or delete landed while this one was being stored (it keeps nothing; ``races.py``).
        """
        media_id = parse_media_id(media_id) if media_id else new_media_id()
        name = safe_file_base(filename)
        conversion = self._convert(data, focus)
        sha256 = conversion.source.sha256
        with self.metrics.stage("store"):
            for _ in range(MAX_ATTEMPTS):
                current = self.sets.read(media_id)
                kept = None if focus is not None else kept_focus(current.manifest, sha256)
                if kept is not None and conversion.focus != kept:
                    conversion = self._convert(data, kept)
                file_base = file_base_beside(current.manifest, name, sha256)
                orig_key = original_key(
                    self.settings.key_prefix, media_id, file_base, conversion.source.ext
                )
                try:
                    manifest = self.sets.write(
                        media_id, file_base, orig_key, conversion, data, current, "upload"
                    )
                    break
                except Conflict:
                    now = self.sets.read(media_id).manifest
                    if not still_applies(current.manifest, now, sha256, focus is not None):
                        raise lost(
                            media_id,
                            "this upload was being stored",
                            "this upload kept nothing; send the photo again to replace it",
                        ) from None
            else:
                raise gave_up(media_id)
        self.metrics.bytes_out.inc(sum(len(v.data) for v in conversion.variants))
        kind = events.CREATED if current.manifest is None else events.REPLACED
        self._announce(kind, current.manifest, manifest)
        return self._describe(manifest, base_url)

    def _convert(self, data: bytes, focus: Focus | None = None) -> Conversion:
        """Convert within a slot: waits up to ``queue_timeout``, then ``Saturated``."""
        with self.metrics.waiting.track_inprogress():
            waited = self.slots.acquire()
        try:
            self.metrics.stage_seconds.labels("queue").observe(waited)
            with self.metrics.in_flight.track_inprogress(), self.metrics.stage("convert"):
                return convert(data, self.pipeline, self.metrics.stage, focus)
        finally:
            self.slots.release()

    def reconvert(self, media_id: str) -> dict[str, Any]:
        """Re-convert a stored image from its original with the current settings.

        The original is read, never written; the manifest is replaced only when the new
        conversions are all stored, and only if the image is still as it was read. When
        another write landed meanwhile (an editor replaced the photo), the newer state
        wins: this starts over from it, or stops if it is current. An editor's focus is
        kept. ``NotFound`` when the image is gone (deleted meanwhile, too)."""
        return self._rewrite(lookup_media_id(media_id), None, events.RECONVERTED)

    def refocus(
        self, media_id: str, focus: Focus | None, base_url: str | None = None
    ) -> dict[str, Any]:
        """Set the editor's focus (None: back to the one the pipeline finds) and rewrite
        what depends on it by the write protocol: new crop keys, the manifest, then the
        old crops go; objects whose bytes stay are not rewritten (an outdated set is
        re-converted whole, as ``reconvert`` would). Applied again on top of a
        re-conversion that landed meanwhile; ``Conflict`` when another photo or a
        delete did (``races.py``); ``NotFound`` without an image."""
        return self._rewrite(lookup_media_id(media_id), focus, events.UPDATED, base_url)

    def _rewrite(
        self, media_id: str, focus: Focus | None, kind: str, base_url: str | None = None
    ) -> dict[str, Any]:
        """A re-conversion (a machine's: the stored editor's focus kept) or an update
        (the editor's ``focus``)."""
        editor = kind == events.UPDATED
        for attempt in range(MAX_ATTEMPTS):
            current = self.sets.read(media_id)
            previous = current.manifest
            if previous is None:
                raise NotFound(f"no image {media_id}")
            stored = editor_focus(previous.get("focus"))
            done = stored == focus if editor else attempt > 0
            if done and self.is_current(previous):
                return self._describe(previous, base_url)
            try:
                manifest = self._new_set(media_id, current, focus if editor else stored, editor)
            except Conflict:
                if editor and not same_photo(previous, self.sets.read(media_id).manifest):
                    raise lost(media_id, "its focus was being set", "nothing changed") from None
                continue
            self._announce(kind, previous, manifest)
            return self._describe(manifest, base_url)
        raise gave_up(media_id)

    def _new_set(
        self, media_id: str, current: Current, focus: Focus | None, editor: bool
    ) -> dict[str, Any]:
        """Re-converted from the original; for an editor's focus on a current set
        without crops, only the manifest's focus changes (no byte depends on it)."""
        previous, pipeline = current.manifest or {}, self.pipeline
        found = focus is None and pipeline.detect_focus  # a detection needs the pixels
        if editor and not found and not pipeline.output.crops and self.is_current(previous):
            changes = {"focus": (focus or CENTRE).to_dict()}
            return self.sets.amend(media_id, current, changes, "refocus")
        orig_key = previous["original"]["key"]
        conversion = self._convert(self.storage.get(orig_key).data, focus)
        operation = "refocus" if editor else "reconvert"
        return self.sets.write(
            media_id, previous["file_base"], orig_key, conversion, None, current, operation
        )

    def adopt(self, media_id: str, orig_key: str) -> dict[str, Any]:
        """Convert a stored original that has no manifest (an upload interrupted before
        its manifest, or a bucket filled by another tool). Like ``reconvert``, the
        original is read and never written nor deleted. It writes only where there is
        no valid manifest: a set that landed since the scan (an upload) is the newer
        state and is returned as it is.

        Raises ``NotFound`` when the key is not an original of that image.
        """
        media_id = parse_media_id(media_id)
        folder = image_prefix(self.settings.key_prefix, media_id)
        name = orig_key.removeprefix(folder)
        if not orig_key.startswith(folder) or "/" in name or "." not in name:
            raise NotFound(f"{orig_key} is not an original of image {media_id}")
        current = self.sets.read(media_id)
        if current.manifest is not None:  # a set landed since the scan: it is newer
            return self._describe(current.manifest)
        data = self.storage.get(orig_key).data
        conversion = self._convert(data)
        file_base = name.rsplit(".", 1)[0]
        try:
            manifest = self.sets.write(
                media_id, file_base, orig_key, conversion, None, current, "adopt"
            )
        except Conflict:
            winner = self.sets.read(media_id).manifest
            if winner is None:
                raise
            return self._describe(winner)
        self._announce(events.CREATED, None, manifest)
        return self._describe(manifest)

    def manifest(self, media_id: str) -> dict[str, Any]:
        """The stored manifest; ``NotFound`` when the image has none (or no valid one)."""
        return self.sets.manifest(lookup_media_id(media_id))

    def describe(self, media_id: str, base_url: str | None = None) -> dict[str, Any]:
        """``NotFound`` also for a manifest that lacks what a description needs."""
        manifest = self.manifest(media_id)
        try:
            return self._describe(manifest, base_url)
        except MALFORMED as exc:
            raise NotFound(f"image {media_id} has no valid manifest") from exc

    def _describe(self, manifest: dict[str, Any], base_url: str | None = None) -> dict[str, Any]:
        base = base_url or self.settings.public_base_url
        return describe(manifest, base, self.settings.primary_format)

    def list_images(
        self, limit: int = 100, cursor: str | None = None, base_url: str | None = None
    ) -> dict[str, Any]:
        """One page of the stored images, in listing order: ``{"images": [descriptions],
        "next_cursor": str | None}``. ``BadRequest`` for a limit outside 1..1000 or a
        cursor this service did not hand out."""
        manifests, last = self.sets.page(check_limit(limit), cursor_id(cursor) if cursor else None)
        return page(manifests, lambda manifest: self._describe(manifest, base_url), last)

    def srcset(self, media_id: str, base_url: str | None = None) -> str:
        return str(self.describe(media_id, base_url)["srcset"])

    def delete(self, media_id: str) -> None:
        """Remove the manifest first (the set stops being complete), then every object.

        A delete that raced a re-conversion of the same photo is done again on top of
        it (the editor's decision still stands); one that raced another photo raises
        ``Conflict``: that newer set stays, whole. ``NotFound`` when there is no image.
        """
        media_id = lookup_media_id(media_id)
        for _ in range(MAX_ATTEMPTS):
            current = self.sets.read(media_id)
            try:
                self.sets.delete(media_id, current)
            except Conflict:
                now = self.sets.read(media_id)
                if now.manifest is None:
                    return  # deleted meanwhile: what this delete wanted
                if not same_photo(current.manifest, now.manifest):
                    why = "nothing was deleted; send the delete again to remove what is stored now"
                    raise lost(media_id, "it was being deleted", why) from None
                continue
            self._announce(events.DELETED, current.manifest, None)
            return
        raise gave_up(media_id)

    def is_current(self, manifest: dict[str, Any]) -> bool:
        return self.pipeline.is_current(manifest)

    def check_ready(self) -> None:
        self.storage.ping()

    def concurrent_writes(self) -> tuple[str, str]:
        """Whether two writers of one image are serialised here, and why. Never raises."""
        return write_guarantee(self.storage)
