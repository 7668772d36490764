"""Which servers honour conditional writes: found out once, said by /readyz and at
start-up, never assumed (``rclone serve s3`` takes If-Match and overwrites anyway)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from imgsvc import ImageService, Settings, create_app
from imgsvc.errors import ConfigError, Conflict
from imgsvc.storage import FileStorage
from imgsvc.storage.s3 import S3Storage

from ..support.rclone import RcloneS3
from ..support.seaweed import SeaweedS3


def s3(server: SeaweedS3 | RcloneS3, bucket: str, mode: str = "auto") -> Settings:
    """A fresh bucket: the probe's scratch object must not be left in it."""
    server.create_bucket(bucket)
    return Settings.load(
        {},
        storage="s3",
        s3_bucket=bucket,
        s3_endpoint_url=server.endpoint,
        s3_conditional_writes=mode,
    )


def test_seaweedfs_honours_them_and_the_probe_leaves_nothing(s3_server: SeaweedS3) -> None:
    storage = S3Storage.from_settings(s3(s3_server, "probe-weed"))
    assert storage.conditional_writes() is True
    assert list(storage.list("")) == [], "the scratch object is removed"
    storage.put("k", b"1", "text/plain")
    etag = storage.get("k").etag
    with pytest.raises(Conflict):
        storage.put_if("k", b"2", "text/plain", None, None)  # must not exist: it does
    storage.put_if("k", b"3", "text/plain", None, etag)
    with pytest.raises(Conflict):
        storage.put_if("k", b"4", "text/plain", None, etag)  # that version is gone
    assert storage.get("k").data == b"3"


def test_rclone_is_found_out_and_readyz_says_so(
    rclone_server: RcloneS3,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = s3(rclone_server, "probe-rclone")
    with caplog.at_level(logging.INFO):
        app = create_app(settings)
    storage = app.extensions["imgsvc"].storage
    assert storage.conditional_writes() is False
    assert list(storage.list("")) == []
    body = app.test_client().get("/readyz").get_json()
    assert body["status"] == "ok"
    assert body["concurrent_writes"] == "not serialised"
    assert "ignores conditional writes" in body["concurrent_writes_detail"]
    warned = [r for r in caplog.records if "concurrent writers" in r.getMessage()]
    assert warned and warned[-1].levelno == logging.WARNING
    assert "not serialised" in warned[-1].getMessage()
    app.extensions["imgsvc"].close()


def test_without_them_a_stale_write_is_still_refused(rclone_server: RcloneS3) -> None:
    """The narrowed window: checked just before writing."""
    storage = S3Storage.from_settings(s3(rclone_server, "narrow-rclone"))
    storage.put("k", b"1", "text/plain")
    etag = storage.get("k").etag
    storage.put("k", b"2", "text/plain")
    with pytest.raises(Conflict):
        storage.put_if("k", b"3", "text/plain", None, etag)
    with pytest.raises(Conflict):
        storage.delete_if("k", '"0123"')
    assert storage.get("k").data == b"2"


def test_the_setting_overrides_the_probe(s3_server: SeaweedS3) -> None:
    storage = S3Storage(s3_server.client(), "never-created", conditional="off")
    assert storage.conditional_writes() is False
    service = ImageService(Settings.load({}, file_root=Path("unused")), storage)
    try:
        assert service.concurrent_writes()[0] == "not serialised"
    finally:
        service.close()


def test_file_storage_serialises_with_a_lock(tmp_path: Path) -> None:
    root = tmp_path / "media"
    app = create_app(Settings.load({}, file_root=root))
    body = app.test_client().get("/readyz").get_json()
    assert body["concurrent_writes"] == "serialised"
    assert "lock" in body["concurrent_writes_detail"]
    storage = FileStorage(root)
    storage.put_if("a/manifest.json", b"1", "application/json", None, None)
    with pytest.raises(Conflict):
        storage.put_if("a/manifest.json", b"2", "application/json", None, None)
    assert list(storage.list("")) == ["a/manifest.json"], "lock files are no objects"
    assert [p.name for p in (root / ".imgsvc-locks").iterdir()], "the lock file is there"
    client = app.test_client()
    for path in ("/media/.imgsvc-locks/00.lock", "/media/a/.tmp-x.json"):
        assert client.get(path).status_code == 404, "never served as media"
    app.extensions["imgsvc"].close()


def test_an_unreachable_server_is_unknown_not_assumed(tmp_path: Path) -> None:
    settings = Settings.load({}, storage="s3", s3_bucket="b", s3_endpoint_url="http://127.0.0.1:9")
    service = ImageService(settings, S3Storage.from_settings(settings))
    try:
        assert service.concurrent_writes()[0] == "unknown"
    finally:
        service.close()


def test_a_bad_mode_stops_start_up() -> None:
    with pytest.raises(ConfigError, match="IMGSVC_S3_CONDITIONAL_WRITES"):
        Settings.load({"IMGSVC_S3_CONDITIONAL_WRITES": "maybe"})
