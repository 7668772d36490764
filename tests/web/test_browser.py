"""A real browser against the real app: srcset selection, layout stability, the upload page.

Debian's chromium (``/usr/bin/chromium``, ``make browser`` installs it) is driven
by playwright; a downloaded browser does not work here. The app runs with file
storage in a real HTTP server on a free loopback port, so every image the browser
shows went through the API, the pipeline, the storage and ``/media``.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, render_template_string
from PIL import Image, ImageDraw

from imgsvc import Settings, create_app

from ..support.browser import (  # noqa: F401
    Live,
    browser_fixture,
    require_chromium,
    serve_app,
    upload,
)

require_chromium()

from playwright.sync_api import Browser, Page, Route, expect  # noqa: E402

pytestmark = pytest.mark.timeout(120)

#: The page the srcset tests load: the helper exactly as a site would call it.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>html, body { margin: 0 } img { display: block; width: 100%; height: auto }</style>
</head><body>{{ responsive_img(image, sizes="100vw", alt="test pattern") }}</body></html>"""

# Quadrant colours, told apart after WebP encoding and scaling.
QUADRANTS = ((220, 30, 30), (30, 180, 40), (30, 40, 220), (240, 220, 20))

IMG_STATE = """() => {
  const img = document.querySelector("img");
  const box = img.getBoundingClientRect();
  return {complete: img.complete, currentSrc: img.currentSrc, naturalWidth: img.naturalWidth,
          naturalHeight: img.naturalHeight, width: box.width, height: box.height};
}"""

# The colour at the centre of each quadrant of the decoded image, read back from a canvas.
QUADRANT_COLOURS = """() => {
  const img = document.querySelector("img");
  const canvas = document.createElement("canvas");
  canvas.width = 40; canvas.height = 20;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0, 40, 20);
  return [[10, 5], [30, 5], [10, 15], [30, 15]].map(
    ([x, y]) => Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3)));
}"""


