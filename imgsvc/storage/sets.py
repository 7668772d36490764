"""The write protocol: how a set of objects (original, conversions, manifest) is
written, replaced and removed so that every stored set stays complete.

1. conversions first (in parallel), then the original, then the manifest, so the
   presence of a manifest means the set is complete;
2. the manifest write is a compare-and-swap against the manifest the writer read
   (``Current``): it lands only if the image is still in that state, else
   ``Conflict`` and the writer keeps nothing. So no write ever undoes another;
3. only after the manifest: removal of objects the previous set had and the new one
   does not;
4. on failure, removal of everything this attempt wrote that no earlier complete set
   vouches for. When storage is down that removal is retried in the background
   (``janitor.py``), and every removal skips keys a manifest lists at that moment,
   so the loser of a conflict never removes the winner's objects.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from ..describe.manifest import MALFORMED, all_variants, build_manifest, manifest_keys
from ..errors import Conflict, NotFound, StorageUnavailable
from ..formats import CONTENT_TYPES
from ..pipeline import Conversion, EncodedVariant
from .base import Storage
from .janitor import Janitor
from .keys import (
    conversion_key,
    crop_key,
    image_prefix,
    layout_base,
    manifest_key,
    media_id_of,
)

log = logging.getLogger(__name__)
MANIFEST_CACHE_CONTROL = "no-cache"


@dataclass(frozen=True, slots=True)
class Current:
    """An image as a writer read it: its manifest (None when there is none, or none
    that is valid) and the version of the manifest object (None when there is none),
    which the writer's own manifest write is conditional on."""

    manifest: dict[str, Any] | None
    etag: str | None


