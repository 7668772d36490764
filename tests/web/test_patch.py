"""``PATCH /v1/images/{id}`` over HTTP (issue 12): the editor's focus moves the crops,
and only the crops; the main set's objects are not rewritten; old crop objects go
after the new manifest; a webhook announces exactly what changed; bad bodies are
4xx JSON errors that change nothing."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image, ImageDraw

from imgsvc import ImageService, Settings, create_app
from imgsvc.describe import manifest_keys
from imgsvc.runtime import events
from imgsvc.storage import FileStorage

from ..support import images
from ..support.receiver import Receiver, receiver

CROPS = [
    {"name": "square", "aspect": "1:1"},
    {"name": "social", "aspect": "1200:630", "widths": [1200], "formats": ["jpeg"]},
]
TOKEN = "editor-token"


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.fixture
def settings(tmp_path: Path, hook: Receiver) -> Settings:
    return Settings.load(
        {},
        file_root=tmp_path / "media",
        crops=CROPS,
        api_tokens=(TOKEN,),
        webhook_url=hook.url,
        webhook_secret="s",
    )


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def photo() -> bytes:
    """A wide grey photo, a red square near its right edge."""
    im = Image.new("RGB", (3000, 1500), (128, 128, 128))
    ImageDraw.Draw(im).rectangle((2700, 600, 2800, 700), fill=(230, 20, 20))
    return images.encode(im, "JPEG", quality=92)


def upload(client: FlaskClient, **form: str) -> dict[str, Any]:
    answer = client.post(
        "/v1/images", data={"file": (io.BytesIO(photo()), "photo.jpg"), **form}, headers=AUTH
    )
    assert answer.status_code == 201, answer.get_json()
    body: dict[str, Any] = answer.get_json()
    return body


def stored(settings: Settings) -> dict[str, int]:
    """Every stored object and the nanosecond it was last written."""
    root = settings.file_root
    return {
        str(p.relative_to(root)): p.stat().st_mtime_ns
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    }


def crop_urls(body: dict[str, Any]) -> set[str]:
    return {v["url"] for c in body["crops"].values() for v in c["variants"]}


def test_the_upload_takes_a_focus_and_the_crops_contain_it(client: FlaskClient) -> None:
    body = upload(client, focus="0.9,0.4333,0.0333,0.0667")
    assert body["focus"] == {"x": 0.9, "y": 0.4333, "w": 0.0333, "h": 0.0667, "source": "editor"}
    square = body["crops"]["square"]
    assert square["box"] == [1500, 0, 3000, 1500] and (square["width"], square["height"]) == (
        1500,
        1500,
    )
    assert square["format"] == "webp" and square["srcset"].endswith(" 1500w")
    social = body["crops"]["social"]
    assert social["format"] == "jpeg" and social["src"].endswith("___jpeg_1200.jpg")
    assert [(v["width"], v["height"]) for v in social["variants"]] == [(1200, 630)]


def test_patch_moves_only_the_crops(
    client: FlaskClient, settings: Settings, service: ImageService, hook: Receiver
) -> None:
    before = upload(client, focus="0.9,0.4333")
    hook.wait_for(1)
    objects = stored(settings)
    answer = client.patch(f"/v1/images/{before['id']}", json={"focus": "0.05,0.5"}, headers=AUTH)
    assert answer.status_code == 200, answer.get_json()
    after = answer.get_json()
    assert after["focus"] == {"x": 0.05, "y": 0.5, "w": 0.0, "h": 0.0, "source": "editor"}
    assert after["crops"]["square"]["box"] == [0, 0, 1500, 1500]
    assert after == client.get(f"/v1/images/{before['id']}").get_json()
    # The main set: same keys, same bytes, not written again.
    assert after["variants"] == before["variants"]
    now = stored(settings)
    for v in before["variants"]:
        key = v["key"]
        assert now[key] == objects[key], f"{key} was rewritten"
    # The square moved: new keys, old ones removed; nothing else is stored.
    old, new = crop_urls(before), crop_urls(after)
    assert old.isdisjoint(new)
    manifest = service.manifest(before["id"])
    assert set(now) == manifest_keys(manifest) | {f"media/{before['id']}/manifest.json"}
    # The square's pixels: the left half of the photo, grey, no red.
    square = max(after["crops"]["square"]["variants"], key=lambda v: v["width"])
    im = Image.open(settings.file_root / square["key"]).convert("RGB")
    assert im.size == (1500, 1500) and max(im.getchannel("R").getextrema()) < 160
    # The webhook: image.updated, the new crop URLs changed, the old ones removed.
    created, updated = (r.json() for r in hook.wait_for(2))
    assert created["type"] == events.CREATED
    assert updated["type"] == events.UPDATED and updated["id"] == before["id"]
    changed = set(updated["changed"])
    assert {u.rsplit("/media/", 1)[1] for u in new} <= {u.rsplit("/media/", 1)[1] for u in changed}
    assert not any("/conversions/" in u for u in changed)
    assert {u.rsplit("/media/", 1)[1] for u in old} == {
        u.rsplit("/media/", 1)[1] for u in updated["removed"]
    }


def test_patch_null_goes_back_to_the_found_focus(client: FlaskClient) -> None:
    body = upload(client, focus="0.05,0.5")
    answer = client.patch(f"/v1/images/{body['id']}", json={"focus": None}, headers=AUTH)
    assert answer.status_code == 200
    assert answer.get_json()["focus"]["source"] in ("faces", "attention", "centre")


def test_the_same_focus_again_changes_nothing(client: FlaskClient, settings: Settings) -> None:
    body = upload(client, focus="0.5,0.5")
    objects = stored(settings)
    answer = client.patch(f"/v1/images/{body['id']}", json={"focus": "0.5,0.5"}, headers=AUTH)
    assert answer.status_code == 200 and answer.get_json() == body
    assert stored(settings) == objects


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"data": "not json"}, "invalid_json"),
        ({"json": ["0.5,0.5"]}, "invalid_json"),
        ({"json": {}}, "invalid_json"),
        ({"json": {"focus": "0.5,0.5", "crop": "x"}}, "invalid_json"),
        ({"json": {"focus": 0.5}}, "invalid_focus"),
        ({"json": {"focus": "0.5"}}, "invalid_focus"),
        ({"json": {"focus": "1.5,0.5"}}, "invalid_focus"),
        ({"json": {"focus": "0.9,0.5,0.2,0.1"}}, "invalid_focus"),  # the box leaves the image
        ({"json": {"focus": "nan,0.5"}}, "invalid_focus"),
        ({"json": {"focus": "0.5," * 500}}, "invalid_focus"),
    ],
)
def test_bad_bodies_are_400s_that_change_nothing(
    client: FlaskClient, settings: Settings, payload: dict[str, Any], code: str
) -> None:
    body = upload(client)
    objects = stored(settings)
    answer = client.patch(f"/v1/images/{body['id']}", headers=AUTH, **payload)
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert error["code"] == code and error["message"]
    assert stored(settings) == objects


def test_a_huge_patch_body_is_a_413(client: FlaskClient, settings: Settings) -> None:
    body = upload(client)
    objects = stored(settings)
    answer = client.patch(
        f"/v1/images/{body['id']}", json={"focus": "0.5,0.5" + " " * 10_000}, headers=AUTH
    )
    assert answer.status_code == 413 and answer.get_json()["error"]["code"] == "too_large"
    assert stored(settings) == objects


def test_a_bad_upload_focus_is_a_400_and_stores_nothing(
    client: FlaskClient, settings: Settings
) -> None:
    answer = client.post(
        "/v1/images",
        data={"file": (io.BytesIO(photo()), "photo.jpg"), "focus": "0.5;0.5"},
        headers=AUTH,
    )
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "invalid_focus"
    assert stored(settings) == {}


def test_patch_needs_the_write_token_and_an_image(client: FlaskClient) -> None:
    body = upload(client)
    url = f"/v1/images/{body['id']}"
    assert client.patch(url, json={"focus": "0.5,0.5"}).status_code == 401
    missing = client.patch(
        "/v1/images/00000000-0000-4000-8000-000000000000", json={"focus": "0.5,0.5"}, headers=AUTH
    )
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    assert (
        client.patch("/v1/images/not-a-uuid", json={"focus": "0.5,0.5"}, headers=AUTH).status_code
        == 404
    )


def test_reconvert_keeps_the_editors_focus_and_adds_a_new_crop(tmp_path: Path) -> None:
    """The fingerprint holds the crop profiles: a library made without a crop is
    outdated once one is configured, and re-converting adds it around the focus the
    editor chose."""
    root = tmp_path / "media"
    plain = ImageService(Settings.load({}, file_root=root), FileStorage(root))
    made = plain.ingest(photo(), "photo.jpg", focus=None)
    plain.close()
    assert made["crops"] == {} and made["focus"]["source"] == "centre"  # nothing looked for
    editing = ImageService(Settings.load({}, file_root=root, crops=CROPS[:1]), FileStorage(root))
    try:
        client = create_app(service=editing).test_client()
        assert not editing.is_current(editing.manifest(made["id"]))
        answer = client.patch(f"/v1/images/{made['id']}", json={"focus": "0.95,0.45"})
        assert answer.status_code == 200
        assert answer.get_json()["crops"]["square"]["box"] == [1500, 0, 3000, 1500]
        again = editing.reconvert(made["id"])
        assert again["focus"]["source"] == "editor" and again["focus"]["x"] == 0.95
        assert again["crops"]["square"]["box"] == [1500, 0, 3000, 1500]
        assert editing.is_current(editing.manifest(made["id"]))
        manifest = json.loads((root / f"media/{made['id']}/manifest.json").read_text())
        assert manifest["focus"]["source"] == "editor"
    finally:
        editing.close()


def test_without_crops_a_patch_changes_only_the_manifests_focus(tmp_path: Path) -> None:
    """No byte depends on the focus without crops: the PATCH rewrites the manifest alone
    (every object as it was, nothing converted again), and fit="cover" follows it."""
    root = tmp_path / "media"
    service = ImageService(Settings.load({}, file_root=root), FileStorage(root))
    try:
        client = create_app(service=service).test_client()
        made = upload(client)
        settings = service.settings
        objects = stored(settings)
        converted = service.metrics.stage_seconds.labels("convert")._sum.get()
        answer = client.patch(f"/v1/images/{made['id']}", json={"focus": "0.9,0.4"})
        assert answer.status_code == 200
        body = answer.get_json()
        assert body["focus"] == {"x": 0.9, "y": 0.4, "w": 0.0, "h": 0.0, "source": "editor"}
        assert {**body, "focus": made["focus"]} == made
        now = stored(settings)
        manifest = f"media/{made['id']}/manifest.json"
        assert {k: v for k, v in now.items() if k != manifest} == {
            k: v for k, v in objects.items() if k != manifest
        }
        assert now[manifest] != objects[manifest]
        assert service.metrics.stage_seconds.labels("convert")._sum.get() == converted
        assert json.loads((root / manifest).read_text())["focus"]["x"] == 0.9
    finally:
        service.close()
