"""The OpenAPI 3.1 document of the HTTP API, served at ``/openapi.json``.

Built from the settings of the running instance (the byte limit, whether writes need
a token), so what a client reads is what this server does. ``tests/test_openapi.py``
keeps it true: every route is documented, every error code the code can raise is
listed, and schemathesis checks every answer against it.
"""

from __future__ import annotations

from typing import Any

from ..settings import Settings
from .schemas import component_schemas, patch_body, status_schema, upload_form

#: Every ``error.code`` imgsvc answers with, by HTTP status.
ERROR_CODES: dict[int, tuple[str, ...]] = {
    400: (
        "bad_request",
        "missing_file",
        "invalid_media_id",
        "invalid_focus",
        "invalid_json",
        "invalid_image",
        "invalid_limit",
        "invalid_cursor",
    ),
    401: ("unauthorized",),
    404: ("not_found",),
    405: ("method_not_allowed",),
    408: ("request_timeout",),
    409: ("conflict",),
    413: ("too_large",),
    415: ("unsupported_format", "unsupported_media_type"),
    422: ("image_refused", "too_many_pixels", "too_many_frames"),
    503: ("storage_unavailable", "saturated", "unavailable"),
}
_WHY = {
    400: "Bad request: not multipart, no `file`, a `media_id` that is not a UUID, a "
    "`focus` that is not `x,y` or `x,y,w,h` inside the image, empty, truncated or "
    'undecodable data; a PATCH body that is not the JSON object `{"focus": ...}`; or, '
    "listing, a `limit` outside 1-1000 or a `cursor` this service did not hand out.",
    401: "A write without a valid `Authorization: Bearer` token (only when tokens are set).",
    404: "No such image (an id that is not a UUID cannot exist either).",
    408: "The request body did not arrive within `upload_timeout` seconds.",
    409: "The image changed while this write was being stored (another upload or a delete "
    "of it finished first): the newer state stays, this write kept nothing. An upload or a "
    "delete that races a re-conversion of the same photo is done on top of it instead.",
    413: "The body is over the byte limit; refused from the Content-Length, before reading.",
    415: "A recognisable image format outside the allowlist (TIFF, BMP, PSD, SVG, HEIC...).",
    422: "Decodable but refused: too many pixels or frames, a decompression bomb.",
    503: "Storage unavailable, or too many conversions in flight; retry after `Retry-After`.",
}

