"""CMS uploads end to end: real gunicorn, real SeaweedFS, objects read back with boto3."""

from __future__ import annotations

import io
import json
import socket
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ..support.http import call, multipart
from ..support.seaweed import SeaweedS3
from ..support.servers import imgsvc_serve

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def quadrant_jpeg(width: int, height: int, orientation: int) -> bytes:
    """Raw quadrants red/green (top) and blue/white (bottom), with EXIF orientation."""
    im = Image.new("RGB", (width, height))
    half_w, half_h = width // 2, height // 2
    for colour, box in [
        (RED, (0, 0, half_w, half_h)),
        (GREEN, (half_w, 0, width, half_h)),
        (BLUE, (0, half_h, half_w, height)),
        (WHITE, (half_w, half_h, width, height)),
    ]:
        im.paste(colour, box)
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x8825] = {1: "N"}  # a GPS block that must not reach any output
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=92, exif=exif)
    return buf.getvalue()


@pytest.fixture
def served(s3_server: SeaweedS3, s3_bucket: str, tmp_path: Path) -> Iterator[str]:
    env = {
        "IMGSVC_STORAGE": "s3",
        "IMGSVC_S3_BUCKET": s3_bucket,
        "IMGSVC_S3_ENDPOINT_URL": s3_server.endpoint,
        "IMGSVC_KEY_PREFIX": "news-by",
        "IMGSVC_MAX_UPLOAD_BYTES": str(8 * 1024 * 1024),
    }
    with imgsvc_serve(env, tmp_path) as base:
        yield base


def test_upload_rotated_photo_end_to_end(served: str, s3_server: SeaweedS3, s3_bucket: str) -> None:
    body, ctype = multipart(quadrant_jpeg(3000, 2000, 6), "Front page.jpg")
    status, headers, raw = call("POST", f"{served}/v1/images", body, ctype)
    assert status == 201, raw
    description = json.loads(raw)
    media_id = description["id"]
    assert headers["Location"] == f"/v1/images/{media_id}"
    assert (description["width"], description["height"]) == (2000, 3000)
    sizes = [(v["size"], v["width"], v["height"]) for v in description["variants"]]
    assert sizes == [("sm", 480, 720), ("md", 768, 1152), ("lg", 1280, 1920), ("xl", 1920, 2880)]

    s3 = s3_server.client()
    for variant in description["variants"]:
        key = variant["key"]
        size, width = variant["size"], variant["width"]
        assert key == f"news-by/{media_id}/conversions/Front-page-{size}-___webp_{width}.webp"
        obj = s3.get_object(Bucket=s3_bucket, Key=key)
        data = obj["Body"].read()
        assert obj["ContentType"] == "image/webp"
        assert obj["CacheControl"] == "public, max-age=86400, stale-while-revalidate=604800"
        assert variant["url"] == f"{s3_server.endpoint}/{s3_bucket}/{key}"
        with urllib.request.urlopen(variant["url"]) as public:  # anonymous, as a browser
            assert public.read() == data
        with Image.open(io.BytesIO(data)) as im:
            assert im.format == "WEBP" and im.size == (variant["width"], variant["height"])
            assert "exif" not in im.info and "xmp" not in im.info
            # orientation 6: the raw top-left (red) ends top-right, raw bottom-left (blue) top-left
            rgb = im.convert("RGB")
            w, h = rgb.size
            assert _near(rgb.getpixel((w - 5, 5)), RED)
            assert _near(rgb.getpixel((5, 5)), BLUE)
            assert _near(rgb.getpixel((w - 5, h - 5)), GREEN)
            assert _near(rgb.getpixel((5, h - 5)), WHITE)
    original = s3.get_object(Bucket=s3_bucket, Key=f"news-by/{media_id}/Front-page.jpg")
    assert original["ContentType"] == "image/jpeg"
    assert s3_server.keys(s3_bucket, f"news-by/{media_id}/")[-1].endswith("manifest.json")

    status, _, raw = call("GET", f"{served}/v1/images/{media_id}")
    assert status == 200 and json.loads(raw) == description
    status, headers, raw = call("GET", f"{served}/v1/images/{media_id}/srcset")
    assert status == 200 and raw.decode() == description["srcset"]
    status, _, _ = call("DELETE", f"{served}/v1/images/{media_id}")
    assert status == 204
    assert s3_server.keys(s3_bucket, f"news-by/{media_id}/") == []
    assert call("GET", f"{served}/v1/images/{media_id}")[0] == 404


def _near(got: Any, want: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(g - w) <= tolerance for g, w in zip(got, want, strict=True))


def test_refused_uploads_leave_the_bucket_as_it_was(
    served: str, s3_server: SeaweedS3, s3_bucket: str
) -> None:
    good = quadrant_jpeg(800, 600, 1)
    body, ctype = multipart(good, "keep.jpg")
    assert call("POST", f"{served}/v1/images", body, ctype)[0] == 201
    before = s3_server.keys(s3_bucket)
    cases = [
        (b"", 400),
        (b"garbage" * 100, 400),
        (good[: len(good) // 2], 400),
        (b"II*\x00" + bytes(100), 415),
        (bytes(9 * 1024 * 1024), 413),
    ]
    for data, expected in cases:
        body, ctype = multipart(data, "x.jpg", media_id=str(uuid.uuid4()))
        status, _, raw = call("POST", f"{served}/v1/images", body, ctype)
        assert status == expected, raw
        assert json.loads(raw)["error"]["message"]
    assert s3_server.keys(s3_bucket) == before


def test_oversized_body_is_refused_before_it_is_read(served: str) -> None:
    """Only the headers are sent: a 413 must come back without waiting for 20 GB."""
    host, port = served.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/images HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 20000000000\r\n\r\n"
        )
        chunks = []
        while chunk := sock.recv(65536):  # the server answers, then closes: no body is read
            chunks.append(chunk)
    reply = b"".join(chunks).decode(errors="replace")
    assert reply.startswith("HTTP/1.1 413")
    assert '"too_large"' in reply
