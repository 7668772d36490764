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

from flask import Flask
from flask.testing import FlaskClient
from PIL import Image, ImageDraw

from imgsvc import ImageService, Settings, create_app
from imgsvc.storage import FileStorage
from imgsvc.templating import ImageHelpers

VOID = frozenset({"img", "input", "source", "br", "meta", "link", "hr"})


@dataclass(eq=False)
class Node:
    """An element of the fragment, as a browser's DOM would hold it (entities decoded)."""

    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
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
