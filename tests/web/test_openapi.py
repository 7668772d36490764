"""The OpenAPI document is true: every route in it, every error code in it, and
schemathesis finds no 5xx and no answer that breaks it (bodies and headers fuzzed).

The budget is ``IMGSVC_FUZZ_EXAMPLES`` examples per operation (default 100, about
ten seconds in all); set it higher for a longer run.
"""

from __future__ import annotations

import ast
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from PIL import Image
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from imgsvc import ImageService, Settings, create_app
from imgsvc.storage import FileStorage
from imgsvc.web.openapi import ERROR_CODES, build_spec

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "schemathesis-token"
EXAMPLES = int(os.environ.get("IMGSVC_FUZZ_EXAMPLES", "100"))
UI_ENDPOINTS = {"imgsvc_ui.upload_page", "imgsvc_ui.image_fragment", "imgsvc_ui.static", "static"}


def make_app(tmp: Path, **overrides: object) -> Iterator[Flask]:
    settings = Settings.load({}, file_root=tmp / "media", **overrides)
    service = ImageService(settings, FileStorage(settings.file_root))
    yield create_app(service=service)
    service.close()


@pytest.fixture
def api_app(tmp_path: Path) -> Iterator[Flask]:
    yield from make_app(tmp_path, api_tokens=(TOKEN,), max_upload_bytes=200_000)


def _openapi_path(rule: str) -> str:
    return rule.replace("<path:", "{").replace("<", "{").replace(">", "}")


def test_every_route_is_documented_and_nothing_else(api_app: Flask) -> None:
    spec = api_app.test_client().get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    served = {
        (_openapi_path(rule.rule), method.lower())
        for rule in api_app.url_map.iter_rules()
        if rule.endpoint not in UI_ENDPOINTS
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert served == documented


def _codes_in_source() -> set[str]:
    """Every ``code`` an error class declares or a raise passes, read from the source."""
    found: set[str] = set()
    for path in (ROOT / "imgsvc").rglob("*.py"):
        if "bulk" in path.parts:  # re-conversion runs from the CLI and workers, never HTTP
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            is_code = (isinstance(node, ast.keyword) and node.arg == "code") or (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "code" for t in node.targets)
            )
            value = getattr(node, "value", None)
            if is_code and isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.add(value.value)
    # config_error: a start-up failure, never an answer.
    return found - {"config_error"}


def test_every_error_code_is_documented() -> None:
    documented = {code for codes in ERROR_CODES.values() for code in codes}
    assert _codes_in_source() <= documented


def test_description_fields_match_the_schema(tmp_path: Path) -> None:
    app = next(make_app(tmp_path))
    buf = io.BytesIO()
    Image.new("RGB", (600, 400), (10, 20, 30)).save(buf, "JPEG")
    form = {"file": (io.BytesIO(buf.getvalue()), "a.jpg")}
    body = app.test_client().post("/v1/images", data=form).get_json()
    schema = build_spec(Settings.load({}))["components"]["schemas"]["Description"]
    assert set(body) == set(schema["properties"])
    variant = schema["properties"]["variants"]["items"]
    # Every field answered is documented; optional ones (score: only with a target) may
    # be absent, required ones never are.
    assert set(variant["required"]) <= set(body["variants"][0]) <= set(variant["properties"])


# Loaded at collection, as schemathesis's pytest integration wants; its lazy
# ``from_fixture`` does not work with pytest 9, hence one app for the whole module.
_STATE = tempfile.TemporaryDirectory(prefix="imgsvc-openapi-")
_APP = next(make_app(Path(_STATE.name), api_tokens=(TOKEN,), max_upload_bytes=200_000))
schema = schemathesis.openapi.from_wsgi("/openapi.json", _APP)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_document(case: schemathesis.Case) -> None:
    """Positive and negative cases, authorised or not; every answer documented, no 5xx."""
    headers = {"Authorization": f"Bearer {TOKEN}"} if case.operation.method != "get" else {}
    checks = CHECKS
    if case.media_type == "multipart/form-data":
        # A form field cannot carry JSON types: schemathesis's "negative" media_id of []
        # is sent as no field at all, a valid request. No 5xx and conformance still hold.
        checks = [c for c in CHECKS if c is not negative_data_rejection]
    case.call_and_validate(headers=headers, checks=checks)
