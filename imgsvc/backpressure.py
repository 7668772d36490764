"""Bound the work one process accepts: conversion slots and a deadline for request bodies.

A conversion holds a decoded image (up to ``max_pixels`` x 4 bytes) and keeps a core
busy; letting every request thread convert at once would trade latency for an OOM
kill. ``ConversionSlots`` lets ``max_concurrent_conversions`` run, makes the rest wait
up to ``queue_timeout`` seconds, then refuses with ``Saturated`` (503 + Retry-After).
The queue is bounded by the server's threads: a waiting request already holds one.

``BodyDeadline`` is WSGI middleware that gives a client ``upload_timeout`` seconds to
send its whole body. Without it a client sending a byte a minute holds a gunicorn
thread for ever: gthread's ``timeout`` only replaces a worker whose main loop stops,
and a thread blocked in ``recv`` does not stop it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .errors import RequestTimeout, Saturated


class ConversionSlots:
    """A counting semaphore whose wait is bounded: ``acquire`` then ``release``."""

    def __init__(self, limit: int, timeout: float) -> None:
        self.limit = limit
        self.timeout = timeout
        self._sem = threading.BoundedSemaphore(limit)

    def acquire(self) -> float:
        """Take a slot; return the seconds spent waiting for it.

        Raises ``Saturated`` when no slot frees up within ``timeout`` seconds.
        """
        started = time.monotonic()
        if not self._sem.acquire(timeout=self.timeout):
            raise Saturated(
                f"{self.limit} conversions are already running and none finished within "
                f"{self.timeout:g} s; retry later"
            )
        return time.monotonic() - started

    def release(self) -> None:
        self._sem.release()


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BodyDeadline:
    """WSGI middleware: the request body must arrive within ``seconds`` of the first read.

    Only under gunicorn (which puts the client socket in ``gunicorn.socket``): each
    read of ``wsgi.input`` sets the socket timeout to the time left, and running out
    raises ``RequestTimeout`` (408). The socket is then shut for reading, so gunicorn
    sees the end of the stream instead of draining the rest of a slow body.
    """

    def __init__(self, app: WSGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        sock = environ.get("gunicorn.socket")
        if not isinstance(sock, socket.socket) or environ.get("wsgi.input") is None:
            return self.app(environ, start_response)
        environ["wsgi.input"] = _DeadlineInput(environ["wsgi.input"], sock, self.seconds)
        try:
            return self.app(environ, start_response)
        finally:
            # The answer is written after this returns: no deadline on sending it.
            with contextlib.suppress(OSError):
                sock.settimeout(None)


class _DeadlineInput:
    def __init__(self, stream: Any, sock: socket.socket, seconds: float) -> None:
        self._stream = stream
        self._sock = sock
        self._seconds = seconds
        self._deadline: float | None = None

    def _call(self, method: str, *args: Any) -> Any:
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + self._seconds
        left = self._deadline - now
        try:
            if left <= 0:
                raise TimeoutError
            self._sock.settimeout(left)
            return getattr(self._stream, method)(*args)
        except TimeoutError as exc:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RD)
            raise RequestTimeout(
                f"the request body did not arrive within {self._seconds:g} seconds"
            ) from exc

    def read(self, size: int | None = -1) -> bytes:
        return self._call("read", size)  # type: ignore[no-any-return]

    def readline(self, size: int | None = -1) -> bytes:
        return self._call("readline", size)  # type: ignore[no-any-return]

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        return self._call("readlines", hint)  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line
