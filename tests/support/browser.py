"""What every browser test needs: Debian's chromium, its launch arguments, a live app.

Debian's chromium (``/usr/bin/chromium``, ``make browser`` installs it) is driven
by playwright; a browser that playwright downloads does not work here. A test module
calls ``require_chromium()`` at module level *before* importing playwright, so a
machine without the browser skips the module instead of failing it, and takes the
``browser`` fixture by importing its function (the import is what makes pytest see
it; the function has another name, so test parameters called ``browser`` do not
shadow the import)::

    from ..support.browser import browser_fixture, require_chromium, serve_app  # noqa: F401
    require_chromium()

``serve_app`` runs a Flask app in a real threaded HTTP server on a free loopback
port; the app is built once the port is known, because its public URLs need it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Skip the calling test module when Debian's chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"browser tests need Debian's chromium at {CHROMIUM}: run `make browser` "
            "(apt-get install -y chromium)",
            allow_module_level=True,
        )


class _Deferred:
    """A WSGI app filled in after the server has its port (the app's URLs need it)."""

    app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self.app is not None
        return self.app(environ, start_response)


@dataclass
class Live:
    """A served app: its base URL (``http://127.0.0.1:PORT``) and the app itself."""

    base: str
    app: Flask


@contextmanager
def serve_app(build: Callable[[str], Flask]) -> Iterator[Live]:
    """Serve ``build(base_url)`` on a free loopback port until the block ends.

    The imgsvc service of the app (``app.extensions["imgsvc"]``), when it has one,
    is closed afterwards, so its threads do not outlive the module.
    """
    holder = _Deferred()
    server = make_server("127.0.0.1", 0, holder, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app = build(base)
    holder.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Live(base, app)
    finally:
        server.shutdown()
        thread.join(10)
        service = app.extensions.get("imgsvc")
        if service is not None and hasattr(service, "close"):
            service.close()


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator[Browser]:
    """One headless chromium per test module; each test opens its own context."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def upload(live: Live, browser: Browser, name: str, data: bytes, **fields: str) -> dict[str, Any]:
    """Store a JPEG through the HTTP API (multipart ``POST /v1/images``) from a browser
    context of its own, as a CMS would; ``fields`` are further form fields (``focus``).
    Returns the description."""
    context = browser.new_context()
    try:
        response = context.request.post(
            f"{live.base}/v1/images",
            multipart={"file": {"name": name, "mimeType": "image/jpeg", "buffer": data}, **fields},
        )
        assert response.status == 201, response.text()
        image: dict[str, Any] = response.json()
        return image
    finally:
        context.close()
