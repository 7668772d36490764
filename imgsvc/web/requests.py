"""Per-request observability: the request id, the access log and the request metrics.

The request id is the client's ``X-Request-ID`` when it is sane (a proxy or the CMS
made it, so their logs and ours line up), else a new one; it is returned in the
answer and in every log line of the request. The error code of a failed request is
left in ``g.error_code`` by the error handlers, so the access log and the upload
counter say *why* a request failed, not only its status.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from ..runtime.metrics import Metrics

log = logging.getLogger("imgsvc.access")
REQUEST_ID_HEADER = "X-Request-ID"
#: Printable, no spaces or quotes: safe in a header, a log line and a metric-free label.
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+/-]{0,127}")
#: Polled by machines every few seconds: logged at DEBUG so they do not drown the rest.
_QUIET_ROUTES = {"/healthz", "/readyz", "/metrics"}
UPLOAD_ENDPOINT = "imgsvc.upload"


def request_id_from(header: str | None) -> str:
    if header and _SANE_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def init_app(app: Flask, metrics: Metrics) -> None:
    @app.before_request
    def start() -> None:
        g.started = time.perf_counter()
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))

    @app.after_request
    def finish(response: Response) -> Response:
        request_id = g.get("request_id") or request_id_from(None)
        response.headers[REQUEST_ID_HEADER] = request_id
        seconds = time.perf_counter() - g.get("started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        status = str(response.status_code)
        code = g.get("error_code") or ("ok" if response.status_code < 400 else "http_error")
        metrics.requests.labels(route, status).inc()
        metrics.request_seconds.labels(route).observe(seconds)
        if request.endpoint == UPLOAD_ENDPOINT and request.method == "POST":
            metrics.uploads.labels(status, "created" if status == "201" else code).inc()
        level = logging.DEBUG if route in _QUIET_ROUTES else logging.INFO
        log.log(
            level,
            "%s %s %s",
            request.method,
            request.path,
            status,
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "route": route,
                "status": response.status_code,
                "code": code,
                "duration_ms": round(seconds * 1000, 1),
                "bytes_in": request.content_length,
                "remote": request.remote_addr,
            },
        )
        return response