def pattern_jpeg(width: int = 2400, height: int = 1200) -> bytes:
    """Four coloured quadrants under a fine grid and a diagonal: distinct and not flat."""
    im = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(im)
    half_w, half_h = width // 2, height // 2
    for i, colour in enumerate(QUADRANTS):
        x, y = (i % 2) * half_w, (i // 2) * half_h
        draw.rectangle((x, y, x + half_w - 1, y + half_h - 1), fill=colour)
    for x in range(0, width, 120):
        draw.line((x, 0, x, height), fill=(0, 0, 0), width=2)
    for y in range(0, height, 120):
        draw.line((0, y, width, y), fill=(0, 0, 0), width=2)
    draw.line((0, 0, width, height), fill=(255, 255, 255), width=6)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("browser-media")

    def build(base: str) -> Flask:
        settings = Settings.load({}, file_root=root, public_base_url=f"{base}/media")
        app = create_app(settings)

        @app.get("/test/page/<media_id>")
        def test_page(media_id: str) -> str:
            image = app.extensions["imgsvc"].describe(media_id)
            return render_template_string(PAGE, image=image)

        @app.get("/test/bare/<media_id>")
        def bare_page(media_id: str) -> str:
            """The control: the same img without width and height."""
            image = app.extensions["imgsvc"].describe(media_id)
            html = render_template_string(PAGE, image=image)
            return re.sub(r' (width|height)="\d+"', "", html)

        return app

    with serve_app(build) as served:
        yield served


@pytest.fixture(scope="module")
def stored(live: Live, browser: Browser) -> dict[str, Any]:
    """The pattern, stored through the HTTP API (multipart POST /v1/images)."""
    image = upload(live, browser, "pattern.jpg", pattern_jpeg())
    assert [v["width"] for v in image["variants"]] == [480, 768, 1280, 1920]
    return image


def expected_variant(image: dict[str, Any], viewport: int, dpr: int) -> dict[str, Any]:
    """What the srcset rules select for sizes=100vw: the smallest width >= viewport x DPR,
    else the largest."""
    variants = sorted(image["variants"], key=lambda v: v["width"])
    wide_enough = [v for v in variants if v["width"] >= viewport * dpr]
    return wide_enough[0] if wide_enough else variants[-1]


@pytest.mark.parametrize("dpr", [1, 2])
@pytest.mark.parametrize("viewport", [360, 800, 1400, 2000])
def test_srcset_selection_and_stable_layout(
    live: Live, browser: Browser, stored: dict[str, Any], viewport: int, dpr: int
) -> None:
    want = expected_variant(stored, viewport, dpr)
    # A fresh context per case: a cached larger image would be picked over the right one.
    context = browser.new_context(
        viewport={"width": viewport, "height": 1200}, device_scale_factor=dpr
    )
    try:
        page = context.new_page()
        held: list[Route] = []
        page.route("**/conversions/**", lambda route: held.append(route))  # hold images back
        page.goto(f"{live.base}/test/page/{stored['id']}", wait_until="domcontentloaded")
        _wait_until(page, lambda: bool(held))
        before = page.evaluate(IMG_STATE)
        assert not before["complete"], "the image arrived although its response was held"
        # The box already has its final size: width/height give the aspect ratio.
        assert before["width"] > 0
        assert before["height"] == pytest.approx(
            before["width"] * want["height"] / want["width"], abs=1
        )
        for route in held:
            route.continue_()
        page.wait_for_function(
            "() => { const i = document.querySelector('img');"
            " return i.complete && i.naturalWidth > 0; }"
        )
        after = page.evaluate(IMG_STATE)
        requested = {route.request.url for route in held}
        colours = page.evaluate(QUADRANT_COLOURS)
    finally:
        context.close()

    print(
        f"viewport {viewport} x DPR {dpr}: currentSrc {after['currentSrc'].rsplit('/', 1)[-1]}, "
        f"natural {after['naturalWidth']}x{after['naturalHeight']}, "
        f"box {before['width']:.0f}x{before['height']:.1f} before load, "
        f"{after['width']:.0f}x{after['height']:.1f} after"
    )
    assert after["currentSrc"] == want["url"]
    assert requested == {want["url"]}
    assert (after["width"], after["height"]) == (before["width"], before["height"])
    # With w descriptors the browser reports the density-corrected size: the slot, 100vw.
    assert after["naturalWidth"] == pytest.approx(viewport, abs=1)
    assert after["naturalHeight"] == pytest.approx(viewport * want["height"] / want["width"], abs=1)
    for got, colour in zip(colours, QUADRANTS, strict=True):
        assert max(abs(a - b) for a, b in zip(got, colour, strict=True)) < 60, (got, colour)


def test_layout_check_catches_an_img_without_dimensions(
    live: Live, browser: Browser, stored: dict[str, Any]
) -> None:
    """The control for the test above: without width/height the box grows on load."""
    context = browser.new_context(viewport={"width": 800, "height": 1200})
    try:
        page = context.new_page()
        held: list[Route] = []
        page.route("**/conversions/**", lambda route: held.append(route))
        page.goto(f"{live.base}/test/bare/{stored['id']}", wait_until="domcontentloaded")
        _wait_until(page, lambda: bool(held))
        before = page.evaluate(IMG_STATE)
        for route in held:
            route.continue_()
        page.wait_for_function("() => document.querySelector('img').naturalWidth > 0")
        after = page.evaluate(IMG_STATE)
    finally:
        context.close()
    assert before["height"] < 100 < after["height"] == pytest.approx(400, abs=1)


def _wait_until(page: Page, condition: Any, timeout_ms: int = 10_000) -> None:
    """Poll while letting playwright dispatch its events (route handlers run then)."""
    waited = 0
    while not condition():
        if waited >= timeout_ms:
            raise AssertionError("timed out waiting for the browser")
        page.wait_for_timeout(20)
        waited += 20


def test_upload_page(live: Live, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.base)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{live.base}/")
        page.set_input_files(
            "#file",
            files=[
                {"name": "upload.jpg", "mimeType": "image/jpeg", "buffer": pattern_jpeg(1000, 500)}
            ],
        )
        assert page.inner_text("#file-name").startswith("upload.jpg (")
        page.check("#placeholder")
        page.click("#upload-button")
        page.wait_for_selector("#result .preview img", timeout=20_000)
        page.wait_for_function(
            "() => { const i = document.querySelector('#result img');"
            " return i.complete && i.naturalWidth > 0; }"
        )
        media_id = page.get_attribute("#result [data-media-id]", "data-media-id")
        image = json.loads(page.request.get(f"{live.base}/v1/images/{media_id}").text())

        assert page.inner_text("#status") == "Stored 3 conversions of upload.jpg."
        assert page.inner_text("#srcset-text") == image["srcset"]
        preview = page.locator("#result .preview img")
        assert preview.get_attribute("srcset") == image["srcset"]
        assert preview.evaluate("i => i.currentSrc") in {v["url"] for v in image["variants"]}
        assert preview.evaluate("i => getComputedStyle(i).backgroundImage").startswith(
            'url("data:image/svg+xml'
        )
        snippet = page.inner_text("#snippet-text")
        assert snippet.startswith(f'<img src="{image["src"]}" srcset="{image["srcset"]}"')
        rows = page.locator("table.conversions tbody tr")
        assert rows.count() == 3
        assert rows.nth(2).locator("td").all_inner_texts() == [
            "lg",
            "webp",
            "1000",
            "500",
            f"{image['variants'][2]['bytes']:,}",
        ]

        page.click("button[data-copy='snippet-text']")
        expect(page.locator("button[data-copy='snippet-text']")).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == snippet

        _drop_a_file(page, pattern_jpeg(600, 400))
        page.wait_for_function(
            "id => { const s = document.querySelector('#result [data-media-id]');"
            " return s && s.dataset.mediaId !== id; }",
            arg=media_id,
        )
        assert page.inner_text("#status") == "Stored 2 conversions of dropped.jpg."

        page.set_input_files(
            "#file", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}]
        )
        page.click("#upload-button")
        page.wait_for_selector("#status.is-error")
        assert page.inner_text("#status").startswith("Upload failed: ")
        assert errors == []
    finally:
        context.close()


