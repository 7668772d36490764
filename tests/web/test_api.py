"""The HTTP API through Flask's test client, on file storage."""

from __future__ import annotations

import io
import mimetypes
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image

from imgsvc import ImageService, Settings, create_app
from imgsvc.cli import cli
from imgsvc.storage import FileStorage
from imgsvc.storage.file import LOCKS

SEED_ID = "b797c7e7-f97e-44af-848a-64a0818214cd"
SEED_NAME = "368de410-6cb2-4516-89cf-b8b9e44746cf.jpg"
SEED_SRCSET = ", ".join(
    f"https://s3-minsk.becloud.by/media-assets/news-by/{SEED_ID}/conversions/"
    f"368de410-6cb2-4516-89cf-b8b9e44746cf-{size}-___webp_{width}.webp {width}w"
    for size, width in [("sm", 480), ("md", 768), ("lg", 1280), ("xl", 1920)]
)


def jpeg(width: int = 640, height: int = 480, orientation: int = 1) -> bytes:
    im = Image.new("RGB", (width, height), (30, 120, 200))
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85, exif=exif)
    return buf.getvalue()


def post(client: FlaskClient, data: bytes, name: str = "photo.jpg", **fields: str):  # type: ignore[no-untyped-def]
    form = {"file": (io.BytesIO(data), name), **fields}
    return client.post("/v1/images", data=form, content_type="multipart/form-data")


def stored_files(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and LOCKS not in p.parts
    )


def test_upload_describes_and_stores(client: FlaskClient, settings: Settings) -> None:
    response = post(client, jpeg(1000, 500), "My Photo.JPG")
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/v1/images/{body['id']}"
    assert uuid.UUID(body["id"]).version == 4
    assert [(v["size"], v["width"], v["height"]) for v in body["variants"]] == [
        ("sm", 480, 240),
        ("md", 768, 384),
        ("lg", 1000, 500),
    ]
    assert body["width"] == 1000 and body["height"] == 500
    assert body["src"] == body["variants"][-1]["url"]
    assert body["original"]["content_type"] == "image/jpeg"
    assert body["original"]["key"] == f"media/{body['id']}/My-Photo.jpg"
    for variant in body["variants"]:
        path = settings.file_root / variant["key"]
        with Image.open(path) as im:
            assert im.format == "WEBP" and im.size == (variant["width"], variant["height"])
        assert path.stat().st_size == variant["bytes"]
        served = client.get(variant["url"])
        assert served.status_code == 200 and served.data == path.read_bytes()
        assert (
            served.headers["Cache-Control"]
            == "public, max-age=86400, stale-while-revalidate=604800"
        )
        assert served.mimetype == "image/webp"


def test_file_storage_answers_carry_absolute_urls_of_the_request_host(
    client: FlaskClient, runner: Any, settings: Settings
) -> None:
    """A CMS on another origin uses what it gets: no '/media/media/...' paths over
    HTTP. The CLI, which has no request, keeps the configured path."""
    body = post(client, jpeg(800, 500), "a.jpg").get_json()
    base = "http://cms-images.test:8000/media/"
    described = client.get(
        f"/v1/images/{body['id']}", headers={"Host": "cms-images.test:8000"}
    ).get_json()
    urls = [v["url"] for v in described["variants"]] + [described["src"]]
    assert all(u.startswith(base) for u in urls), urls
    assert described["original"]["url"] == f"{base}{described['original']['key']}"
    assert all(e.split(" ")[0].startswith(base) for e in described["srcset"].split(", "))
    for url in (body["src"], *(v["url"] for v in body["variants"])):
        assert url.startswith("http://localhost/media/")
        with Image.open(io.BytesIO(client.get(url).data)) as im:
            assert im.format == "WEBP"
    text = client.get(f"/v1/images/{body['id']}/srcset").get_data(as_text=True)
    assert text.startswith("http://localhost/media/")
    env = {"IMGSVC_FILE_ROOT": str(settings.file_root)}
    printed = runner.invoke(cli, ["srcset", body["id"]], env=env)
    assert printed.exit_code == 0 and printed.output.startswith("/media/")


def test_an_absolute_public_base_url_is_used_as_configured(tmp_path: Path) -> None:
    settings = Settings.load(
        {}, file_root=tmp_path / "media", public_base_url="https://img.example.org/m"
    )
    client = create_app(settings).test_client()
    body = post(client, jpeg(600, 400), "a.jpg").get_json()
    assert body["src"].startswith("https://img.example.org/m/media/")
    client.application.extensions["imgsvc"].close()


