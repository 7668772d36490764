"""CORS for the configured browser origins (``cors_origins``), preflights included.

A CMS page on another origin may post uploads from the browser; only the origins
an operator lists get the headers that let it, and nothing else changes for them:
writes still need the bearer token, which is why ``Authorization`` is allowed.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Flask, Response, request

ALLOW_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type, X-Request-ID"
EXPOSE_HEADERS = "Location, Retry-After, X-Request-ID"
#: Browsers cache a preflight this long (Chromium caps it at 7200 s).
MAX_AGE = "600"


def init_app(app: Flask, origins: Sequence[str]) -> None:
    allowed = frozenset(origins)
    if not allowed:
        return

    def origin_allowed() -> str | None:
        origin = request.headers.get("Origin")
        if origin and ("*" in allowed or origin in allowed):
            return origin
        return None

    @app.before_request
    def answer_preflight() -> Response | None:
        is_preflight = (
            request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
        )
        if is_preflight and request.url_rule is not None and origin_allowed():
            return Response(status=204)
        return None

    @app.after_request
    def add_headers(response: Response) -> Response:
        response.vary.add("Origin")
        origin = origin_allowed()
        if origin is None:
            return response
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
            response.headers["Access-Control-Max-Age"] = MAX_AGE
        return response
