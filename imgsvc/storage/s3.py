"""S3-compatible object storage with boto3 (AWS, SeaweedFS, MinIO, Ceph, becloud...).

One client per process, shared by the upload threads (boto3 clients are
thread-safe), built with an explicit botocore Config. botocore's errors are
translated here; nothing above this module knows about them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..errors import NotFound, StorageUnavailable
from .base import StoredObject

if TYPE_CHECKING:
    from ..settings import Settings

_MISSING = {"404", "NoSuchKey", "NotFound"}
DELETE_BATCH = 1000  # the S3 DeleteObjects maximum
#: Connections beyond the upload pool: request threads read, list and delete beside
#: it, and the janitor removes; without them urllib3 warns "connection pool is full".
SPARE_CONNECTIONS = 8


def client_config(pool_size: int) -> Config:
    return Config(
        # total_max_attempts counts the first try; botocore's max_attempts does not.
        retries={"mode": "standard", "total_max_attempts": 4},
        connect_timeout=3,
        read_timeout=30,
        max_pool_connections=pool_size + SPARE_CONNECTIONS,
        # boto3 >= 1.36 sends CRC checksums by default; many S3-compatible servers
        # reject or mis-handle them, so only send them where the API requires.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


class S3Storage:
    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        """Credentials come from the standard AWS chain (env, files, instance role)."""
        session = boto3.session.Session()
        client = session.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url or None,
            region_name=settings.s3_region,
            config=client_config(settings.storage_threads),
        )
        assert settings.s3_bucket is not None  # enforced by Settings validation
        return cls(client, settings.s3_bucket)

    @contextmanager
    def _translate(self, action: str, key: str = "") -> Iterator[None]:
        try:
            yield
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                raise NotFound(f"no object {key}") from exc
            raise StorageUnavailable(f"storage refused to {action} {key}: {code}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"storage unreachable ({action} {key}): {exc}") from exc

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> None:
        extra = {"CacheControl": cache_control} if cache_control else {}
        with self._translate("write", key):
            self.client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, **extra
            )

    def get(self, key: str) -> StoredObject:
        with self._translate("read", key):
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            data = response["Body"].read()
        return StoredObject(data, response.get("ContentType", "application/octet-stream"))

    def exists(self, key: str) -> bool:
        try:
            with self._translate("check", key):
                self.client.head_object(Bucket=self.bucket, Key=key)
        except NotFound:
            return False
        return True

    def delete(self, keys: Iterable[str]) -> None:
        it = iter(keys)
        while batch := list(islice(it, DELETE_BATCH)):
            with self._translate("delete", batch[0]):
                response = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
                )
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise StorageUnavailable(
                    f"storage refused to delete {len(errors)} objects, "
                    f"e.g. {first.get('Key')}: {first.get('Code')}"
                )

    def list(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        with self._translate("list", prefix):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield item["Key"]

    def ping(self) -> None:
        try:
            with self._translate("reach bucket", self.bucket):
                self.client.head_bucket(Bucket=self.bucket)
        except NotFound as exc:
            raise StorageUnavailable(f"bucket {self.bucket} does not exist") from exc

    def local_root(self) -> None:
        return None
