"""The S3 backend against a real SeaweedFS."""

from __future__ import annotations

import pytest

from imgsvc.errors import NotFound, StorageUnavailable
from imgsvc.storage.s3 import S3Storage

from ..support.seaweed import SeaweedS3


def test_put_get_roundtrip_keeps_headers(
    s3_storage: S3Storage, s3_server: SeaweedS3, s3_bucket: str
) -> None:
    s3_storage.put("a/b.webp", b"RIFF-bytes", "image/webp", "public, max-age=31536000, immutable")
    assert s3_storage.get("a/b.webp").data == b"RIFF-bytes"
    head = s3_server.client().head_object(Bucket=s3_bucket, Key="a/b.webp")
    assert head["ContentType"] == "image/webp"
    assert head["CacheControl"] == "public, max-age=31536000, immutable"
    assert s3_storage.exists("a/b.webp")
    assert not s3_storage.exists("a/missing.webp")


def test_get_missing_is_not_found(s3_storage: S3Storage) -> None:
    with pytest.raises(NotFound):
        s3_storage.get("nothing/here")


def test_list_pages_through_everything(s3_storage: S3Storage) -> None:
    keys = [f"p/{i:04d}" for i in range(1105)]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3_storage.put(k, b"x", "text/plain"), keys))
    assert list(s3_storage.list("p/")) == keys  # > 1000: crosses a page boundary
    s3_storage.delete([*keys, "p/never-existed"])
    assert list(s3_storage.list("p/")) == []


def test_missing_bucket_is_unavailable(s3_server: SeaweedS3) -> None:
    storage = S3Storage(s3_server.client(), "no-such-bucket-here")
    with pytest.raises(StorageUnavailable):
        storage.ping()


def test_unreachable_endpoint_is_unavailable() -> None:
    import boto3

    from imgsvc.storage.s3 import client_config

    client = boto3.client(
        "s3", endpoint_url="http://127.0.0.1:9", region_name="us-east-1", config=client_config(1)
    )
    storage = S3Storage(client, "whatever")
    with pytest.raises(StorageUnavailable):
        storage.put("k", b"x", "text/plain")
    with pytest.raises(StorageUnavailable):
        storage.ping()
