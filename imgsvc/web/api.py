"""The HTTP API (v1): thin views over ImageService, one error handler for everything."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    request,
    send_from_directory,
    url_for,
)
from werkzeug.exceptions import HTTPException

from ..errors import (
    BadRequest,
    ImgsvcError,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    UploadTooLarge,
)
from ..formats import content_type_of
from ..pipeline.focus import Focus, parse_focus
from ..service import ImageService
from .openapi import build_spec

log = logging.getLogger(__name__)
api = Blueprint("imgsvc", __name__)
#: A focus is a few dozen bytes; a larger body is not a PATCH imgsvc takes.
MAX_PATCH_BYTES = 4096


def service() -> ImageService:
    return current_app.extensions["imgsvc"]  # type: ignore[no-any-return]


def public_base() -> str:
    """The base of the URLs in this answer: ``public_base_url`` when it is absolute;
    when it is a path (file storage's default ``/media``), the same path on the host
    this request came to, so that a CMS on another origin can use what it gets (the
    CLI, which has no request, keeps the path)."""
    base = service().settings.public_base_url
    if base.startswith("/"):
        return request.host_url.rstrip("/") + base
    return base


def require_write_token() -> None:
    tokens = service().settings.api_tokens
    if not tokens:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    ok = False
    for token in tokens:  # compare with every token so timing says nothing about which
        ok |= hmac.compare_digest(given.strip().encode(), token.encode())
    if scheme.lower() != "bearer" or not ok:
        raise Unauthorized("writes need 'Authorization: Bearer <token>' with a valid token")


@api.post("/v1/images")
def upload() -> tuple[Response, int, dict[str, str]]:
    require_write_token()
    if request.mimetype != "multipart/form-data":
        raise BadRequest("send the image as multipart/form-data with a field named 'file'")
    upload = request.files.get("file")
    if upload is None:
        raise BadRequest("the form has no field named 'file'", code="missing_file")
    limit = service().settings.max_upload_bytes
    data = upload.stream.read(limit + 1)
    service().metrics.bytes_in.inc(len(data))
    if len(data) > limit:
        raise UploadTooLarge(f"the file is over the limit of {limit} bytes")
    media_id = request.form.get("media_id") or None
    focus = _focus(request.form.get("focus") or None)
    description = service().ingest(data, upload.filename, media_id, public_base(), focus)
    location = url_for("imgsvc.get_image", media_id=description["id"])
    return jsonify(description), 201, {"Location": location}


@api.get("/v1/images")
def list_images() -> Response:
    """A page of the library (``?limit=`` 1-1000, default 100; ``?cursor=``)."""
    raw = request.args.get("limit", "100")
    try:
        limit = int(raw)
    except ValueError:
        raise BadRequest(f"limit must be an integer, got {raw!r}", code="invalid_limit") from None
    cursor = request.args.get("cursor") or None
    return jsonify(service().list_images(limit, cursor, public_base()))


@api.get("/v1/images/<media_id>")
def get_image(media_id: str) -> Response:
    return jsonify(service().describe(media_id, public_base()))


@api.get("/v1/images/<media_id>/srcset")
def get_srcset(media_id: str) -> Response:
    return Response(service().srcset(media_id, public_base()), mimetype="text/plain")


@api.patch("/v1/images/<media_id>")
def update_image(media_id: str) -> Response:
    """``{"focus": "x,y" | "x,y,w,h" | null}``: the editor's focus (null: imgsvc's)."""
    require_write_token()
    if (request.content_length or 0) > MAX_PATCH_BYTES:
        raise UploadTooLarge(f"a PATCH body is at most {MAX_PATCH_BYTES} bytes of JSON")
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict) or set(body) != {"focus"}:
        raise BadRequest(
            'send a JSON object {"focus": "x,y"} (or "x,y,w,h", or null) with '
            "Content-Type: application/json",
            code="invalid_json",
        )
    value = body["focus"]
    if value is not None and not isinstance(value, str):
        raise BadRequest(
            f'focus must be a string "x,y" or null, got {value!r}'[:200], code="invalid_focus"
        )
    return jsonify(service().refocus(media_id, _focus(value), public_base()))


def _focus(text: str | None) -> Focus | None:
    return parse_focus(text) if text is not None else None


@api.delete("/v1/images/<media_id>")
def delete_image(media_id: str) -> tuple[str, int]:
    require_write_token()
    service().delete(media_id)
    return "", 204


@api.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@api.get("/readyz")
def readyz() -> tuple[Response, int, dict[str, str]]:
    try:
        service().check_ready()
    except ServiceUnavailable as exc:
        body = {"status": "unavailable", "reason": exc.message}
        return jsonify(body), 503, {"Retry-After": str(exc.retry_after)}
    writes, detail = service().concurrent_writes()
    body = {"status": "ok", "concurrent_writes": writes, "concurrent_writes_detail": detail}
    return jsonify(body), 200, {}


@api.get("/metrics")
def metrics() -> Response:
    body, content_type = service().metrics.render()
    return Response(body, content_type=content_type)


@api.get("/openapi.json")
def openapi() -> Response:
    return jsonify(build_spec(service().settings))


@api.get("/media/<path:key>")
def media(key: str) -> Response:
    """Local file storage, served for the embedded default; S3 serves itself."""
    root = service().storage.local_root()
    if root is None:
        raise NotFound("media is served by the object storage, not by imgsvc")
    if any(part.startswith(".") for part in key.split("/")):  # lock and temp files
        raise NotFound(f"no object {key}")
    response = send_from_directory(root.resolve(), key, max_age=None, mimetype=content_type_of(key))
    if "/conversions/" in key or "/crops/" in key:
        response.headers["Cache-Control"] = service().settings.conversion_cache_control
    return response


@api.app_errorhandler(ImgsvcError)
def handle_imgsvc_error(exc: ImgsvcError) -> tuple[Response, int, dict[str, str]]:
    """The one translation of imgsvc's errors into HTTP answers."""
    g.error_code = exc.code
    headers: dict[str, str] = {}
    if isinstance(exc, ServiceUnavailable):
        headers["Retry-After"] = str(exc.retry_after)
        log.warning("%s: %s", exc.code, exc.message)
    return jsonify(exc.to_dict()), exc.status_code, headers


_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "too_large",
    415: "unsupported_media_type",
}


@api.app_errorhandler(HTTPException)
def handle_http_error(exc: HTTPException) -> tuple[Response, int, dict[str, Any]]:
    status = exc.code or 500
    message = exc.description
    if status == 413:
        limit = service().settings.max_upload_bytes
        message = f"the upload is larger than the limit of {limit} bytes"
    g.error_code = _HTTP_CODES.get(status, "http_error")
    body = {"error": {"code": g.error_code, "message": message}}
    return jsonify(body), status, dict(exc.get_headers()) | {"Content-Type": "application/json"}


@api.app_errorhandler(Exception)
def handle_unexpected(exc: Exception) -> tuple[Response, int]:
    log.exception("unhandled error")
    g.error_code = "internal_error"
    body = {"error": {"code": "internal_error", "message": "an unexpected error occurred"}}
    return jsonify(body), 500
