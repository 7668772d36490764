"""PATCH (the editor's focus) against the other writers of one image, on the three
servers of ``test_sets_cas.py``: a re-conversion never undoes the editor's focus, and
a refocus never undoes another photo; a refocus that fails part-way leaves the
previous set whole."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from imgsvc import ImageService, Settings
from imgsvc.errors import Conflict, StorageUnavailable
from imgsvc.pipeline import Focus
from imgsvc.storage import Storage

from .test_sets_cas import (  # fixtures among them, used by name
    GREEN,
    MEDIA_ID,
    RED,
    Race,
    backend,
    buckets,
    photo,
)

__all__ = ["backend", "buckets"]  # fixtures in use

CROPS = [{"name": "square", "aspect": "1:1"}]
LEFT = Focus(0.05, 0.5)
RIGHT = Focus(0.95, 0.5)


@pytest.fixture
def cropped(
    backend: tuple[Callable[..., Settings], Storage],
) -> tuple[Callable[..., Settings], Storage]:
    make, storage = backend
    return (lambda **kw: make(crops=CROPS, **kw)), storage


@pytest.fixture
def race(cropped: tuple[Callable[..., Settings], Storage]) -> Iterator[Callable[..., Race]]:
    made: list[Race] = []

    def make(**kw: Any) -> Race:
        made.append(Race(cropped, **kw))
        return made[-1]

    yield make
    for r in made:
        r.close()


def square_box(manifest: dict[str, Any]) -> list[int]:
    return list(manifest["crops"]["square"]["box"])


def test_a_reconversion_never_undoes_the_editors_focus(race: Callable[..., Race]) -> None:
    """The re-conversion read the set before the PATCH; the PATCH landed; the
    re-conversion starts over from the PATCHed set and keeps its focus."""
    r = race(webp_quality=70)
    source = photo(RED)
    r.winner.ingest(source, "photo.jpg", MEDIA_ID)
    paused = r.start(lambda: r.loser.reconvert(MEDIA_ID))
    patched = r.winner.refocus(MEDIA_ID, LEFT)
    result = r.finish(paused)
    manifest = r.assert_whole(RED, source)
    assert manifest["focus"]["source"] == "editor" and manifest["focus"]["x"] == LEFT.x
    assert square_box(manifest) == patched["crops"]["square"]["box"] == [0, 0, 600, 600]
    assert result["focus"] == manifest["focus"]
    assert manifest["fingerprint"] == r.loser.fingerprint, "re-converted, on top of the PATCH"


def test_a_refocus_that_races_a_reconversion_is_applied_on_top(
    race: Callable[..., Race], cropped: tuple[Callable[..., Settings], Storage]
) -> None:
    r = race()
    source = photo(RED)
    r.winner.ingest(source, "photo.jpg", MEDIA_ID)
    paused = r.start(lambda: r.loser.refocus(MEDIA_ID, RIGHT))
    make, storage = cropped
    bulk = ImageService(make(webp_quality=70), storage)
    try:
        bulk.reconvert(MEDIA_ID)
    finally:
        bulk.close()
    described = r.finish(paused)
    manifest = r.assert_whole(RED, source)
    assert described["focus"]["x"] == RIGHT.x == manifest["focus"]["x"]
    assert square_box(manifest) == [300, 0, 900, 600]


def test_a_refocus_never_undoes_another_photo(race: Callable[..., Race]) -> None:
    r = race()
    r.winner.ingest(photo(RED), "photo.jpg", MEDIA_ID)
    paused = r.start(lambda: r.loser.refocus(MEDIA_ID, LEFT))
    new = photo(GREEN)
    r.winner.ingest(new, "other.jpg", MEDIA_ID)
    with pytest.raises(Conflict):
        r.finish(paused)
    manifest = r.assert_whole(GREEN, new)
    assert manifest["focus"]["source"] != "editor"


def test_a_refocus_that_fails_at_its_manifest_leaves_the_previous_set_whole(
    race: Callable[..., Race],
) -> None:
    r = race(fail=True)
    source = photo(RED)
    before = r.winner.ingest(source, "photo.jpg", MEDIA_ID, focus=RIGHT)
    paused = r.start(lambda: r.loser.refocus(MEDIA_ID, LEFT))
    with pytest.raises(StorageUnavailable):
        r.finish(paused)
    manifest = r.assert_whole(RED, source)  # nothing of the new crop is left either
    assert square_box(manifest) == before["crops"]["square"]["box"] == [300, 0, 900, 600]


def test_an_upload_retry_that_races_a_patch_keeps_the_editors_focus(
    race: Callable[..., Race],
) -> None:
    """The client's retry of the same bytes read the set before the PATCH; the PATCH
    landed; the retry is written on top, keeping the focus the editor just set."""
    r = race()
    source = photo(RED)
    r.winner.ingest(source, "photo.jpg", MEDIA_ID)
    paused = r.start(lambda: r.loser.ingest(source, "photo.jpg", MEDIA_ID))
    r.winner.refocus(MEDIA_ID, LEFT)
    r.finish(paused)
    manifest = r.assert_whole(RED, source)
    assert manifest["focus"]["source"] == "editor" and manifest["focus"]["x"] == LEFT.x
    assert square_box(manifest) == [0, 0, 600, 600]


def test_an_upload_with_its_own_focus_that_races_a_patch_is_a_conflict(
    race: Callable[..., Race],
) -> None:
    r = race()
    source = photo(RED)
    r.winner.ingest(source, "photo.jpg", MEDIA_ID)
    paused = r.start(lambda: r.loser.ingest(source, "photo.jpg", MEDIA_ID, focus=RIGHT))
    r.winner.refocus(MEDIA_ID, LEFT)
    with pytest.raises(Conflict):
        r.finish(paused)
    manifest = r.assert_whole(RED, source)
    assert manifest["focus"]["x"] == LEFT.x  # the newer state stays


def test_a_retry_of_the_same_bytes_keeps_the_editors_focus(race: Callable[..., Race]) -> None:
    r = race()
    source = photo(RED)
    r.winner.ingest(source, "photo.jpg", MEDIA_ID, focus=LEFT)
    again = r.winner.ingest(source, "photo.jpg", MEDIA_ID)
    assert again["focus"]["x"] == LEFT.x and again["crops"]["square"]["box"] == [0, 0, 600, 600]