def _drop_a_file(page: Page, data: bytes) -> None:
    """Dispatch a real drop event carrying a File, as dragging from the desktop does."""
    transfer = page.evaluate_handle(
        """b64 => {
          const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
          const dt = new DataTransfer();
          dt.items.add(new File([bytes], "dropped.jpg", {type: "image/jpeg"}));
          return dt;
        }""",
        base64.b64encode(data).decode(),
    )
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})


def _store(live: Live, browser: Browser, width: int, height: int) -> dict[str, Any]:
    return upload(live, browser, f"lib-{width}.jpg", pattern_jpeg(width, height))


def test_library_view_current_src_and_delete(live: Live, browser: Browser) -> None:
    """The library shows each stored image's smallest conversion; its detail says which
    candidate the browser loaded (the 480 at 360 px, the 1920 once the window is 1400
    px wide); deleting from there removes it from the library and from storage."""
    image = _store(live, browser, 2400, 1200)
    smallest = min(image["variants"], key=lambda v: v["width"])
    by_width = {v["width"]: v["url"] for v in image["variants"]}
    context = browser.new_context(viewport={"width": 360, "height": 900})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{live.base}/")
        thumb = page.locator(f"#library-grid button.thumb[data-media-id='{image['id']}']")
        expect(thumb).to_have_count(1)
        assert thumb.locator("img").get_attribute("src") == smallest["url"]
        listed = page.request.get(f"{live.base}/v1/images?limit=1000").json()["images"]
        assert page.locator("#library-grid button.thumb").count() == min(24, len(listed))

        thumb.click()
        expect(page.locator("#result [data-media-id]")).to_have_attribute(
            "data-media-id", image["id"]
        )
        expect(page.locator("#current-src")).to_have_text(by_width[480])
        page.set_viewport_size({"width": 1400, "height": 900})
        expect(page.locator("#current-src")).to_have_text(by_width[1920])

        delete = page.locator("#result button[data-delete]")
        delete.click()
        expect(delete).to_have_text("Click again to delete")
        assert page.request.get(f"{live.base}/v1/images/{image['id']}").status == 200
        delete.click()
        expect(page.locator("#status")).to_have_text(f"Deleted {image['id']}.")
        expect(thumb).to_have_count(0)
        assert page.request.get(f"{live.base}/v1/images/{image['id']}").status == 404
        assert errors == []
    finally:
        context.close()
