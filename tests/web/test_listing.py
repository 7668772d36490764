"""GET /v1/images and `imgsvc list`: the library in listing order, page by page."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from imgsvc import ImageService, create_app
from imgsvc.cli import cli
from imgsvc.storage.keys import image_prefix

from ..support import images


def upload(client: FlaskClient, n: int) -> list[str]:
    ids = []
    for i in range(n):
        data = images.solid((500 + i, 300), (10 * i, 80, 120))
        form = {"file": (io.BytesIO(data), f"p{i}.jpg")}
        ids.append(client.post("/v1/images", data=form).get_json()["id"])
    return sorted(ids)


def pages(client: FlaskClient, limit: int) -> list[dict[str, Any]]:
    out, cursor = [], None
    while True:
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(f"/v1/images{query}")
        assert response.status_code == 200, response.get_json()
        out.append(response.get_json())
        cursor = out[-1]["next_cursor"]
        if cursor is None:
            return out


@pytest.fixture(params=["file", "s3"])
def library(request: pytest.FixtureRequest) -> ImageService:
    name = "service" if request.param == "file" else "s3_service"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


def test_pages_cover_the_library_once_in_order(library: ImageService) -> None:
    client = create_app(service=library).test_client()
    ids = upload(client, 5)
    got = pages(client, 2)
    assert [len(p["images"]) for p in got] == [2, 2, 1]
    listed = [image["id"] for p in got for image in p["images"]]
    assert listed == ids
    first = got[0]["images"][0]
    assert first == client.get(f"/v1/images/{first['id']}").get_json()


def test_default_page_and_ids_without_a_manifest_are_passed_over(
    client: FlaskClient, service: ImageService
) -> None:
    ids = upload(client, 3)
    leftover = "00000000-0000-4000-8000-000000000000"  # sorts first: an upload in flight
    service.storage.put(f"{image_prefix('media', leftover)}x.jpg", b"x", "image/jpeg")
    body = client.get("/v1/images").get_json()
    assert [i["id"] for i in body["images"]] == ids
    assert body["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("limit=0", "invalid_limit"),
        ("limit=1001", "invalid_limit"),
        ("limit=ten", "invalid_limit"),
        ("cursor=not-a-cursor", "invalid_cursor"),
        ("cursor=bm90IGEgdXVpZA", "invalid_cursor"),  # base64 of "not a uuid"
    ],
)
def test_bad_limits_and_cursors_are_400(client: FlaskClient, query: str, code: str) -> None:
    response = client.get(f"/v1/images?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code


def test_imgsvc_list_prints_id_and_srcset(client: FlaskClient, tmp_path: Path) -> None:
    ids = upload(client, 3)
    env = {"IMGSVC_FILE_ROOT": str(tmp_path / "media")}
    result = CliRunner().invoke(cli, ["list"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ids
    assert all(line.split(" ", 1)[1].startswith("/media/media/") for line in lines)
    limited = CliRunner().invoke(cli, ["list", "--limit", "2"], env=env)
    assert limited.output.splitlines() == lines[:2]
