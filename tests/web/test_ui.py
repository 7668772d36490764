"""The upload page and its result fragment, through Flask's test client.

The browser drives the same page in ``test_browser.py``; here the server side is
pinned: what the page links to, and that the fragment is the helpers' markup.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image, ImageDraw

from imgsvc import ImageService, Settings, create_app
from imgsvc.storage import FileStorage
from imgsvc.templating import ImageHelpers

from ..support import metadata as md

VOID = frozenset({"img", "input", "source", "br", "meta", "link", "hr"})


@dataclass(eq=False)
class Node:
    """An element of the fragment, as a browser's DOM would hold it (entities decoded)."""

    tag: str
    attrs: dict[str, str]
    parent: Node | None = field(default=None, repr=False)
    children: list[Node] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # every text inside, in order

    def __getitem__(self, name: str) -> str:
        return self.attrs[name]

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    @property
    def text(self) -> str:
        return " ".join("".join(self.texts).split())

    def iter(self) -> Iterator[Node]:
        for child in self.children:
            yield child
            yield from child.iter()

    def find_all(
        self, tag: str | None = None, class_: str | None = None, **attrs: str
    ) -> list[Node]:
        return [
            n
            for n in self.iter()
            if (tag is None or n.tag == tag)
            and (class_ is None or class_ in n.classes)
            and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def find(self, tag: str | None = None, class_: str | None = None, **attrs: str) -> Node | None:
        found = self.find_all(tag, class_, **attrs)
        return found[0] if found else None

    def one(self, tag: str | None = None, class_: str | None = None, **attrs: str) -> Node:
        """The one element that matches; fails when there is none or several."""
        found = self.find_all(tag, class_, **attrs)
        assert len(found) == 1, f"{len(found)} matches for {tag} {class_} {attrs}"
        return found[0]

    def inside(self, class_: str) -> bool:
        node = self.parent
        while node is not None and class_ not in node.classes:
            node = node.parent
        return node is not None


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.open[-1])
        self.open[-1].children.append(node)
        if tag not in VOID:
            self.open.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.open[-1].tag == tag, f"</{tag}> closes <{self.open[-1].tag}>"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        for node in self.open:
            node.texts.append(data)


