"""A real HTTP receiver on loopback for webhook tests: it records every request it
gets and answers with the statuses it was told to, in order (then 204)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)
    got: list[Received] = field(default_factory=list)
    #: While cleared, every request is recorded, then waits here before it is answered.
    open: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """The first ``count`` requests once they have arrived (an AssertionError if
        they do not within ``timeout`` s: a generous bound, not a speed test)."""
        with self.arrived:
            ok = self.arrived.wait_for(lambda: len(self.got) >= count, timeout)
        assert ok, f"the receiver got {len(self.got)} requests, expected {count}"
        return self.got[:count]

    def events(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.got]


@contextmanager
def receiver(statuses: list[int] | None = None) -> Iterator[Receiver]:
    state = Receiver("", list(statuses or []))
    state.open.set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.arrived:
                state.got.append(Received(dict(self.headers.items()), body))
                status = state.statuses.pop(0) if state.statuses else 204
                state.arrived.notify_all()
            state.open.wait(60)
            self.send_response(status)
            if status in (429, 503):
                self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/imgsvc"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.open.set()
        server.shutdown()
        server.server_close()
