"""Storage outages: S3 stopped part-way through an upload, then started again."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from imgsvc import ImageService, Settings, create_app
from imgsvc.storage.s3 import S3Storage

from ..support.seaweed import SeaweedS3


class StopsServerAfterFirstPut(S3Storage):
    """The real backend; the server goes away right after one object has landed."""

    server: SeaweedS3
    armed = False
    _lock = threading.Lock()

    def put(self, key: str, data: bytes, content_type: str, cache_control: str | None = None):  # type: ignore[no-untyped-def]
        super().put(key, data, content_type, cache_control)
        with self._lock:
            if self.armed:
                self.armed = False
                self.server.stop()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[SeaweedS3]:
    server = SeaweedS3(tmp_path / "seaweedfs")
    server.start()
    yield server
    server.stop()


def jpeg(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (90, 60, 30)).save(buf, "JPEG")
    return buf.getvalue()


def wait_for(condition, timeout: float = 90) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.3)
    return False


def test_s3_stopped_part_way_leaves_no_partial_set(own_server: SeaweedS3) -> None:
    own_server.create_bucket("faults")
    settings = Settings.load(
        {}, storage="s3", s3_bucket="faults", s3_endpoint_url=own_server.endpoint
    )
    storage = StopsServerAfterFirstPut(S3Storage.from_settings(settings).client, "faults")
    storage.server = own_server
    service = ImageService(settings, storage)
    client = create_app(service=service).test_client()

    def upload() -> object:
        form = {"file": (io.BytesIO(jpeg(2400, 1600)), "a.jpg")}
        return client.post("/v1/images", data=form, content_type="multipart/form-data")

    kept = upload().get_json()  # a complete, earlier image that must survive
    before = own_server.keys("faults")
    assert len(before) == 6

    storage.armed = True
    response = upload()
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "storage_unavailable"
    assert int(response.headers["Retry-After"]) > 0
    ready = client.get("/readyz")
    assert ready.status_code == 503 and int(ready.headers["Retry-After"]) > 0
    assert service.janitor.pending, "the object that landed is queued for removal"

    own_server.start()
    assert wait_for(lambda: client.get("/readyz").status_code == 200)
    assert wait_for(lambda: not service.janitor.pending), "janitor removed the partial set"
    assert own_server.keys("faults") == before
    # A restarted SeaweedFS may answer InternalError for a while as its volumes load.
    assert wait_for(lambda: client.get(f"/v1/images/{kept['id']}").status_code == 200)
    assert client.get(f"/v1/images/{kept['id']}").get_json() == kept
    service.close()


def test_s3_stopped_part_way_through_a_patch_leaves_the_previous_set(
    own_server: SeaweedS3,
) -> None:
    """Issue 12: the server goes away after the first new crop object landed; the
    PATCH answers 503, and once S3 is back the image is the set before the PATCH,
    object for object, the crop that landed removed by the janitor."""
    own_server.create_bucket("refocus")
    settings = Settings.load(
        {},
        storage="s3",
        s3_bucket="refocus",
        s3_endpoint_url=own_server.endpoint,
        crops=[{"name": "square", "aspect": "1:1"}, {"name": "wide", "aspect": "2:1"}],
    )
    storage = StopsServerAfterFirstPut(S3Storage.from_settings(settings).client, "refocus")
    storage.server = own_server
    service = ImageService(settings, storage)
    client = create_app(service=service).test_client()
    form = {"file": (io.BytesIO(jpeg(2400, 1600)), "a.jpg"), "focus": "0.9,0.5"}
    kept = client.post("/v1/images", data=form, content_type="multipart/form-data").get_json()
    before = own_server.keys("refocus")

    storage.armed = True
    response = client.patch(f"/v1/images/{kept['id']}", json={"focus": "0.1,0.5"})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "storage_unavailable"

    own_server.start()
    assert wait_for(lambda: client.get("/readyz").status_code == 200)
    assert wait_for(lambda: not service.janitor.pending), "janitor removed the new crop"
    assert own_server.keys("refocus") == before
    assert wait_for(lambda: client.get(f"/v1/images/{kept['id']}").status_code == 200)
    assert client.get(f"/v1/images/{kept['id']}").get_json() == kept
    service.close()