def parse(html: str) -> Node:
    """The fragment as a tree; fails on a tag closed out of order."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.open == [builder.root], "unclosed elements"
    return builder.root


def jpeg(width: int = 1000, height: int = 500) -> bytes:
    im = Image.new("RGB", (width, height), (40, 90, 160))
    ImageDraw.Draw(im).rectangle((0, 0, width // 2, height // 2), fill=(230, 60, 30))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def upload(client: FlaskClient, name: str = "photo.jpg", **headers: str) -> dict:
    response = client.post("/v1/images", data={"file": (io.BytesIO(jpeg()), name)}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[return-value]


def test_upload_page_is_a_plain_form_on_package_files(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.text
    assert 'action="/v1/images"' in html and 'enctype="multipart/form-data"' in html
    assert re.search(r'<input id="file" name="file" type="file"', html)
    assert 'data-fragment="/ui/images/__ID__"' in html
    assert '<option value="article">' in html  # the sizes presets are offered
    assert 'id="token"' not in html  # writes are open: no token field
    links = re.findall(r'(?:href|src)="([^"]+)"', html)
    assert all(link.startswith(("/", "data:")) for link in links)  # nothing from elsewhere
    assets = [link for link in links if link.startswith("/")]
    assert sorted(assets) == ["/ui/static/upload.css", "/ui/static/upload.js"]
    for asset, mimetype in zip(sorted(assets), ("text/css", "text/javascript"), strict=True):
        response = client.get(asset)
        assert response.status_code == 200 and response.mimetype == mimetype
        assert b"http://" not in response.data and b"https://" not in response.data  # no CDN


def test_token_field_when_writes_need_a_token(tmp_path: Path) -> None:
    settings = Settings.load({}, file_root=tmp_path, api_tokens=("s3cret",))
    app = create_app(settings)
    assert 'id="token"' in app.test_client().get("/").text


def test_fragment_shows_the_helpers_markup(app: Flask, client: FlaskClient) -> None:
    image = upload(client, "holiday photo.jpg")
    response = client.get(f"/ui/images/{image['id']}")
    assert response.status_code == 200
    html = response.text
    helpers = ImageHelpers.from_settings(app.extensions["imgsvc"].settings)
    img = helpers.responsive_img(image)
    assert f'<div class="focus-frame" title="Click to set the focal point">{img}' in html
    assert f'<code id="srcset-text">{image["srcset"]}</code>' in html
    snippet = str(img).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert f'<code id="snippet-text">{snippet.replace(chr(34), "&#34;")}</code>' in html
    assert html.count('data-copy="') == 2
    rows = re.findall(r"<tr>\s*<td><a href=\"([^\"]+)\">(\w+)</a></td>(.*?)</tr>", html, re.S)
    assert [size for _, size, _ in rows] == ["sm", "md", "lg"]
    for (url, _, cells), v in zip(rows, image["variants"], strict=True):
        assert url == v["url"]
        numbers = re.findall(r'<td class="num"[^>]*>([\d,]+)</td>', cells)
        assert numbers == [str(v["width"]), str(v["height"]), f"{v['bytes']:,}"]


def test_fragment_takes_a_sizes_preset_and_the_placeholder(client: FlaskClient) -> None:
    image = upload(client)
    html = client.get(f"/ui/images/{image['id']}?sizes=article&placeholder=1").text
    assert 'sizes="(min-width: 1024px) 720px, 100vw"' in html
    preview = parse(html).find("img")
    assert preview is not None and preview.inside("focus-frame")
    assert preview["style"].startswith(f"background-color:{image['placeholder']['color']};")
    plain = parse(client.get(f"/ui/images/{image['id']}").text).find("img")
    assert plain is not None and plain["sizes"] == "100vw" and "style" not in plain.attrs


def test_fragment_escapes_what_the_query_brings(client: FlaskClient) -> None:
    image = upload(client)
    html = client.get(f"/ui/images/{image['id']}", query_string={"sizes": '"><b>x'}).text
    assert "<b>x" not in html
    assert 'sizes="&#34;&gt;&lt;b&gt;x"' in html


def test_fragment_of_an_unknown_image_is_404(client: FlaskClient) -> None:
    for media_id in ("8d1f8a55-4f7c-4a26-9a3e-08b1b8c3b0a1", "not-a-uuid"):
        response = client.get(f"/ui/images/{media_id}")
        assert response.status_code == 404
        assert response.json["error"]["code"] == "not_found"


def test_fragment_lists_every_format(tmp_path: Path) -> None:
    settings = Settings.load({}, file_root=tmp_path, formats=("webp", "avif"))
    service = ImageService(settings, FileStorage(settings.file_root))
    try:
        client = create_app(service=service).test_client()
        image = upload(client)
        html = client.get(f"/ui/images/{image['id']}").text
    finally:
        service.close()
    formats = re.findall(r"</a></td>\s*<td>(\w+)</td>", html)
    assert formats == ["avif"] * 3 + ["webp"] * 3


HOSTILE = '<script>alert("x")</script> & "quoted" <b>'


def test_fragment_shows_the_credit_as_read_only_fields(client: FlaskClient) -> None:
    """Only the fields the source carries, in caption order, as read-only fields whose
    values are the credit exactly (the parser decodes entities, as a browser does)."""
    fields = {
        (1, 90): [md.UTF8],
        (2, 80): ["Zoë Ångström".encode()],
        (2, 116): [HOSTILE.encode()],
        (2, 120): [f"A caption: {HOSTILE}".encode()],
    }
    answer = client.post("/v1/images", data={"file": (io.BytesIO(md.jpeg(fields=fields)), "a.jpg")})
    assert answer.status_code == 201, answer.json
    image = answer.json
    assert image["credit"] == {
        "creator": "Zoë Ångström",
        "copyright": HOSTILE,
        "caption": f"A caption: {HOSTILE}",
    }
    html = client.get(f"/ui/images/{image['id']}").text
    assert "<script>" not in html and "<b>" not in html  # escaped, not markup
    fieldset = parse(html).find("fieldset", "credit")
    assert fieldset is not None
    assert [label.text for label in fieldset.find_all("label")] == [
        "Creator",
        "Copyright",
        "Caption",
    ]
    controls = [n for n in fieldset.iter() if n.tag in ("input", "textarea")]
    assert [(n.tag, n["id"], n["name"]) for n in controls] == [
        ("input", "credit-creator", "creator"),
        ("input", "credit-copyright", "copyright"),
        ("textarea", "credit-caption", "caption"),
    ]
    assert all("readonly" in n.attrs for n in controls)
    assert controls[0]["value"] == "Zoë Ångström"
    assert controls[1]["value"] == HOSTILE
    assert "".join(controls[2].texts) == f"A caption: {HOSTILE}"
    for label in fieldset.find_all("label"):
        assert fieldset.find(id=label["for"]) is not None


def test_fragment_without_credit_has_no_credit_fields(client: FlaskClient) -> None:
    image = upload(client)
    assert image["credit"] == {}
    html = client.get(f"/ui/images/{image['id']}").text
    assert parse(html).find("fieldset") is None and "credit-" not in html


def fragment_with(
    client: FlaskClient, service: ImageService, monkeypatch: pytest.MonkeyPatch, **extra: Any
) -> Node:
    """The fragment of a fresh upload whose description also carries ``extra``: what a
    manifest edited in the bucket (or written by another version) would answer."""
    image = upload(client)
    real = service.describe

    def describe(media_id: str, base_url: str | None = None) -> dict[str, Any]:
        return {**real(media_id, base_url), **extra}

    monkeypatch.setattr(service, "describe", describe)
    return parse(client.get(f"/ui/images/{image['id']}").text)


def test_focus_marker_and_box_in_percent_of_the_preview(
    client: FlaskClient, service: ImageService, monkeypatch: pytest.MonkeyPatch
) -> None:
    focus = {"x": 0.1, "y": 0.2, "w": 0.4, "h": 0.5, "source": "faces"}
    tree = fragment_with(client, service, monkeypatch, focus=focus)
    frame = tree.find("div", "focus-frame")
    assert frame is not None and frame.children[0].tag == "img"  # the helper's markup first
    marker, box = frame.find("span", "focus-marker"), frame.find("span", "focus-box")
    assert marker is not None and box is not None
    assert marker["style"] == "left:30.0%;top:45.0%"  # the centre of the box
    assert marker["data-source"] == "faces"
    assert box["style"] == "left:10.0%;top:20.0%;width:40.0%;height:50.0%"
    assert tree.one(id="focus-value").text == "0.3, 0.45"
    assert tree.one(id="focus-source").text == "faces"
    form = tree.find("form", id="focus-form")
    assert form is not None
    inputs = {n["name"]: n for n in form.find_all("input")}
    assert {k: (n["type"], n["min"], n["max"], n["value"]) for k, n in inputs.items()} == {
        "x": ("number", "0", "1", "0.3"),
        "y": ("number", "0", "1", "0.45"),
    }
    assert form.find("button", type="submit") is not None
    assert tree.find(id="focus-reset") is None  # already the detected focus


def test_an_editors_point_has_a_marker_and_a_way_back(
    client: FlaskClient, service: ImageService, monkeypatch: pytest.MonkeyPatch
) -> None:
    focus = {"x": 0.25, "y": 0.75, "w": 0, "h": 0, "source": "editor"}
    tree = fragment_with(client, service, monkeypatch, focus=focus)
    marker = tree.find("span", "focus-marker")
    assert marker is not None and marker["style"] == "left:25.0%;top:75.0%"
    assert tree.find("span", "focus-box") is None  # a point has no box
    assert tree.find("button", id="focus-reset") is not None


@pytest.mark.parametrize(
    "focus",
    [
        None,
        "0.5,0.5",
        {"x": "1);background:url(//evil)", "y": 0.5, "source": "editor"},
        {"x": float("nan"), "y": 0.5, "source": "editor"},
        {"x": 1.5, "y": 0.5, "source": "editor"},
        {"x": -0.1, "y": 0.5, "source": "editor"},
    ],
)
def test_no_marker_for_a_missing_or_unusable_focus(
    client: FlaskClient, service: ImageService, monkeypatch: pytest.MonkeyPatch, focus: object
) -> None:
    tree = fragment_with(client, service, monkeypatch, focus=focus)
    assert tree.find(class_="focus-marker") is None and tree.find(class_="focus-box") is None
    assert not any("evil" in value for n in tree.iter() for value in n.attrs.values())
    assert "No focus stored" in tree.one(id="focus-caption").text
    assert tree.find("form", id="focus-form") is not None  # it can still be set


def test_an_unknown_source_is_not_echoed(
    client: FlaskClient, service: ImageService, monkeypatch: pytest.MonkeyPatch
) -> None:
    focus = {"x": 0.5, "y": 0.5, "source": '"><img src=x onerror=alert(1)>'}
    tree = fragment_with(client, service, monkeypatch, focus=focus)
    assert tree.one("span", "focus-marker")["data-source"] == "unknown"
    assert not any("onerror" in n.attrs for n in tree.iter())


def _crop(name: str, width: int, height: int, aspect: str) -> dict[str, Any]:
    """A crop entry as the description carries it (two WebP widths)."""
    base = f"http://localhost/media/x/conversions/{name}"
    variants = [
        {
            "size": str(w),
            "width": w,
            "height": w * height // width,
            "format": "webp",
            "bytes": 9,
            "key": f"x/{name}-{w}.webp",
            "url": f"{base}-{w}.webp",
        }
        for w in (width // 2, width)
    ]
    return {
        "aspect": aspect,
        "box": [10, 20, 10 + width, 20 + height],
        "width": width,
        "height": height,
        "format": "webp",
        "srcset": ", ".join(f"{v['url']} {v['width']}w" for v in variants),
        "src": variants[-1]["url"],
        "variants": variants,
    }


def test_crops_side_by_side_with_the_helpers_markup(
    app: Flask, client: FlaskClient, service: ImageService, monkeypatch: pytest.MonkeyPatch
) -> None:
    crops = {"wide": _crop("wide", 960, 540, "16:9"), "square": _crop("square", 500, 500, "1:1")}
    tree = fragment_with(client, service, monkeypatch, crops=crops)
    image = service.describe(tree.one("section")["data-media-id"])
    helpers = ImageHelpers.from_settings(app.extensions["imgsvc"].settings)
    figures = tree.find_all("figure", "crop")
    assert [f["data-crop"] for f in figures] == ["square", "wide"]  # by name
    for figure, (name, sizes) in zip(
        figures, [("square", "160px"), ("wide", "284px")], strict=True
    ):
        crop = crops[name]
        img = figure.find("img")
        assert img is not None and img["srcset"] == crop["srcset"] and img["src"] == crop["src"]
        assert (img["width"], img["height"], img["sizes"]) == (
            str(crop["width"]),
            str(crop["height"]),
            sizes,  # shown 160 px high: the slot is that wide
        )
        caption = figure.find("figcaption")
        assert caption is not None
        assert caption.one(class_="crop-name").text == name
        assert caption.one(class_="crop-aspect").text == crop["aspect"]
        assert (
            caption.one(class_="crop-size").text
            == f"{crop['width']} \N{MULTIPLICATION SIGN} {crop['height']}"
        )
        snippet = figure.find("code", "crop-snippet")
        expected = helpers.responsive_img(image, crop=name, sizes=sizes)
        assert snippet is not None and "".join(snippet.texts) == str(expected)
    html = client.get(f"/ui/images/{image['id']}").text
    for name, sizes in (("square", "160px"), ("wide", "284px")):
        assert str(helpers.responsive_img(image, crop=name, sizes=sizes)) in html  # verbatim


def test_no_crop_figures_without_crops(
    client: FlaskClient, service: ImageService, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = {
        "bad": {"width": "wide", "height": 1},
        "zero": {**_crop("zero", 10, 10, "1:1"), "height": 0},
    }
    for crops in ({}, None, broken):
        tree = fragment_with(client, service, monkeypatch, crops=crops)
        assert tree.find("figure", "crop") is None
        assert "No [[crops]] profiles are configured" in tree.text
        monkeypatch.undo()


def test_the_main_set_covered_in_css_at_the_focus(
    app: Flask, client: FlaskClient, service: ImageService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The square that CSS crops: responsive_img(image, fit="cover") verbatim, drawn as
    wide as the 2:1 upload is at 160 px high."""
    focus = {"x": 0.25, "y": 0.75, "w": 0, "h": 0, "source": "editor"}
    tree = fragment_with(client, service, monkeypatch, focus=focus)
    image = service.describe(tree.one("section")["data-media-id"], "http://localhost/media")
    helpers = ImageHelpers.from_settings(app.extensions["imgsvc"].settings)
    expected = helpers.responsive_img(image, sizes="320px", fit="cover")
    cover = tree.one("figure", "cover")
    img = cover.one("img")
    assert img["sizes"] == "320px"
    assert "object-fit: cover; object-position: 25% 75%" in img["style"]
    assert "".join(cover.one("code", "cover-snippet").texts) == str(expected)


