"""Plain HTTP calls to a served imgsvc (urllib, no client library): a multipart
body built by hand, and a call that returns status, headers and the parsed body."""

from __future__ import annotations

import contextlib
import http.client
import uuid
from typing import Any


def multipart(data: bytes, filename: str, **fields: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"'
            "\r\nContent-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def call(method: str, url: str, body: bytes | None = None, ctype: str | None = None) -> Any:
    """One request; like curl, reads the answer even when the server stopped reading
    the body early (a 413 is sent before an oversized body has been received)."""
    host, _, path = url.removeprefix("http://").partition("/")
    conn = http.client.HTTPConnection(host, timeout=60)
    try:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.request(method, "/" + path, body, {"Content-Type": ctype} if ctype else {})
        response = conn.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        conn.close()
