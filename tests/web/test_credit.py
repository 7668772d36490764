"""The credit of an upload (issue 12): read from IPTC IIM and XMP at upload, stored in
the manifest, answered in the description; hostile metadata ignored. Stored outputs
carry the three rights fields and nothing else (``keep_rights_metadata``)."""

from __future__ import annotations

import io

from flask.testing import FlaskClient
from PIL import Image

from imgsvc.pipeline.rights import read_credit
from imgsvc.service import ImageService
from imgsvc.settings import Settings

from ..pipeline.test_rights import BOMB, FULL, FULL_XMP, XXE
from ..support import metadata as md


def _post(client: FlaskClient, data: bytes) -> dict[str, object]:
    answer = client.post("/v1/images", data={"file": (io.BytesIO(data), "agency.jpg")})
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert isinstance(body, dict)
    return body


def test_the_upload_answers_the_credit_and_keeps_it(
    client: FlaskClient, service: ImageService, settings: Settings
) -> None:
    body = _post(
        client, md.jpeg(fields={(2, 80): [b"IIM name"]}, packet=FULL_XMP, exif=md.camera_exif())
    )
    assert body["credit"] == FULL.to_dict()  # XMP wins over IIM field by field
    media_id = str(body["id"])
    assert service.describe(media_id)["credit"] == FULL.to_dict()  # from the manifest
    assert client.get(f"/v1/images/{media_id}").get_json()["credit"] == FULL.to_dict()
    for variant in service.describe(media_id)["variants"]:
        with Image.open(settings.file_root / variant["key"]) as im:
            assert not im.getexif()  # no camera, no GPS
            assert read_credit(im) == FULL.rights()  # creator, credit, copyright only


def test_hostile_metadata_is_ignored_and_the_upload_converted(client: FlaskClient) -> None:
    for packet in (BOMB, XXE):
        body = _post(client, md.jpeg(fields={(2, 116): [b"(c) Agency"]}, packet=packet))
        assert body["credit"] == {"copyright": "(c) Agency"}
        assert "root:" not in str(body)


def test_no_metadata_answers_an_empty_credit(client: FlaskClient) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (1, 2, 3)).save(buf, "JPEG")
    assert _post(client, buf.getvalue())["credit"] == {}