def test_fragment_of_an_upload_with_crops_and_an_editors_focus(tmp_path: Path) -> None:
    """Through the real pipeline: the focus given at upload and the crops it placed."""
    crops = [{"name": "square", "aspect": "1:1"}, {"name": "social", "aspect": "1200:630"}]
    settings = Settings.load({}, file_root=tmp_path, crops=crops)
    service = ImageService(settings, FileStorage(settings.file_root))
    try:
        client = create_app(service=service).test_client()
        data = {"file": (io.BytesIO(jpeg()), "p.jpg"), "focus": "0.25,0.5"}
        answer = client.post("/v1/images", data=data)
        assert answer.status_code == 201, answer.json
        image = answer.json
        html = client.get(f"/ui/images/{image['id']}").text
        helpers = ImageHelpers.from_settings(settings)
    finally:
        service.close()
    assert image["focus"] == {"x": 0.25, "y": 0.5, "w": 0.0, "h": 0.0, "source": "editor"}
    tree = parse(html)
    assert tree.one("span", "focus-marker")["style"] == "left:25.0%;top:50.0%"
    assert tree.one(id="focus-source").text == "editor"
    figures = tree.find_all("figure", "crop")
    assert [f["data-crop"] for f in figures] == ["social", "square"]
    for figure in figures:
        crop = image["crops"][figure["data-crop"]]
        sizes = f"{round(160 * crop['width'] / crop['height'])}px"
        markup = helpers.responsive_img(image, crop=figure["data-crop"], sizes=sizes)
        assert str(markup) in html
        assert figure.one("img")["srcset"] == crop["srcset"]
        size = f"{crop['width']} \N{MULTIPLICATION SIGN} {crop['height']}"
        assert figure.one(class_="crop-size").text == size
        assert figure.one(class_="crop-aspect").text == crop["aspect"]
