"""ImageService: the one core that HTTP, CLI and workers call.

Ties the pure pipeline and naming to a storage backend and owns the write
protocol that keeps every stored set complete:

1. conversions first (in parallel), then the original, then the manifest, so the
   presence of a manifest means the set is complete;
2. only after the manifest: removal of objects the previous set had and the new one
   does not;
3. on failure, removal of everything this attempt wrote that no earlier complete set
   vouches for. When storage is down that removal is retried in the background.

It also bounds the work of its process (``ConversionSlots``: at most
``max_concurrent_conversions`` at once) and counts what it does (``Metrics``), so
every front end gets back-pressure and metrics without knowing about either.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from PIL import Image

from .backpressure import ConversionSlots
from .cleanup import Janitor
from .description import build_manifest, describe, fingerprint, manifest_keys
from .errors import ImgsvcError, NotFound, StorageUnavailable
from .metrics import Metrics, ObservedStorage
from .naming import (
    CONTENT_TYPES,
    conversion_key,
    image_prefix,
    layout_base,
    manifest_key,
    media_id_of,
    new_media_id,
    original_key,
    parse_media_id,
    replacement_file_base,
    safe_file_base,
)
from .pipeline import Conversion, convert
from .settings import Settings
from .storage import Storage

log = logging.getLogger(__name__)

CONVERSION_CACHE_CONTROL = "public, max-age=31536000, immutable"
#: What reading a manifest of the wrong shape raises.
_MALFORMED = (ValueError, KeyError, TypeError, AttributeError)
MANIFEST_CACHE_CONTROL = "no-cache"


class ImageService:
    def __init__(
        self, settings: Settings, storage: Storage, metrics: Metrics | None = None
    ) -> None:
        self.settings = settings
        # Pillow's own bomb check (2x MAX_IMAGE_PIXELS, process-wide) must never be
        # stricter than ours, or a configured max_pixels above ~179 M could not work.
        # Set once per service, at start-up, never per request.
        Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, settings.max_pixels)
        self.metrics = metrics or Metrics()
        self.storage: Storage = ObservedStorage(storage, self.metrics)
        self.slots = ConversionSlots(settings.max_concurrent_conversions, settings.queue_timeout)
        self._io = ThreadPoolExecutor(settings.storage_threads, thread_name_prefix="imgsvc-io")
        self.janitor = Janitor(self.storage, self._unclaimed)

    def close(self) -> None:
        self._io.shutdown(wait=True)
        self.janitor.close()

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
            previous = self._manifest_or_none(media_id)
            file_base = _base_beside(previous, file_base, conversion.source.sha256)
            orig_key = original_key(
                self.settings.key_prefix, media_id, file_base, conversion.source.ext
            )
            manifest = self._store(media_id, file_base, orig_key, conversion, data, previous)
        self.metrics.bytes_out.inc(sum(len(v.data) for v in conversion.variants))
        return self._describe(manifest)

    def _convert(self, data: bytes) -> Conversion:
        """Convert within a slot: waits up to ``queue_timeout``, then ``Saturated``."""
        with self.metrics.waiting.track_inprogress():
            waited = self.slots.acquire()
        try:
            self.metrics.stage_seconds.labels("queue").observe(waited)
            with self.metrics.in_flight.track_inprogress(), self.metrics.stage("convert"):
                return convert(data, self.settings, self.metrics.stage)
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
        manifest = self._store(
            media_id, previous["file_base"], orig_key, conversion, None, previous
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
        previous = self._manifest_or_none(media_id)
        manifest = self._store(media_id, file_base, orig_key, conversion, None, previous)
        return self._describe(manifest)

    def _store(
        self,
        media_id: str,
        file_base: str,
        orig_key: str,
        conversion: Conversion,
        original: bytes | None,
        previous: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """Write a set by the protocol above; ``previous`` is the manifest it replaces
        (the caller has read it already), ``original`` None leaves the original alone."""
        prefix = self.settings.key_prefix
        keys = [
            conversion_key(prefix, media_id, file_base, v.size, v.width, v.format)
            for v in conversion.variants
        ]
        manifest = build_manifest(media_id, file_base, orig_key, conversion, keys, self.settings)
        # What an earlier complete set vouches for, its manifest included, is never
        # removed by a failed attempt.
        kept = manifest_keys(previous) | {manifest_key(prefix, media_id)} if previous else set()
        attempted: list[str] = list(keys)
        try:
            self._put_conversions(conversion, keys)
            if original is not None:
                attempted.append(orig_key)
                self.storage.put(orig_key, original, conversion.source.content_type)
            attempted.append(manifest_key(prefix, media_id))
            self._put_manifest(manifest)
        except BaseException:
            self._discard(k for k in attempted if k not in kept)
            raise
        if previous:
            self._discard(manifest_keys(previous) - manifest_keys(manifest))
        return manifest

    def _put_conversions(self, conversion: Conversion, keys: list[str]) -> None:
        """Upload in parallel; on failure, return only once no upload is in flight,
        so that the clean-up cannot race an upload that lands after it."""
        puts = [
            self._io.submit(
                self.storage.put, key, v.data, CONTENT_TYPES[v.format], CONVERSION_CACHE_CONTROL
            )
            for v, key in zip(conversion.variants, keys, strict=True)
        ]
        try:
            for future in puts:
                future.result()
        except BaseException:
            for future in puts:
                future.cancel()
            wait(puts)
            raise

    def _put_manifest(self, manifest: dict[str, Any]) -> None:
        body = json.dumps(manifest, indent=1, sort_keys=True).encode()
        key = manifest_key(self.settings.key_prefix, manifest["id"])
        self.storage.put(key, body, "application/json", MANIFEST_CACHE_CONTROL)

    def _discard(self, keys: Iterable[str]) -> None:
        keys = sorted(set(keys))
        if not keys:
            return
        try:
            self.storage.delete(self._unclaimed(keys))
        except StorageUnavailable:
            log.warning("storage down; %d objects queued for removal", len(keys))
            self.janitor.schedule(keys)

    def _unclaimed(self, keys: Iterable[str]) -> list[str]:
        """The keys that no stored manifest lists now, read at the moment of removal.

        Another attempt at the same image, in this process or another one, may have
        written the same keys and its manifest since these were marked for removal (a
        client's retry after a 503 writes exactly the keys the failed try wrote); such
        keys belong to that complete set now. Raises ``StorageUnavailable``.
        """
        wanted = set(keys)
        base = layout_base(self.settings.key_prefix)
        claimed: set[str] = set()
        for media_id in {m for key in wanted if (m := media_id_of(key, base))}:
            current = self._manifest_or_none(media_id)
            if current is not None:
                claimed |= manifest_keys(current) | {
                    manifest_key(self.settings.key_prefix, current["id"])
                }
        return sorted(wanted - claimed)

    # -- read and delete -------------------------------------------------------------

    def manifest(self, media_id: str) -> dict[str, Any]:
        """The stored manifest; ``NotFound`` when the image has none (or no valid one)."""
        media_id = _lookup_id(media_id)
        try:
            stored = self.storage.get(manifest_key(self.settings.key_prefix, media_id))
        except NotFound as exc:  # its message names a storage key: not for clients
            raise NotFound(f"no image {media_id}") from exc
        try:
            manifest = json.loads(stored.data)
            manifest_keys(manifest)
        except _MALFORMED as exc:
            raise NotFound(f"image {media_id} has no valid manifest") from exc
        return manifest  # type: ignore[no-any-return]

    def _manifest_or_none(self, media_id: str) -> dict[str, Any] | None:
        try:
            return self.manifest(media_id)
        except NotFound:
            return None

    def describe(self, media_id: str) -> dict[str, Any]:
        """``NotFound`` also for a manifest that lacks what a description needs."""
        manifest = self.manifest(media_id)
        try:
            return self._describe(manifest)
        except _MALFORMED as exc:
            raise NotFound(f"image {media_id} has no valid manifest") from exc

    def _describe(self, manifest: dict[str, Any]) -> dict[str, Any]:
        return describe(manifest, self.settings.public_base_url, self.settings.primary_format)

    def srcset(self, media_id: str) -> str:
        return str(self.describe(media_id)["srcset"])

    def delete(self, media_id: str) -> None:
        """Remove the manifest first (the set stops being complete), then every object."""
        media_id = _lookup_id(media_id)
        prefix = image_prefix(self.settings.key_prefix, media_id)
        mkey = manifest_key(self.settings.key_prefix, media_id)
        keys = list(self.storage.list(prefix))
        if not keys:
            raise NotFound(f"no image {media_id}")
        self.storage.delete([mkey])
        self.storage.delete([k for k in keys if k != mkey])

    def is_current(self, manifest: dict[str, Any]) -> bool:
        return manifest.get("fingerprint") == fingerprint(self.settings)

    def check_ready(self) -> None:
        self.storage.ping()


def _base_beside(previous: dict[str, Any] | None, file_base: str, sha256: str) -> str:
    """The file base of an upload to a media id that may already have a set.

    The first set takes the plain name (the layout the news site's bucket has). A
    set that replaces another takes the name plus a digest of its own content:
    conversions are served as immutable for a year, so content written at URLs that
    other content had would stay hidden behind browser and CDN caches, and a failure
    part-way would leave one set mixing two photos. The same bytes under the same
    name again (a client's retry) keep the keys they have.
    """
    if previous is None:
        return file_base
    replacement = replacement_file_base(file_base, sha256)
    same_content = previous.get("original", {}).get("sha256") == sha256
    if same_content and previous.get("file_base") in (file_base, replacement):
        return str(previous["file_base"])
    return replacement


def _lookup_id(media_id: str) -> str:
    """An id in a lookup that is not a UUID cannot exist: 404, not 400."""
    try:
        return parse_media_id(media_id)
    except ImgsvcError as exc:
        raise NotFound(f"no image {media_id!r}") from exc
