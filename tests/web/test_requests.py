"""Operations: request ids, JSON logs, Prometheus metrics (in-process and summed over
gunicorn workers), CORS, and the refusal to bind beyond loopback with open writes."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from PIL import Image

from imgsvc import ImageService, Settings, create_app
from imgsvc.runtime.logs import JsonFormatter
from imgsvc.storage import FileStorage
from imgsvc.web.server import check_exposure

from ..support.http import call, multipart
from ..support.servers import imgsvc_serve


def jpeg(width: int = 700, height: int = 400) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (20, 90, 160)).save(buf, "JPEG")
    return buf.getvalue()


def post(client: FlaskClient, data: bytes, **headers: str):  # type: ignore[no-untyped-def]
    form = {"file": (io.BytesIO(data), "a.jpg")}
    return client.post("/v1/images", data=form, headers=headers)


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus exposition text (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        key, value = line.rsplit(" ", 1)
        metric, _, rest = key.partition("{")
        found = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        if metric == name and found == labels:
            return float(value)
    return 0.0


def test_request_id_is_echoed_when_sane_and_made_otherwise(client: FlaskClient) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "cms-42.abc:7"})
    assert given.headers["X-Request-ID"] == "cms-42.abc:7"
    for bad in ("has space", "x" * 200, "<script>", ""):
        made = client.get("/healthz", headers={"X-Request-ID": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    error = client.get("/v1/images/nope")
    assert error.status_code == 404 and error.headers["X-Request-ID"]


def test_logs_are_json_lines_with_the_request_id(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="imgsvc"):
        post(client, b"not an image", **{"X-Request-ID": "trace-1"})
    access = [r for r in caplog.records if r.name == "imgsvc.access"]
    assert access, "every request is logged"
    entry = json.loads(JsonFormatter().format(access[-1]))
    assert entry["request_id"] == "trace-1"
    assert entry["status"] == 400 and entry["code"] == "invalid_image"
    assert entry["method"] == "POST" and entry["path"] == "/v1/images"
    assert entry["level"] == "info" and entry["logger"] == "imgsvc.access"
    assert isinstance(entry["duration_ms"], float)


def test_a_log_line_with_an_exception_is_one_json_line() -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = logging.LogRecord("imgsvc", logging.ERROR, __file__, 1, "failed", None, None)
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exc"]


def test_metrics_count_uploads_stages_bytes_and_requests(client: FlaskClient) -> None:
    assert post(client, jpeg()).status_code == 201
    assert post(client, b"garbage").status_code == 400
    assert post(client, b"II*\x00" + bytes(100)).status_code == 415
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert sample(text, "imgsvc_uploads_total", status="201", code="created") == 1
    assert sample(text, "imgsvc_uploads_total", status="400", code="invalid_image") == 1
    assert sample(text, "imgsvc_uploads_total", status="415", code="unsupported_format") == 1
    stages = [("queue", 3), ("convert", 3), ("decode", 1), ("resize", 1), ("encode", 1)]
    for stage, count in [*stages, ("store", 1)]:  # refused input never reaches decode
        assert sample(text, "imgsvc_conversion_stage_seconds_count", stage=stage) == count
    assert sample(text, "imgsvc_upload_bytes_total") > len(jpeg())
    assert sample(text, "imgsvc_output_bytes_total") > 0
    assert sample(text, "imgsvc_conversions_in_flight") == 0
    assert sample(text, "imgsvc_http_requests_total", route="/v1/images", status="201") == 1


def test_storage_errors_are_counted(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    settings = Settings.load({}, file_root=blocker / "media")
    service = ImageService(settings, FileStorage(settings.file_root))
    client = create_app(service=service).test_client()
    assert client.get("/readyz").status_code == 503
    assert post(client, jpeg()).status_code == 503
    text = client.get("/metrics").get_data(as_text=True)
    assert sample(text, "imgsvc_storage_errors_total", operation="ping") == 1
    assert sample(text, "imgsvc_uploads_total", status="503", code="storage_unavailable") == 1
    service.close()


def cors_client(tmp_path: Path, origins: tuple[str, ...]) -> FlaskClient:
    settings = Settings.load({}, file_root=tmp_path / "media", cors_origins=origins)
    return create_app(settings=settings, storage=FileStorage(settings.file_root)).test_client()


def test_cors_for_configured_origins_only(tmp_path: Path) -> None:
    client = cors_client(tmp_path, ("https://cms.example.com",))
    preflight = client.options(
        "/v1/images",
        headers={
            "Origin": "https://cms.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://cms.example.com"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    upload = post(client, jpeg(), Origin="https://cms.example.com")
    assert upload.status_code == 201
    assert upload.headers["Access-Control-Allow-Origin"] == "https://cms.example.com"
    assert "Location" in upload.headers["Access-Control-Expose-Headers"]
    assert "Origin" in upload.headers["Vary"]
    stranger = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in stranger.headers
    denied = client.options(
        "/v1/images",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in denied.headers


def test_no_cors_headers_by_default(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"Origin": "https://cms.example.com"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_origins_from_the_environment() -> None:
    env = {"IMGSVC_CORS_ORIGINS": "https://a.example, https://b.example:8443/"}
    assert Settings.load(env).cors_origins == ("https://a.example", "https://b.example:8443")
    with pytest.raises(Exception, match="IMGSVC_CORS_ORIGINS"):
        Settings.load({"IMGSVC_CORS_ORIGINS": "cms.example.com"})


def test_binding_beyond_loopback_needs_tokens_or_an_explicit_opt_in() -> None:
    open_writes = Settings.load({})
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        check_exposure(open_writes, host)
    with pytest.raises(SystemExit, match="IMGSVC_API_TOKENS"):
        check_exposure(open_writes, "0.0.0.0")
    check_exposure(Settings.load({}, api_tokens=("t",)), "0.0.0.0")
    check_exposure(Settings.load({"IMGSVC_INSECURE_OPEN_WRITES": "true"}), "0.0.0.0")


def test_serve_refuses_before_binding() -> None:
    imgsvc = str(Path(sys.executable).with_name("imgsvc"))
    result = subprocess.run(
        [imgsvc, "serve", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "refusing to bind 0.0.0.0" in result.stderr


def test_metrics_add_up_over_gunicorn_workers(tmp_path: Path) -> None:
    """Two workers: every scrape, whichever worker answers, counts every upload;
    logs are JSON with our request id; the metrics directory goes when the server does."""
    own_tmp = tmp_path / "tmp"
    own_tmp.mkdir()
    env = {"IMGSVC_FILE_ROOT": str(tmp_path / "media"), "TMPDIR": str(own_tmp)}
    env_without_dir = {"PROMETHEUS_MULTIPROC_DIR": ""}
    with imgsvc_serve(env | env_without_dir, tmp_path, workers=2) as base:
        assert len(list(own_tmp.glob("imgsvc-metrics-*"))) == 1

        def upload(i: int) -> tuple[int, dict[str, str]]:
            body, ctype = multipart(jpeg(300 + i, 200), "a.jpg")
            status, headers, _ = call("POST", f"{base}/v1/images", body, ctype)
            return status, headers

        with ThreadPoolExecutor(6) as pool:  # at once, so that both workers take some
            answers = list(pool.map(upload, range(6)))
        assert all(status == 201 and headers["X-Request-ID"] for status, headers in answers)
        missing = f"{base}/v1/images/{uuid.uuid4()}"
        request = urllib.request.Request(missing, headers={"X-Request-ID": "probe-7"})
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request)
        assert answer.value.headers["X-Request-ID"] == "probe-7"
        for _ in range(8):  # any worker may answer; each answer sums all of them
            text = urllib.request.urlopen(f"{base}/metrics").read().decode()
            assert sample(text, "imgsvc_uploads_total", status="201", code="created") == 6
            assert sample(text, "imgsvc_conversion_stage_seconds_count", stage="store") == 6
    assert list(own_tmp.glob("imgsvc-metrics-*")) == [], "the metrics directory was removed"
    log = next(tmp_path.glob("imgsvc-*.log")).read_text().splitlines()
    entries = [json.loads(line) for line in log if line.startswith("{")]
    assert len(entries) == len(log), "every log line is JSON"
    assert any(e.get("request_id") == "probe-7" and e.get("status") == 404 for e in entries)
    uploads = [e for e in entries if e.get("path") == "/v1/images" and e.get("status") == 201]
    assert len(uploads) == 6
