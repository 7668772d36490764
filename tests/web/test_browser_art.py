"""Art direction in a real browser: picture(image, art=[("(max-width: 600px)", "square")])
loads the square crop on a phone and the main set on a desktop.

Headless Debian chromium (tests/support/browser.py). The description is made by hand
here, in the shape the service returns, pointing at WebP files generated for the test
and served from a loopback server: the main set is blue, the square crop red, so the
decoded pixels say which set the browser chose.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template_string, send_from_directory
from PIL import Image

from imgsvc.templating import ImageHelpers

from ..support.browser import Live, browser_fixture, require_chromium, serve_app  # noqa: F401

require_chromium()

from playwright.sync_api import Browser, Route  # noqa: E402

pytestmark = pytest.mark.timeout(120)

MEDIA = "(max-width: 600px)"
PAGE = """<!doctype html>
<html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>html, body { margin: 0 } img { display: block; width: 100%; height: auto }</style>
</head><body>{{ picture(image, sizes="100vw", alt="art", art=art) }}</body></html>"""
MAIN_COLOUR, SQUARE_COLOUR = (30, 40, 220), (220, 30, 30)
MAIN_WIDTHS, SQUARE_WIDTHS = (480, 768, 1280, 1920), (480, 768, 1280)

LOADED = (
    "() => { const i = document.querySelector('img'); return i.complete && i.naturalWidth > 0; }"
)
STATE = """() => {
  const img = document.querySelector("img");
  const box = img.getBoundingClientRect();
  const canvas = document.createElement("canvas");
  canvas.width = 8; canvas.height = 8;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0, 8, 8);
  return {currentSrc: img.currentSrc, width: box.width, height: box.height,
          naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
          centre: Array.from(ctx.getImageData(4, 4, 1, 1).data.slice(0, 3))};
}"""


def _webp(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "WEBP", quality=90)
    return buf.getvalue()


def _variant(base: str, folder: str, width: int, height: int, colour: Any, root: Path) -> dict:
    key = f"media/art/{folder}/photo-___webp_{width}.webp"
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_webp(width, height, colour))
    return {
        "size": str(width),
        "width": width,
        "height": height,
        "format": "webp",
        "key": key,
        "url": f"{base}/{key}",
        "bytes": path.stat().st_size,
    }


def _description(base: str, root: Path) -> dict[str, Any]:
    """A 3840x2160 photo's description with a square crop, as docs/templates.md shows."""
    main = [_variant(base, "conversions", w, w * 9 // 16, MAIN_COLOUR, root) for w in MAIN_WIDTHS]
    square = [_variant(base, "crops/square", w, w, SQUARE_COLOUR, root) for w in SQUARE_WIDTHS]

    def srcset(vs: list[dict]) -> str:
        return ", ".join(f"{v['url']} {v['width']}w" for v in vs)

    return {
        "id": "art",
        "width": 3840,
        "height": 2160,
        "srcset": srcset(main),
        "src": main[-1]["url"],
        "variants": main,
        "focus": {"x": 0.5, "y": 0.5, "w": 0, "h": 0, "source": "centre"},
        "crops": {
            "square": {
                "aspect": "1:1",
                "box": [840, 0, 3000, 2160],
                "width": 2160,
                "height": 2160,
                "format": "webp",
                "srcset": srcset(square),
                "src": square[-1]["url"],
                "variants": square,
            }
        },
    }


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("art-media")
    helpers = ImageHelpers(crops={"square": (1, 1)})

    def build(base: str) -> Flask:
        app = Flask("art-test")
        app.config["image"] = _description(base, root)
        for name in ("picture", "responsive_img"):
            app.jinja_env.globals[name] = getattr(helpers, name)

        @app.get("/media/<path:key>")
        def media(key: str) -> Any:
            return send_from_directory(root / "media", key)

        @app.get("/page")
        def page() -> str:
            return render_template_string(PAGE, image=app.config["image"], art=[(MEDIA, "square")])

        @app.get("/bare")
        def bare() -> str:
            """The control: the same page without width/height on the <source>."""
            return re.sub(r'(<source [^>]*?) width="\d+" height="\d+"', r"\1", page())

        return app

    with serve_app(build) as served:
        yield served


@pytest.mark.parametrize(
    ("viewport", "crop"), [(360, "square"), (600, "square"), (601, None), (1400, None)]
)
def test_art_directed_picture_loads_the_crop_on_phones_and_the_main_set_on_desktops(
    live: Live, browser: Browser, viewport: int, crop: str | None
) -> None:
    image = live.app.config["image"]
    chosen = image["crops"][crop] if crop else image
    # sizes=100vw at DPR 1: the narrowest variant at least as wide as the viewport
    want = min((v for v in chosen["variants"] if v["width"] >= viewport), key=lambda v: v["width"])
    context = browser.new_context(viewport={"width": viewport, "height": 900})
    try:
        page = context.new_page()
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url) if "/media/" in r.url else None)
        page.goto(f"{live.base}/page")
        page.wait_for_function(LOADED)
        state = page.evaluate(STATE)
    finally:
        context.close()
    print(
        f"viewport {viewport}: {state['currentSrc'].rsplit('/', 2)[-2:]}, box "
        f"{state['width']:.0f}x{state['height']:.0f}, centre {state['centre']}"
    )
    assert state["currentSrc"] == want["url"]
    assert requested == [want["url"]]  # nothing else fetched: no wasted download
    # the box has the chosen set's shape: square on phones, 16:9 on desktops
    assert state["height"] == pytest.approx(viewport * want["height"] / want["width"], abs=1)
    colour = SQUARE_COLOUR if crop else MAIN_COLOUR
    assert max(abs(a - b) for a, b in zip(state["centre"], colour, strict=True)) < 40


@pytest.mark.parametrize(("path", "height"), [("/page", 360), ("/bare", 202.5)])
def test_the_sources_width_and_height_reserve_the_crops_box(
    live: Live, browser: Browser, path: str, height: float
) -> None:
    """Before a byte of the image arrives the box is square at 360 px, because the
    art-directed <source> carries width and height; without them (the control) the
    browser reserves the <img>'s 16:9 box and the layout shifts on load."""
    context = browser.new_context(viewport={"width": 360, "height": 900})
    try:
        page = context.new_page()
        held: list[Route] = []
        page.route("**/media/**", lambda route: held.append(route))
        page.goto(f"{live.base}{path}", wait_until="domcontentloaded")
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
