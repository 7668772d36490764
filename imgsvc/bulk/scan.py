"""Find the images in storage and say what each one needs.

The listing is consumed as it streams, one page at a time: the layout is
``{key_prefix}/{media_id}/...``, so the keys of one image are contiguous in listing
order and an image is complete as soon as a key of the next one arrives. Memory
stays flat however large the bucket.

Classification reads the manifest (one small GET per image). It runs in a few
threads in the process that lists, so that the process pool (or the Celery
workers) only ever receive images that need converting.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum

from ..describe import manifest_keys
from ..errors import ImgsvcError, NotFound
from ..service import ImageService
from ..storage import Storage
from ..storage.keys import image_prefix, layout_base, manifest_key, media_id_of

#: How many examples of each class a plan keeps for the operator.
EXAMPLES = 5


class State(StrEnum):
    CURRENT = "current"
    OUTDATED = "outdated"
    MISSING = "missing"
    ORPHANED = "orphaned"
    #: The manifest could not be read (storage error): counted as a failure.
    UNREADABLE = "unreadable"


class Action(StrEnum):
    RECONVERT = "reconvert"
    #: Convert an original that has no manifest (ImageService has no method for it yet).
    ADOPT = "adopt"


@dataclass(frozen=True, slots=True)
class StoredImage:
    """The keys of one image, as one listing saw them."""

    media_id: str
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    """What one image is and what it would take to bring it up to date."""

    media_id: str
    state: State
    detail: str = ""
    action: Action | None = None
    original_key: str | None = None
    #: Objects of the image that its manifest does not list (left by an interrupted write).
    stray: int = 0
    #: Keys of conversions the manifest lists that are not stored.
    missing: tuple[str, ...] = ()

    def wanted(self, only_outdated: bool) -> bool:
        """Whether this run converts the image: outdated always, the rest by default."""
        if self.action is None:
            return False
        return self.state is State.OUTDATED or not only_outdated


class Listing:
    """The images under ``prefix``, grouped by media id while the listing streams.

    Keys outside the layout (another prefix, a segment that is not a canonical
    UUID, a key directly under the prefix) are counted in ``ignored``, not yielded.
    Iterating lists again: each pass is a fresh listing, from ``start_after`` (a
    key, S3's StartAfter) when given.
    """

    def __init__(
        self,
        storage: Storage,
        key_prefix: str,
        prefix: str | None = None,
        start_after: str | None = None,
    ) -> None:
        self.storage = storage
        self.base = layout_base(key_prefix)
        self.prefix = self.base if prefix is None else prefix
        self.start_after = start_after
        self.ignored = 0

    def __iter__(self) -> Iterator[StoredImage]:
        keys = self.storage.list(self.prefix, start_after=self.start_after)
        return group_keys(keys, self.base, self._ignore)

    def _ignore(self) -> None:
        self.ignored += 1


def group_keys(
    keys: Iterable[str], base: str, on_ignored: Callable[[], None] | None = None
) -> Iterator[StoredImage]:
    """Group consecutive keys by the media id that follows ``base``.

    ``on_ignored`` is called once per key outside the layout.
    """
    current: str | None = None
    group: list[str] = []
    for key in keys:
        media_id = media_id_of(key, base)
        if media_id is None:
            if on_ignored is not None:
                on_ignored()
            continue
        if media_id != current:
            if current is not None:
                yield StoredImage(current, tuple(group))
            current, group = media_id, []
        group.append(key)
    if current is not None:
        yield StoredImage(current, tuple(group))


def classify(service: ImageService, image: StoredImage) -> Finding:
    """Like ``inspect_image``, but any error becomes an UNREADABLE finding: one image
    whose manifest cannot be read is reported, and the run goes on."""
    try:
        return inspect_image(service, image)
    except ImgsvcError as exc:
        return Finding(image.media_id, State.UNREADABLE, f"{exc.code}: {exc.message}")
    except Exception as exc:  # a manifest of an unexpected shape, say
        return Finding(image.media_id, State.UNREADABLE, f"{type(exc).__name__}: {exc}")


def inspect_image(service: ImageService, image: StoredImage, *, recheck: bool = True) -> Finding:
    """Classify one image from its listed keys and its manifest.

    A listing is a snapshot: a key it lacks is checked again before the image is
    called incomplete, and an original without a manifest is checked again in case
    an upload finished since. Raises ``StorageUnavailable`` when storage fails.
    """
    settings, storage = service.settings, service.storage
    media_id = image.media_id
    base = image_prefix(settings.key_prefix, media_id)
    mkey = manifest_key(settings.key_prefix, media_id)
    listed = set(image.keys)
    manifest = None
    if mkey in listed:
        try:
            manifest = service.manifest(media_id)
        except NotFound:
            manifest = None  # deleted since the listing, or not valid JSON
    elif recheck and storage.exists(mkey):
        fresh = tuple(storage.list(base))
        return inspect_image(service, StoredImage(media_id, fresh), recheck=False)
    if manifest is None:
        originals = sorted(k for k in listed if k != mkey and "/" not in k[len(base) :])
        return _without_manifest(media_id, originals)
    expected = manifest_keys(manifest)
    missing = {k for k in expected - listed if not storage.exists(k)}
    stray = len(listed - expected - {mkey})
    if manifest["original"]["key"] in missing:
        return Finding(media_id, State.ORPHANED, "the manifest's original is missing", stray=stray)
    gone = tuple(sorted(missing))
    if not service.is_current(manifest):
        detail = f"converted with fingerprint {manifest.get('fingerprint')}"
        if manifest.get("fingerprint") == service.fingerprint:  # a revision outdated it
            made = manifest.get("pipeline_revision", 0)
            detail = f"converted before a fix of its kind of image (at revision {made})"
        return Finding(
            media_id, State.OUTDATED, detail, Action.RECONVERT, stray=stray, missing=gone
        )
    if missing:
        detail = f"{len(missing)} of {len(expected) - 1} conversions missing"
        return Finding(media_id, State.MISSING, detail, Action.RECONVERT, stray=stray, missing=gone)
    return Finding(media_id, State.CURRENT, stray=stray)


def _without_manifest(media_id: str, originals: list[str]) -> Finding:
    if len(originals) == 1:
        return Finding(
            media_id, State.ORPHANED, "original without a manifest", Action.ADOPT, originals[0]
        )
    if originals:
        return Finding(media_id, State.ORPHANED, f"{len(originals)} originals, no manifest")
    return Finding(media_id, State.ORPHANED, "conversions without an original")


def classify_stream(
    service: ImageService, images: Iterable[StoredImage], threads: int = 8
) -> Generator[Finding, None, None]:
    """Classify images in ``threads`` threads, in listing order, a bounded window ahead.

    ``Executor.map`` would drain the whole listing up front; the window keeps
    memory flat and lets the consumer's back-pressure reach the listing.
    """
    window = threads * 4
    with ThreadPoolExecutor(threads, thread_name_prefix="imgsvc-classify") as pool:
        pending: deque[Future[Finding]] = deque()
        try:
            for image in images:
                pending.append(pool.submit(classify, service, image))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


@dataclass
class Plan:
    """The tally of a listing: how many images of each class, with a few examples."""

    images: int = 0
    states: Counter[State] = field(default_factory=Counter)
    examples: dict[State, list[Finding]] = field(default_factory=dict)
    to_do: int = 0
    stray: int = 0

    def add(self, finding: Finding, wanted: bool) -> None:
        self.images += 1
        self.states[finding.state] += 1
        self.stray += finding.stray
        self.to_do += wanted
        shown = self.examples.setdefault(finding.state, [])
        if len(shown) < EXAMPLES:
            shown.append(finding)
