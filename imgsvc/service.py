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
from .errors import ImgsvcError, NotFound
from .pipeline import Conversion, PipelineConfig, convert
from .runtime.metrics import Metrics, ObservedStorage
from .runtime.slots import ConversionSlots
from .settings import Settings
from .storage import Storage
from .storage.keys import (
    image_prefix,
    new_media_id,
    original_key,
    parse_media_id,
    safe_file_base,
)
from .storage.sets import MALFORMED, SetStore, file_base_beside


class ImageService:
    def __init__(
        self, settings: Settings, storage: Storage, metrics: Metrics | None = None
    ) -> None:
        self.settings = settings
        self.pipeline = PipelineConfig.from_settings(settings)
        # Pillow's own bomb check (2x MAX_IMAGE_PIXELS, process-wide) must never be
        # stricter than ours, or a configured max_pixels above ~179 M could not work.
        # Set once per service, at start-up, never per request.
        Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, settings.max_pixels)
        self.metrics = metrics or Metrics()
        self.storage: Storage = ObservedStorage(storage, self.metrics)
        self.sets = SetStore(self.storage, settings.key_prefix, settings.storage_threads)
        self.janitor = self.sets.janitor
        self.slots = ConversionSlots(settings.max_concurrent_conversions, settings.queue_timeout)

    def close(self) -> None:
        self.sets.close()

    @property
    def fingerprint(self) -> str:
        """That of the current settings; a stored set with another one is outdated."""
        return self.pipeline.fingerprint

    # -- ingest -------------------------------------------------------------------

    def ingest(
        self, data: bytes, filename: str | None = None, media_id: str | None = None
    ) -> dict[str, Any]:
        """Convert and store one upload; return its description.

        Raises the pipeline's errors for refused input (nothing is written then),
        ``Saturated`` when no conversion slot frees up in time, and
        ``StorageUnavailable`` when storage fails (what was written is removed).
        """
        media_id = parse_media_id(media_id) if media_id else new_media_id()
        file_base = safe_file_base(filename)
        conversion = self._convert(data)
        with self.metrics.stage("store"):
            previous = self.sets.manifest_or_none(media_id)
            file_base = file_base_beside(previous, file_base, conversion.source.sha256)
            orig_key = original_key(
                self.settings.key_prefix, media_id, file_base, conversion.source.ext
            )
            manifest = self.sets.write(
                media_id, file_base, orig_key, conversion, data, previous, self.fingerprint
            )
        self.metrics.bytes_out.inc(sum(len(v.data) for v in conversion.variants))
        return self._describe(manifest)

    def _convert(self, data: bytes) -> Conversion:
        """Convert within a slot: waits up to ``queue_timeout``, then ``Saturated``."""
        with self.metrics.waiting.track_inprogress():
            waited = self.slots.acquire()
        try:
            self.metrics.stage_seconds.labels("queue").observe(waited)
            with self.metrics.in_flight.track_inprogress(), self.metrics.stage("convert"):
                return convert(data, self.pipeline, self.metrics.stage)
        finally:
            self.slots.release()

    def reconvert(self, media_id: str) -> dict[str, Any]:
        """Re-convert a stored image from its original with the current settings.

        The original is read, never written; the manifest is replaced only when the
        new conversions are all stored.
        """
        previous = self.manifest(media_id)
        orig_key = previous["original"]["key"]
        data = self.storage.get(orig_key).data
        conversion = self._convert(data)
        file_base = previous["file_base"]
        manifest = self.sets.write(
            media_id, file_base, orig_key, conversion, None, previous, self.fingerprint
        )
        return self._describe(manifest)

    def adopt(self, media_id: str, orig_key: str) -> dict[str, Any]:
        """Convert a stored original that has no manifest (an upload interrupted before
        its manifest, or a bucket filled by another tool). Like ``reconvert``, the
        original is read and never written nor deleted.

        Raises ``NotFound`` when the key is not an original of that image.
        """
        media_id = parse_media_id(media_id)
        folder = image_prefix(self.settings.key_prefix, media_id)
        name = orig_key.removeprefix(folder)
        if not orig_key.startswith(folder) or "/" in name or "." not in name:
            raise NotFound(f"{orig_key} is not an original of image {media_id}")
        data = self.storage.get(orig_key).data
        conversion = self._convert(data)
        file_base = name.rsplit(".", 1)[0]
        previous = self.sets.manifest_or_none(media_id)
        manifest = self.sets.write(
            media_id, file_base, orig_key, conversion, None, previous, self.fingerprint
        )
        return self._describe(manifest)

    # -- read and delete -------------------------------------------------------------

    def manifest(self, media_id: str) -> dict[str, Any]:
        """The stored manifest; ``NotFound`` when the image has none (or no valid one)."""
        return self.sets.manifest(_lookup_id(media_id))

    def describe(self, media_id: str) -> dict[str, Any]:
        """``NotFound`` also for a manifest that lacks what a description needs."""
        manifest = self.manifest(media_id)
        try:
            return self._describe(manifest)
        except MALFORMED as exc:
            raise NotFound(f"image {media_id} has no valid manifest") from exc

    def _describe(self, manifest: dict[str, Any]) -> dict[str, Any]:
        return describe(manifest, self.settings.public_base_url, self.settings.primary_format)

    def srcset(self, media_id: str) -> str:
        return str(self.describe(media_id)["srcset"])

    def delete(self, media_id: str) -> None:
        """Remove the manifest first (the set stops being complete), then every object."""
        self.sets.delete(_lookup_id(media_id))

    def is_current(self, manifest: dict[str, Any]) -> bool:
        return manifest.get("fingerprint") == self.fingerprint

    def check_ready(self) -> None:
        self.storage.ping()


def _lookup_id(media_id: str) -> str:
    """An id in a lookup that is not a UUID cannot exist: 404, not 400."""
    try:
        return parse_media_id(media_id)
    except ImgsvcError as exc:
        raise NotFound(f"no image {media_id!r}") from exc
