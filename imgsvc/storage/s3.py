"""S3-compatible object storage with boto3 (AWS, SeaweedFS, MinIO, Ceph, becloud...).

One client per process, shared by the upload threads (boto3 clients are
thread-safe), built with an explicit botocore Config. botocore's errors are
translated here; nothing above this module knows about them.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..errors import Conflict, NotFound, StorageUnavailable
from .base import StoredObject
from .keys import layout_base

if TYPE_CHECKING:
    from ..settings import Settings

log = logging.getLogger(__name__)

_MISSING = {"404", "NoSuchKey", "NotFound"}
#: A conditional request whose condition did not hold (AWS answers 409
#: ConditionalRequestConflict when two conditional writes to a key overlap).
_CONFLICT = {"412", "PreconditionFailed", "ConditionalRequestConflict"}
#: The scratch object of the check of conditional writes, under the key prefix
#: (an IAM policy may allow writes there only), removed right after.
PROBE_NAME = ".imgsvc-conditional-write-probe-"
#: An ETag no object has.
_NO_SUCH_ETAG = '"00000000000000000000000000000000"'
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
    """``conditional``: ``on`` (the server honours If-Match / If-None-Match), ``off``
    (it does not: check just before writing), or ``auto`` (find out once, with a
    scratch object, the first time it matters)."""

    def __init__(
        self, client: Any, bucket: str, conditional: str = "auto", probe_prefix: str = ""
    ) -> None:
        self.client = client
        self.bucket = bucket
        self._probe_prefix = probe_prefix
        fixed = {"on": True, "off": False}.get(conditional)
        self._honoured: dict[str, bool] | None = (
            None if fixed is None else {"put": fixed, "delete": fixed}
        )
        self._probe_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        """Credentials come from the standard AWS chain (env, files, instance role)."""
        session = boto3.session.Session()
        client = session.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url or None,
            region_name=settings.s3_region,
            config=client_config(max(settings.storage_threads, settings.classify_threads)),
        )
        assert settings.s3_bucket is not None  # enforced by Settings validation
        probe_prefix = layout_base(settings.key_prefix)
        return cls(client, settings.s3_bucket, settings.s3_conditional_writes, probe_prefix)

    @contextmanager
    def _translate(self, action: str, key: str = "") -> Iterator[None]:
        try:
            yield
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _CONFLICT:
                raise Conflict(f"{key} changed since it was read") from exc
            if code in _MISSING:
                raise NotFound(f"no object {key}") from exc
            raise StorageUnavailable(f"storage refused to {action} {key}: {code}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"storage unreachable ({action} {key}): {exc}") from exc

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> None:
        self._put(key, data, content_type, cache_control)

    def _put(
        self, key: str, data: bytes, content_type: str, cache_control: str | None, **cond: str
    ) -> None:
        extra = {"CacheControl": cache_control} if cache_control else {}
        with self._translate("write", key):
            self.client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, **extra, **cond
            )

    def put_if(
        self, key: str, data: bytes, content_type: str, cache_control: str | None, etag: str | None
    ) -> None:
        if self._honours("put"):
            cond = {"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}
            try:
                self._put(key, data, content_type, cache_control, **cond)
            except NotFound as exc:  # AWS: the key was deleted since it was read
                raise Conflict(f"{key} is gone since it was read") from exc
            return
        self._expect(key, etag)  # the narrowed window: checked, then written
        self._put(key, data, content_type, cache_control)

    def delete_if(self, key: str, etag: str) -> None:
        if self._honours("delete"):
            try:
                with self._translate("delete", key):
                    self.client.delete_object(Bucket=self.bucket, Key=key, IfMatch=etag)
            except NotFound as exc:
                raise Conflict(f"{key} is gone already") from exc
            return
        self._expect(key, etag)
        self.delete([key])

    def _expect(self, key: str, etag: str | None) -> None:
        """``Conflict`` unless ``key`` is at version ``etag`` (None: absent)."""
        try:
            with self._translate("check", key):
                now = str(self.client.head_object(Bucket=self.bucket, Key=key)["ETag"])
        except NotFound:
            now = None
        if now != etag:
            raise Conflict(f"{key} changed since it was read")

    def get(self, key: str) -> StoredObject:
        with self._translate("read", key):
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            data = response["Body"].read()
        content_type = response.get("ContentType", "application/octet-stream")
        return StoredObject(data, content_type, response.get("ETag"))

    def conditional_writes(self) -> bool:
        """Raises ``StorageUnavailable`` when ``auto`` has not found out yet and the
        server cannot be reached; the next call asks again."""
        return self._honours("put") and self._honours("delete")

    def _honours(self, operation: str) -> bool:
        """Whether conditional ``put`` / ``delete`` requests are honoured, found out
        separately: a server may do conditional writes and not conditional deletes."""
        if self._honoured is None:
            with self._probe_lock:
                if self._honoured is None:
                    self._honoured = self._probe()
                    if not all(self._honoured.values()):
                        log.warning(
                            "S3 bucket %s ignores conditional requests (%s): concurrent "
                            "writers to one image are not serialised; the window is only "
                            "narrowed",
                            self.bucket,
                            ", ".join(op for op, ok in self._honoured.items() if not ok),
                        )
        return self._honoured[operation]

    def _probe(self) -> dict[str, bool]:
        """Write a scratch object, then try to overwrite it with If-None-Match: * and
        with a wrong If-Match, and to delete it with a wrong If-Match: a server that
        honours conditions refuses them. The scratch object (under the key prefix,
        where imgsvc may write; no media id, so no scan takes it for an image) is
        removed after."""
        key = f"{self._probe_prefix}{PROBE_NAME}{uuid.uuid4().hex}"
        self._put(key, b"probe", "text/plain", None)
        try:

            def delete_wrong() -> None:
                with self._translate("delete", key):
                    self.client.delete_object(Bucket=self.bucket, Key=key, IfMatch=_NO_SUCH_ETAG)

            put = _refused(
                lambda: self._put(key, b"2", "text/plain", None, IfNoneMatch="*")
            ) and _refused(lambda: self._put(key, b"3", "text/plain", None, IfMatch=_NO_SUCH_ETAG))
            return {"put": put, "delete": _refused(delete_wrong)}
        finally:
            self.delete([key])

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

    def list(self, prefix: str, start_after: str | None = None) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        after = {"StartAfter": start_after} if start_after else {}
        with self._translate("list", prefix):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, **after):
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


def _refused(attempt: Callable[[], object]) -> bool:
    """Whether the server refused a conditional request for its condition. A refusal
    for another reason (400 InvalidArgument, 501 NotImplemented...) means it does not
    do conditional requests; an unreachable server is ``StorageUnavailable``."""
    try:
        attempt()
    except Conflict:
        return True
    except StorageUnavailable as exc:
        if isinstance(exc.__cause__, ClientError):
            return False
        raise
    return False
