"""The local file backend: atomic writes, S3-like listing order, safe keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgsvc.errors import NotFound
from imgsvc.storage import FileStorage


def test_roundtrip_and_content_type(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path)
    storage.put("m/1/conversions/a-sm-___webp_480.webp", b"RIFF", "image/webp")
    got = storage.get("m/1/conversions/a-sm-___webp_480.webp")
    assert got.data == b"RIFF" and got.content_type == "image/webp"
    assert storage.exists("m/1/conversions/a-sm-___webp_480.webp")
    assert not list(tmp_path.rglob(".tmp-*")), "no temp file is left after a write"
    with pytest.raises(NotFound):
        storage.get("m/1/nothing")


def test_listing_matches_s3_order_and_prefix(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path)
    keys = [
        "m/a/conversions/x.webp",
        "m/a/manifest.json",
        "m/a/x.jpg",
        "m/a-b/manifest.json",
        "m/b/manifest.json",
        "other/z.json",
    ]
    for key in reversed(keys):
        storage.put(key, b"x", "application/octet-stream")
    assert list(storage.list("")) == sorted(keys)
    assert list(storage.list("m/a")) == sorted(keys)[:4]
    assert list(storage.list("m/a/")) == sorted(keys)[1:4]
    assert list(storage.list("nope/")) == []


def test_delete_prunes_empty_directories(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "root")
    storage.put("m/a/conversions/x.webp", b"x", "image/webp")
    storage.put("m/a/manifest.json", b"{}", "application/json")
    storage.delete(["m/a/conversions/x.webp", "m/a/manifest.json", "m/a/never-was"])
    assert list((tmp_path / "root").iterdir()) == []


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "./a", ".."])
def test_unsafe_keys_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError):
        FileStorage(tmp_path).put(key, b"x", "text/plain")