def test_media_content_types_do_not_depend_on_the_hosts_mime_table(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A minimal container has no /etc/mime.types, and Python 3.11 alone knows no .webp."""
    body = post(client, jpeg(600, 400), "a.jpg").get_json()
    monkeypatch.setattr(mimetypes, "guess_type", lambda *_a, **_k: (None, None))
    assert client.get(body["variants"][0]["url"]).mimetype == "image/webp"
    assert client.get(body["original"]["url"]).mimetype == "image/jpeg"


def test_get_srcset_and_delete(client: FlaskClient, settings: Settings) -> None:
    body = post(client, jpeg()).get_json()
    media_id = body["id"]
    assert client.get(f"/v1/images/{media_id}").get_json() == body
    srcset = client.get(f"/v1/images/{media_id}/srcset")
    assert srcset.mimetype == "text/plain" and srcset.get_data(as_text=True) == body["srcset"]
    assert client.delete(f"/v1/images/{media_id}").status_code == 204
    assert stored_files(settings.file_root) == []
    for path in (f"/v1/images/{media_id}", f"/v1/images/{media_id}/srcset"):
        missing = client.get(path)
        assert missing.status_code == 404
        assert missing.get_json()["error"]["code"] == "not_found"
    assert client.delete(f"/v1/images/{media_id}").status_code == 404


def test_seed_srcset_byte_for_byte(tmp_path: Path) -> None:
    settings = Settings.load(
        {"IMGSVC_CONFIG": "config/becloud.toml", "IMGSVC_STORAGE": "file"},
        file_root=tmp_path,
    )
    app = create_app(settings=settings, storage=FileStorage(tmp_path))
    client = app.test_client()
    response = post(client, jpeg(2400, 1600), SEED_NAME, media_id=SEED_ID)
    assert response.status_code == 201
    assert response.get_json()["srcset"] == SEED_SRCSET
    assert client.get(f"/v1/images/{SEED_ID}/srcset").get_data(as_text=True) == SEED_SRCSET


def test_reposting_a_media_id_replaces_the_set(client: FlaskClient, settings: Settings) -> None:
    media_id = str(uuid.uuid4())
    first = post(client, jpeg(2000, 1000), "first.jpg", media_id=media_id).get_json()
    second = post(client, jpeg(700, 350), "second.png", media_id=media_id).get_json()
    assert second["id"] == first["id"] == media_id
    expected = sorted(
        [second["original"]["key"], f"media/{media_id}/manifest.json"]
        + [v["key"] for v in second["variants"]]
    )
    assert stored_files(settings.file_root) == expected


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"", 400, "invalid_image"),
        (b"hello, world: not an image", 400, "invalid_image"),
        (jpeg()[:300], 400, "invalid_image"),
        (b"II*\x00" + bytes(200), 415, "unsupported_format"),
        (b"BM" + bytes(200), 415, "unsupported_format"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", 415, "unsupported_format"),
    ],
)
def test_bad_uploads_are_refused_and_store_nothing(
    client: FlaskClient, settings: Settings, data: bytes, status: int, code: str
) -> None:
    response = post(client, data)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert response.get_json()["error"]["message"]
    assert stored_files(settings.file_root) == []


def test_request_errors(client: FlaskClient) -> None:
    no_file = client.post("/v1/images", data={"x": "1"}, content_type="multipart/form-data")
    assert no_file.status_code == 400 and no_file.get_json()["error"]["code"] == "missing_file"
    raw = client.post("/v1/images", data=jpeg(), content_type="image/jpeg")
    assert raw.status_code == 400
    bad_id = post(client, jpeg(), media_id="../../etc/passwd")
    assert bad_id.status_code == 400
    assert bad_id.get_json()["error"]["code"] == "invalid_media_id"
    assert client.get("/v1/images/not-a-uuid").status_code == 404
    wrong_method = client.put("/v1/images")
    assert wrong_method.status_code == 405 and "error" in wrong_method.get_json()


def make_client(tmp_path: Path, **overrides: object) -> tuple[FlaskClient, ImageService]:
    overrides.setdefault("file_root", tmp_path / "media")
    settings = Settings.load({}, **overrides)
    service = ImageService(settings, FileStorage(settings.file_root))
    return create_app(service=service).test_client(), service


def test_limits(tmp_path: Path) -> None:
    client, service = make_client(tmp_path, max_upload_bytes=20_000, max_pixels=1_000_000)
    too_big = post(client, bytes(30_000))
    assert too_big.status_code == 413 and too_big.get_json()["error"]["code"] == "too_large"
    too_many = post(client, jpeg(1200, 1000))
    assert too_many.status_code == 422
    assert too_many.get_json()["error"]["code"] == "too_many_pixels"
    assert not (tmp_path / "media").exists() or stored_files(tmp_path / "media") == []
    service.close()


def test_write_tokens(tmp_path: Path) -> None:
    client, service = make_client(tmp_path, api_tokens=("s3cret", "other"))
    assert post(client, jpeg()).status_code == 401
    wrong = client.post(
        "/v1/images",
        data={"file": (io.BytesIO(jpeg()), "a.jpg")},
        headers={"Authorization": "Bearer nope"},
    )
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "unauthorized"
    ok = client.post(
        "/v1/images",
        data={"file": (io.BytesIO(jpeg()), "a.jpg")},
        headers={"Authorization": "Bearer other"},
    )
    assert ok.status_code == 201
    media_id = ok.get_json()["id"]
    assert client.get(f"/v1/images/{media_id}").status_code == 200  # reads stay open
    assert client.delete(f"/v1/images/{media_id}").status_code == 401
    auth = {"Authorization": "Bearer s3cret"}
    assert client.delete(f"/v1/images/{media_id}", headers=auth).status_code == 204
    service.close()


def test_health_and_readiness(client: FlaskClient, tmp_path: Path) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    broken, service = make_client(tmp_path, file_root=blocker / "media")
    response = broken.get("/readyz")
    assert response.status_code == 503 and response.get_json()["status"] == "unavailable"
    service.close()


def test_media_route_refuses_traversal(client: FlaskClient) -> None:
    assert client.get("/media/../pyproject.toml").status_code == 404
    assert client.get("/media/%2e%2e/pyproject.toml").status_code == 404