class SetStore:
    """Reads and writes whole sets in one storage under one key prefix."""

    def __init__(
        self,
        storage: Storage,
        key_prefix: str,
        threads: int,
        fingerprint: str,
        on_conflict: Callable[[str], None] = lambda _operation: None,
        cache_control: str = "public, max-age=86400",
    ) -> None:
        """``fingerprint`` goes into every manifest written (that of the pipeline
        configuration); ``on_conflict(operation)`` hears of every write that lost a
        race (the service counts them in its metrics); ``cache_control`` is the
        header of every conversion (``conversion_cache_control``)."""
        self.storage = storage
        self.prefix = key_prefix
        self.fingerprint = fingerprint
        self.on_conflict = on_conflict
        self.cache_control = cache_control
        self._io = ThreadPoolExecutor(threads, thread_name_prefix="imgsvc-io")
        self.janitor = Janitor(storage, self.unclaimed)

    def close(self) -> None:
        self._io.shutdown(wait=True)
        self.janitor.close()

    # -- read ------------------------------------------------------------------

    def read(self, media_id: str) -> Current:
        """The image's manifest and its version; raises ``StorageUnavailable``."""
        try:
            stored = self.storage.get(manifest_key(self.prefix, media_id))
        except NotFound:
            return Current(None, None)
        try:
            manifest = json.loads(stored.data)
            manifest_keys(manifest)
        except MALFORMED:
            return Current(None, stored.etag)
        return Current(manifest, stored.etag)

    def manifest(self, media_id: str) -> dict[str, Any]:
        """The stored manifest of a canonical media id; ``NotFound`` when there is
        none or it is not a valid one."""
        current = self.read(media_id)
        if current.manifest is None:
            if current.etag is None:
                raise NotFound(f"no image {media_id}")
            raise NotFound(f"image {media_id} has no valid manifest")
        return current.manifest

    def manifest_or_none(self, media_id: str) -> dict[str, Any] | None:
        return self.read(media_id).manifest

    def page(self, limit: int, after: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """Up to ``limit`` manifests in listing order (by media id), starting after the
        image ``after``; and the id to continue after, None at the end. Ids without a
        valid manifest (an upload in flight, leftovers) are passed over."""
        base = layout_base(self.prefix)
        # '~' sorts after every character a key may hold: past all of that image's keys.
        start = f"{base}{after}/~" if after else None
        ids: list[str] = []
        for key in self.storage.list(base, start_after=start):
            media_id = media_id_of(key, base)
            if media_id and key == manifest_key(self.prefix, media_id):
                ids.append(media_id)
                if len(ids) > limit:
                    break
        more = len(ids) > limit
        ids = ids[:limit]
        manifests = [m for m in self._io.map(self.manifest_or_none, ids) if m is not None]
        return manifests, (ids[-1] if more and ids else None)

    # -- write -----------------------------------------------------------------

    def write(
        self,
        media_id: str,
        file_base: str,
        orig_key: str,
        conversion: Conversion,
        original: bytes | None,
        current: Current,
        operation: str,
    ) -> dict[str, Any]:
        """Write a set by the protocol above and return its manifest. ``current`` is
        the state it replaces, as the caller read it; ``original`` None leaves the
        original alone; ``operation`` names the writer (upload, reconvert, adopt).
        Raises ``Conflict`` when the image is no longer in that state (nothing of this
        attempt is kept), ``StorageUnavailable`` when storage fails."""
        previous = current.manifest
        keys = [
            conversion_key(self.prefix, media_id, file_base, v.size, v.width, v.format)
            for v in conversion.variants
        ]
        crop_keys = {
            c.name: [
                crop_key(self.prefix, media_id, file_base, c.name, c.box, v.width, v.format)
                for v in c.variants
            ]
            for c in conversion.crops
        }
        manifest = build_manifest(
            media_id, file_base, orig_key, conversion, keys, self.fingerprint, crop_keys
        )
        objects = [
            *zip(conversion.variants, keys, strict=True),
            *(
                pair
                for c in conversion.crops
                for pair in zip(c.variants, crop_keys[c.name], strict=True)
            ),
        ]
        mkey = manifest_key(self.prefix, media_id)
        # What an earlier complete set vouches for is never removed by a failed attempt.
        kept = manifest_keys(previous) if previous else set()
        attempted: list[str] = [key for _, key in objects]
        try:
            self._put_conversions(objects, _unchanged(previous) if operation == "refocus" else {})
            if original is not None:
                attempted.append(orig_key)
                self.storage.put(orig_key, original, conversion.source.content_type)
            # The manifest is never in ``attempted``: a manifest that landed is a
            # complete set (ours, if the answer was lost; or another writer's), and
            # removing it by key would race whoever wrote it.
            self._put_manifest(mkey, manifest, current)
        except Conflict:
            # The newer state won. What it lists stays (discard keeps claimed keys),
            # the rest of this attempt goes, and the manifest object is the winner's.
            self.on_conflict(operation)
            self.discard(attempted)
            raise
        except BaseException:
            self.discard(k for k in attempted if k not in kept)
            raise
        if previous:
            self.discard(manifest_keys(previous) - manifest_keys(manifest))
        return manifest

    def amend(
        self, media_id: str, current: Current, changes: dict[str, Any], operation: str
    ) -> dict[str, Any]:
        """``current``'s manifest with ``changes`` (fields no object depends on: a focus
        without crops), by the same compare-and-swap, no object written or removed;
        ``Conflict`` when the image changed meanwhile."""
        if current.manifest is None:
            raise NotFound(f"no image {media_id}")
        manifest = {**current.manifest, **changes}
        try:
            self._put_manifest(manifest_key(self.prefix, media_id), manifest, current)
        except Conflict:
            self.on_conflict(operation)
            raise
        return manifest

    def _put_manifest(self, key: str, manifest: dict[str, Any], current: Current) -> None:
        body = json.dumps(manifest, indent=1, sort_keys=True).encode()
        self.storage.put_if(key, body, "application/json", MANIFEST_CACHE_CONTROL, current.etag)

    def _put_conversions(
        self, objects: list[tuple[EncodedVariant, str]], stored: dict[str, str]
    ) -> None:
        """Upload in parallel; on failure, return only once no upload is in flight,
        so that the clean-up cannot race an upload that lands after it. A key that
        ``stored`` (key -> SHA-256 of the set being replaced) holds with these very
        bytes is not written again: the set vouching for it stays whole until the
        compare-and-swap replaces it, and the new manifest vouches for it then."""
        puts = [
            self._io.submit(
                self.storage.put, key, v.data, CONTENT_TYPES[v.format], self.cache_control
            )
            for v, key in objects
            if stored.get(key) != hashlib.sha256(v.data).hexdigest()
        ]
        try:
            for future in puts:
                future.result()
        except BaseException:
            for future in puts:
                future.cancel()
            wait(puts)
            raise

    def delete(self, media_id: str, current: Current) -> None:
        """Remove the manifest first (the set stops being complete), then the objects.

        The manifest goes only if it is still ``current``, as the caller read it (``Conflict``
        otherwise: a write that landed meanwhile wins, and nothing is removed). Then
        the objects listed before it went, except what a manifest lists by then: a
        writer that read the old manifest fails its own compare-and-swap, and one
        that started later wrote nothing that was listed.

        Raises ``NotFound`` when there is no manifest object: without one, objects
        under the id may be an upload still in flight, whose manifest would then list
        removed keys. Such leftovers are the janitor's and the bulk run's.
        """
        mkey = manifest_key(self.prefix, media_id)
        if current.etag is None:
            raise NotFound(f"no image {media_id}")
        keys = list(self.storage.list(image_prefix(self.prefix, media_id)))
        try:
            self.storage.delete_if(mkey, current.etag)
        except Conflict:
            self.on_conflict("delete")
            raise
        self.storage.delete(self.unclaimed(k for k in keys if k != mkey))

    # -- clean-up --------------------------------------------------------------

    def discard(self, keys: Iterable[str]) -> None:
        """Remove what no manifest claims; queue it for the janitor if storage is down."""
        keys = sorted(set(keys))
        if not keys:
            return
        try:
            self.storage.delete(self.unclaimed(keys))
        except StorageUnavailable:
            log.warning("storage down; %d objects queued for removal", len(keys))
            self.janitor.schedule(keys)

    def unclaimed(self, keys: Iterable[str]) -> list[str]:
        """The keys that no stored manifest lists now, read at the moment of removal.

        Another attempt at the same image, in this process or another one, may have
        written the same keys and its manifest since these were marked for removal (a
        client's retry after a 503 writes exactly the keys the failed try wrote); such
        keys belong to that complete set now. Raises ``StorageUnavailable``.
        """
        wanted = set(keys)
        base = layout_base(self.prefix)
        claimed: set[str] = set()
        for media_id in {m for key in wanted if (m := media_id_of(key, base))}:
            current = self.manifest_or_none(media_id)
            if current is not None:
                claimed |= manifest_keys(current) | {manifest_key(self.prefix, current["id"])}
        return sorted(wanted - claimed)


def _unchanged(previous: dict[str, Any] | None) -> dict[str, str]:
    """The keys of ``previous`` with their recorded SHA-256 (none without one)."""
    if previous is None:
        return {}
    return {v["key"]: v["sha256"] for v in all_variants(previous) if v.get("sha256")}