_REQUEST_ID = {
    "name": "X-Request-ID",
    "in": "header",
    "required": False,
    "description": "Your id for this request (1-128 of `A-Za-z0-9._:=+/-`); echoed back and "
    "logged. Anything else is replaced by a generated id.",
    "schema": {"type": "string"},
}
_MEDIA_ID = {
    "name": "media_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
#: A UUID as naming.parse_media_id takes it (surrounding space ignored), or nothing.
#: A pattern, not ``anyOf`` with ``format: uuid``: schemathesis's negative cases for
#: that branch include "", which the other branch allows.
_HEX = "[0-9A-Fa-f]"
_MEDIA_ID_FIELD = rf"^\s*({_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}})?\s*$"
_ID_HEADER = {"X-Request-ID": {"schema": {"type": "string"}, "required": True}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(status: int) -> dict[str, Any]:
    headers = dict(_ID_HEADER)
    if status == 503:
        headers["Retry-After"] = {"schema": {"type": "string"}, "required": True}
    return {
        "description": _WHY[status],
        "headers": headers,
        "content": {"application/json": {"schema": _ref("Error")}},
    }


def _ok(description: str, content: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "headers": dict(_ID_HEADER)}
    if content:
        answer["content"] = content
    return answer


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation(
    summary: str,
    responses: dict[str, Any],
    *,
    path_params: tuple[dict[str, Any], ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    parameters = [*path_params, _REQUEST_ID]
    return {"summary": summary, "parameters": parameters, "responses": responses, **extra}


def build_spec(settings: Settings) -> dict[str, Any]:
    """The document for an instance with these settings."""
    #: With tokens set, writes need one; without, they are open (local use only).
    security: list[dict[str, list[str]]] = [{"bearer": []}] if settings.api_tokens else [{}]
    image = {**_json(_ref("Description"))}
    reads = {"404": _error(404), "503": _error(503)}
    upload_errors = {str(s): _error(s) for s in (400, 401, 408, 409, 413, 415, 422, 503)}
    upload = _operation(
        "Upload an image; get its conversions and srcset",
        {
            "201": {
                **_ok("Converted and stored; the description of the set.", image),
                "headers": {**_ID_HEADER, "Location": {"schema": {"type": "string"}}},
                "links": {"GetImage": _link("getImage"), "DeleteImage": _link("deleteImage")},
            },
            **upload_errors,
        },
        security=security,
        operationId="uploadImage",
        requestBody={
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": upload_form(settings.max_upload_bytes, _MEDIA_ID_FIELD)
                }
            },
        },
    )
    patch = _operation(
        "Set the editor's focus; the crops that depend on it are rewritten",
        {
            "200": _ok("The description, with the new focus and crops.", image),
            **{str(s): _error(s) for s in (400, 401, 409, 413)},
            **reads,
        },
        security=security,
        operationId="updateImage",
        path_params=(_MEDIA_ID,),
        requestBody={"required": True, "content": {"application/json": {"schema": patch_body()}}},
    )
    delete = _operation(
        "Delete an image: manifest first, then the original and every conversion",
        {"204": _ok("Deleted."), "401": _error(401), "409": _error(409), **reads},
        security=security,
        operationId="deleteImage",
        path_params=(_MEDIA_ID,),
    )
    listing = _operation(
        "A page of the stored images, in listing order",
        {
            "200": _ok(
                "The descriptions of up to `limit` images, and the cursor of the next page "
                "(null after the last).",
                _json(
                    {
                        "type": "object",
                        "required": ["images", "next_cursor"],
                        "properties": {
                            "images": {"type": "array", "items": _ref("Description")},
                            "next_cursor": {"type": ["string", "null"]},
                        },
                    }
                ),
            ),
            "400": _error(400),
            "503": _error(503),
        },
        operationId="listImages",
        path_params=(
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
            },
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": "`next_cursor` of the previous page, as it came.",
                "schema": {"type": "string"},
            },
        ),
    )
    text = {"text/plain": {"schema": {"type": "string"}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "imgsvc",
            "version": "1",
            "description": "Responsive images: upload once, get WebP conversions at the "
            "srcset widths, stored with the original and a manifest. Errors are "
            '`{"error": {"code", "message"}}` and never 500 for anything a client sent.',
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/v1/images": {"post": upload, "get": listing},
            "/v1/images/{media_id}": {
                "get": _operation(
                    "The description of a stored image",
                    {"200": _ok("The description.", image), **reads},
                    operationId="getImage",
                    path_params=(_MEDIA_ID,),
                ),
                "patch": patch,
                "delete": delete,
            },
            "/v1/images/{media_id}/srcset": {
                "get": _operation(
                    "The srcset of a stored image, as text",
                    {"200": _ok("The srcset string.", text), **reads},
                    operationId="getSrcset",
                    path_params=(_MEDIA_ID,),
                )
            },
            "/media/{key}": {
                "get": _operation(
                    "A stored object (file storage only; S3 serves its own objects)",
                    {"200": _ok("The object.", {"*/*": {}}), "404": _error(404)},
                    operationId="getMedia",
                    path_params=({**_MEDIA_ID, "name": "key", "schema": {"type": "string"}},),
                )
            },
            "/healthz": {
                "get": _operation("Liveness", {"200": _ok("Alive.", _json(status_schema()))})
            },
            "/readyz": {
                "get": _operation(
                    "Readiness: storage reachable",
                    {
                        "200": _ok("Ready.", _json(status_schema())),
                        "503": _ok("Storage unreachable; the reason.", _json(status_schema())),
                    },
                )
            },
            "/metrics": {"get": _operation("Prometheus metrics", {"200": _ok("Metrics.", text)})},
            "/openapi.json": {
                "get": _operation(
                    "This document", {"200": _ok("OpenAPI 3.1.", _json({"type": "object"}))}
                )
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": component_schemas(ERROR_CODES),
        },
    }


def _link(operation_id: str) -> dict[str, Any]:
    return {"operationId": operation_id, "parameters": {"media_id": "$response.body#/id"}}
