"""A deadline for request bodies: WSGI middleware.

``BodyDeadline`` gives a client ``upload_timeout`` seconds to send its whole body.
Without it a client sending a byte a minute holds a gunicorn thread for ever:
gthread's ``timeout`` only replaces a worker whose main loop stops, and a thread
blocked in ``recv`` does not stop it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..errors import RequestTimeout

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BodyDeadline:
    """WSGI middleware: a request body must arrive within ``seconds`` of the request.

    Only under gunicorn, which puts the client socket in ``gunicorn.socket``. A timer
    shuts the socket for reading when the time is up, which ends a read blocked on a
    client that trickles a byte at a time (a per-``recv`` timeout would not: each
    ``recv`` gets its byte in time). The read then raises ``RequestTimeout`` (408),
    and gunicorn, seeing the body cut short, closes the connection after the answer.
    """

    def __init__(self, app: WSGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        sock = environ.get("gunicorn.socket")
        stream = environ.get("wsgi.input")
        if not isinstance(sock, socket.socket) or stream is None or not _has_body(environ):
            return self.app(environ, start_response)
        guarded = _GuardedInput(stream, sock, self.seconds, _content_length(environ))
        environ["wsgi.input"] = guarded
        try:
            return self.app(environ, start_response)
        finally:
            guarded.finish()


def _content_length(environ: dict[str, Any]) -> int | None:
    try:
        return int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def _has_body(environ: dict[str, Any]) -> bool:
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    return chunked or (_content_length(environ) or 0) > 0


class _GuardedInput:
    """``wsgi.input`` behind a watchdog; the watchdog stops once the body is in."""

    def __init__(
        self, stream: Any, sock: socket.socket, seconds: float, length: int | None
    ) -> None:
        self._stream = stream
        self._sock = sock
        self._seconds = seconds
        self._left = length
        self._lock = threading.Lock()
        self._finished = False
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.expired = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RD)

    def finish(self) -> None:
        with self._lock:
            self._finished = True
        self._timer.cancel()

    def _timeout(self) -> RequestTimeout:
        return RequestTimeout(f"the request body did not arrive within {self._seconds:g} seconds")

    def _call(self, method: str, *args: Any) -> Any:
        if self.expired:
            raise self._timeout()
        try:
            data = getattr(self._stream, method)(*args)
        except Exception as exc:
            if self.expired:
                raise self._timeout() from exc
            raise
        if self.expired:
            raise self._timeout()
        size = sum(map(len, data)) if isinstance(data, list) else len(data)
        if self._left is not None:
            self._left -= size
        if not size or (self._left is not None and self._left <= 0):
            self.finish()
        return data

    def read(self, size: int | None = -1) -> bytes:
        return self._call("read", size)  # type: ignore[no-any-return]

    def readline(self, size: int | None = -1) -> bytes:
        return self._call("readline", size)  # type: ignore[no-any-return]

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        return self._call("readlines", hint)  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line
