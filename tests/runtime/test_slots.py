"""Back-pressure: a bounded number of conversions per process, a bounded wait for one,
and a bounded time for a client to send its body."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image

import imgsvc.service
from imgsvc import ImageService, Settings, create_app
from imgsvc.errors import Saturated
from imgsvc.pipeline import PipelineConfig
from imgsvc.runtime.slots import ConversionSlots
from imgsvc.storage import FileStorage
from imgsvc.storage.file import LOCKS

from ..support.servers import imgsvc_serve


def jpeg(width: int = 800, height: int = 600) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 100, 50)).save(buf, "JPEG")
    return buf.getvalue()


def post(client: FlaskClient, data: bytes) -> Any:
    form = {"file": (io.BytesIO(data), "a.jpg")}
    return client.post("/v1/images", data=form, content_type="multipart/form-data")


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[tuple[FlaskClient, ImageService]]:
    settings = Settings.load(
        {}, file_root=tmp_path / "media", max_concurrent_conversions=2, queue_timeout=0.3
    )
    service = ImageService(settings, FileStorage(settings.file_root))
    yield create_app(service=service).test_client(), service
    service.close()


def test_settings_from_the_environment() -> None:
    env = {"IMGSVC_MAX_CONCURRENT_CONVERSIONS": "3", "IMGSVC_QUEUE_TIMEOUT": "2.5"}
    settings = Settings.load(env)
    assert (settings.max_concurrent_conversions, settings.queue_timeout) == (3, 2.5)
    assert Settings.load({}).max_concurrent_conversions == 2
    assert Settings.load({}).queue_timeout == 10


def test_slots_wait_then_refuse() -> None:
    """Lower bounds only: they prove the wait happened; a slow machine cannot fail them."""
    slots = ConversionSlots(1, timeout=0.2)
    assert slots.acquire() >= 0  # a free slot is taken at once
    started = time.monotonic()
    with pytest.raises(Saturated):
        slots.acquire()
    assert time.monotonic() - started >= 0.2  # it waited the whole timeout first
    threading.Timer(0.1, slots.release).start()
    assert slots.acquire() >= 0.05  # waited for the release, then got the slot
    slots.release()


def test_saturated_answers_503_with_retry_after_and_stores_nothing(
    limited: tuple[FlaskClient, ImageService], tmp_path: Path
) -> None:
    client, service = limited
    service.slots.acquire()
    service.slots.acquire()  # both slots busy, as if two big conversions were running
    try:
        started = time.monotonic()
        response = post(client, jpeg())
        waited = time.monotonic() - started
    finally:
        service.slots.release()
        service.slots.release()
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "saturated"
    assert int(response.headers["Retry-After"]) > 0
    assert waited >= 0.3
    media = tmp_path / "media"
    assert not media.exists() or not any(p for p in media.rglob("*.*") if LOCKS not in p.parts)
    assert post(client, jpeg()).status_code == 201  # the slots are free again


def test_never_more_conversions_than_slots(
    limited: tuple[FlaskClient, ImageService], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six uploads at once on two slots: two convert at a time, the rest wait their turn."""
    client, service = limited
    service.slots.timeout = 30
    running, peak, lock = 0, 0, threading.Lock()
    real_convert = imgsvc.service.convert

    def slow_convert(data: bytes, config: PipelineConfig, *stage: Any) -> Any:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.15)
        try:
            return real_convert(data, config, *stage)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(imgsvc.service, "convert", slow_convert)
    statuses: list[int] = []
    app = client.application

    def one() -> None:
        statuses.append(post(app.test_client(), jpeg(400, 300)).status_code)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [201] * 6
    assert peak == 2


def test_a_slow_body_gets_408_and_the_worker_goes_on(tmp_path: Path) -> None:
    """A client trickling its body cannot hold a gunicorn thread past upload_timeout."""
    env = {"IMGSVC_FILE_ROOT": str(tmp_path / "media"), "IMGSVC_UPLOAD_TIMEOUT": "1.5"}
    with imgsvc_serve(env, tmp_path) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                b"POST /v1/images HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: multipart/form-data; boundary=b\r\n"
                b"Content-Length: 100000\r\n\r\n--b\r\n"
            )
            started, reply = time.monotonic(), b""
            sock.settimeout(0.3)
            while time.monotonic() - started < 10:
                try:
                    sock.sendall(b"x" * 10)  # 33 bytes a second: it would take an hour
                    chunk = sock.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not chunk:
                    break  # the server closed the connection after answering
                reply += chunk
            waited = time.monotonic() - started
        # The 408 arrived before the client's own 10 s gave up; the lower bound shows the
        # deadline was honoured, not cut short. No upper bound: speed is not asserted.
        assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
        assert b'"request_timeout"' in reply
        assert waited >= 1.4
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 200")
