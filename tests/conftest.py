"""Shared fixtures: settings, storage, service, app, client, runner, and a real S3."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from imgsvc import ImageService, Settings, create_app
from imgsvc.storage import FileStorage, Storage
from imgsvc.storage.s3 import S3Storage

from .support.rclone import RcloneS3
from .support.redis_server import RedisServer
from .support.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedS3


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their settings explicitly; no IMGSVC_* of the caller leaks in."""
    for name in list(os.environ):
        if name.startswith("IMGSVC_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load({}, file_root=tmp_path / "media")


@pytest.fixture
def storage(settings: Settings) -> Storage:
    return FileStorage(settings.file_root)


@pytest.fixture
def service(settings: Settings, storage: Storage) -> Iterator[ImageService]:
    svc = ImageService(settings, storage)
    yield svc
    svc.close()


@pytest.fixture
def app(service: ImageService) -> Flask:
    return create_app(service=service)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """One SeaweedFS for the whole run; tests get their own bucket from ``s3_bucket``."""
    server = SeaweedS3(tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis of the suite's own (the bulk ledger and Celery's broker)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def rclone_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RcloneS3]:
    """An S3 server that ignores conditional writes (tests of the narrowed window)."""
    server = RcloneS3(tmp_path_factory.mktemp("rclone"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: SeaweedS3) -> str:
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(name)
    return name


@pytest.fixture
def s3_settings(s3_server: SeaweedS3, s3_bucket: str) -> Settings:
    return Settings.load(
        {},
        storage="s3",
        s3_bucket=s3_bucket,
        s3_endpoint_url=s3_server.endpoint,
        key_prefix="news-by",
    )


@pytest.fixture
def s3_storage(s3_settings: Settings) -> S3Storage:
    return S3Storage.from_settings(s3_settings)


@pytest.fixture
def s3_service(s3_settings: Settings, s3_storage: S3Storage) -> Iterator[ImageService]:
    svc = ImageService(s3_settings, s3_storage)
    yield svc
    svc.close()
