"""Art direction in a real browser: picture(image, art=[("(max-width: 600px)", "square")])
loads the square crop on a phone and the main set on a desktop.

Headless Debian chromium (tests/support/browser.py) against the real app: file
storage, a ``square`` ``[[crops]]`` profile, a photo uploaded through
``POST /v1/images``, so every file the browser loads went through the pipeline, the
storage and ``/media``. The photo is blue with a red band in its middle half; the
square crop (around an editor's focus at the centre) is that band, so the decoded
pixels near the left edge say which set the browser chose.
"""

from __future__ import annotations

import io
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

from playwright.sync_api import Browser, Route  # noqa: E402

pytestmark = pytest.mark.timeout(120)

MEDIA = "(max-width: 600px)"
PAGE = """<!doctype html>
<html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>html, body { margin: 0 } img { display: block; width: 100%; height: auto }</style>
</head><body>{{ picture(image, sizes="100vw", alt="art", art=art) }}</body></html>"""
BLUE, RED = (30, 40, 220), (220, 30, 30)
WIDTH, HEIGHT = 2400, 1200

LOADED = (
    "() => { const i = document.querySelector('img'); return i.complete && i.naturalWidth > 0; }"
)
# The box, and the colour of the decoded image at 5% of its width, halfway down.
STATE = """() => {
  const img = document.querySelector("img");
  const box = img.getBoundingClientRect();
  const canvas = document.createElement("canvas");
  canvas.width = 40; canvas.height = 40;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0, 40, 40);
  return {currentSrc: img.currentSrc, width: box.width, height: box.height,
          edge: Array.from(ctx.getImageData(2, 20, 1, 1).data.slice(0, 3))};
}"""


def band_jpeg() -> bytes:
    """Blue, with a red band over the middle half of the width."""
    im = Image.new("RGB", (WIDTH, HEIGHT), BLUE)
    ImageDraw.Draw(im).rectangle((WIDTH // 4, 0, 3 * WIDTH // 4 - 1, HEIGHT - 1), fill=RED)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=92)
    return buf.getvalue()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("art-media")

    def build(base: str) -> Flask:
        settings = Settings.load(
            {},
            file_root=root,
            public_base_url=f"{base}/media",
            crops=[{"name": "square", "aspect": "1:1"}],
        )
        app = create_app(settings)

        @app.get("/test/art/<media_id>")
        def page(media_id: str) -> str:
            image = app.extensions["imgsvc"].describe(media_id)
            return render_template_string(PAGE, image=image, art=[(MEDIA, "square")])

        @app.get("/test/bare/<media_id>")
        def bare(media_id: str) -> str:
            """The control: the same page without width/height on the <source>."""
            return re.sub(r'(<source [^>]*?) width="\d+" height="\d+"', r"\1", page(media_id))

        return app

    with serve_app(build) as served:
        yield served


@pytest.fixture(scope="module")
def stored(live: Live, browser: Browser) -> dict[str, Any]:
    """The band photo, uploaded through the API with an editor's focus at the centre."""
    image = upload(live, browser, "band.jpg", band_jpeg(), focus="0.5,0.5")
    square = image["crops"]["square"]
    assert square["box"] == [600, 0, 1800, 1200]  # the band: what the colours below assume
    assert [v["width"] for v in square["variants"]] == [480, 768, 1200]
    return image


@pytest.mark.parametrize(
    ("viewport", "crop"), [(360, "square"), (600, "square"), (601, None), (1400, None)]
)
def test_art_directed_picture_loads_the_crop_on_phones_and_the_main_set_on_desktops(
    live: Live, browser: Browser, stored: dict[str, Any], viewport: int, crop: str | None
) -> None:
    chosen = stored["crops"][crop] if crop else stored
    webp = [v for v in chosen["variants"] if v["format"] == "webp"]
    # sizes=100vw at DPR 1: the narrowest variant at least as wide as the viewport
    want = min((v for v in webp if v["width"] >= viewport), key=lambda v: v["width"])
    context = browser.new_context(viewport={"width": viewport, "height": 900})
    try:
        page = context.new_page()
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url) if "/media/" in r.url else None)
        page.goto(f"{live.base}/test/art/{stored['id']}")
        page.wait_for_function(LOADED)
        state = page.evaluate(STATE)
    finally:
        context.close()
    print(
        f"viewport {viewport}: {'/'.join(state['currentSrc'].rsplit('/', 2)[-2:])}, box "
        f"{state['width']:.0f}x{state['height']:.0f}, edge colour {state['edge']}"
    )
    assert state["currentSrc"] == want["url"]
    assert requested == [want["url"]]  # one file: nothing downloaded in vain
    # the box has the chosen set's shape: square on phones, 2:1 on desktops
    assert state["height"] == pytest.approx(viewport * want["height"] / want["width"], abs=1)
    colour = RED if crop else BLUE  # the crop's left edge is in the band, the photo's is not
    assert max(abs(a - b) for a, b in zip(state["edge"], colour, strict=True)) < 50


@pytest.mark.parametrize(("path", "height"), [("art", 360), ("bare", 180)])
def test_the_sources_width_and_height_reserve_the_crops_box(
    live: Live, browser: Browser, stored: dict[str, Any], path: str, height: float
) -> None:
    """Before a byte of the image arrives the box is square at 360 px, because the
    art-directed <source> carries width and height; without them (the control) the
    browser reserves the <img>'s 2:1 box and the layout shifts on load."""
    context = browser.new_context(viewport={"width": 360, "height": 900})
    try:
        page = context.new_page()
        held: list[Route] = []
        page.route("**/media/**", lambda route: held.append(route))
        page.goto(f"{live.base}/test/{path}/{stored['id']}", wait_until="domcontentloaded")
        for _ in range(500):
            if held:
                break
            page.wait_for_timeout(20)
        before = page.evaluate(STATE)
        for route in held:
            route.continue_()
        page.wait_for_function(LOADED)
        after = page.evaluate(STATE)
    finally:
        context.close()
    assert held, "the browser requested no image"
    assert before["height"] == pytest.approx(height, abs=1)
    assert after["height"] == pytest.approx(360, abs=1)
