"""``conversion_cache_control``: the header every conversion is stored and served with."""

from __future__ import annotations

import dataclasses

import pytest

from imgsvc.errors import ConfigError
from imgsvc.service import ImageService
from imgsvc.settings import Settings
from imgsvc.storage import FileStorage
from imgsvc.storage.s3 import S3Storage
from imgsvc.web import create_app

from ..support import images
from ..support.seaweed import SeaweedS3

IMMUTABLE = "public, max-age=31536000, immutable"


def test_the_default_is_not_immutable() -> None:
    """Re-conversion rewrites bytes at the same keys, so a cache must be able to learn
    of it: a day's freshness, then a background revalidation for a week."""
    value = Settings.load({}).conversion_cache_control
    assert "immutable" not in value and "max-age=86400" in value


def test_s3_objects_carry_the_configured_header(
    s3_settings: Settings, s3_server: SeaweedS3, s3_bucket: str
) -> None:
    settings = dataclasses.replace(s3_settings, conversion_cache_control=IMMUTABLE)
    svc = ImageService(settings, S3Storage.from_settings(settings))
    try:
        description = svc.ingest(images.solid((800, 600)), "a.jpg")
    finally:
        svc.close()
    s3 = s3_server.client()
    for variant in description["variants"]:
        assert s3.head_object(Bucket=s3_bucket, Key=variant["key"])["CacheControl"] == IMMUTABLE
    manifest_key = description["original"]["key"].rsplit("/", 1)[0] + "/manifest.json"
    assert s3.head_object(Bucket=s3_bucket, Key=manifest_key)["CacheControl"] == "no-cache"


def test_file_storage_serves_conversions_with_it(settings: Settings) -> None:
    settings = dataclasses.replace(settings, conversion_cache_control="public, max-age=60")
    svc = ImageService(settings, FileStorage(settings.file_root))
    try:
        client = create_app(service=svc).test_client()
        description = svc.ingest(images.solid((800, 600)), "a.jpg")
        served = client.get(description["variants"][0]["url"])
        assert served.status_code == 200
        assert served.headers["Cache-Control"] == "public, max-age=60"
    finally:
        svc.close()


def test_a_header_value_with_a_line_break_is_refused() -> None:
    with pytest.raises(ConfigError, match="IMGSVC_CONVERSION_CACHE_CONTROL"):
        Settings.load({"IMGSVC_CONVERSION_CACHE_CONTROL": "public\r\nX-Evil: 1"})
