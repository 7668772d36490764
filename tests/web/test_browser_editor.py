"""The editor's desk of the upload page in a real browser (issue 12): the focus picker,
the crops side by side, the way back to the detected focus, and an error shown.

The app runs with two ``[[crops]]`` profiles and a write token, so every step
goes through the page's own requests: the upload (``POST /v1/images``), the
click on the preview (``PATCH /v1/images/{id}`` with the token typed into the
page) and the fragment it re-renders. What the page did is then read back from
the API, not from the page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image, ImageDraw

from imgsvc import Settings, create_app

from ..support.browser import Live, browser_fixture, require_chromium, serve_app  # noqa: F401

require_chromium()

from playwright.sync_api import Browser, Page, expect  # noqa: E402

pytestmark = pytest.mark.timeout(120)

TOKEN = "editor-token"
CROPS = [{"name": "square", "aspect": "1:1"}, {"name": "wide", "aspect": "16:9"}]


def photo(width: int = 1200, height: int = 800) -> bytes:
    """A sky over a field with a red disc off centre: not flat, and with something to crop."""
    im = Image.new("RGB", (width, height), (120, 170, 230))
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, height * 2 // 3, width, height), fill=(60, 140, 60))
    for x in range(0, width, 80):
        draw.line((x, height * 2 // 3, x + 40, height), fill=(40, 100, 40), width=3)
    r = width // 12
    cx, cy = width * 3 // 4, height // 3
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(220, 40, 30))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("editor-media")

    def build(base: str) -> Any:
        settings = Settings.load(
            {},
            file_root=root,
            public_base_url=f"{base}/media",
            api_tokens=(TOKEN,),
            crops=CROPS,
        )
        return create_app(settings)

    with serve_app(build) as served:
        yield served


def crop_urls(image: dict[str, Any]) -> dict[str, set[str]]:
    """Every URL of each crop (its variants and src)."""
    return {
        name: {v["url"] for v in crop["variants"]} | {crop["src"]}
        for name, crop in image["crops"].items()
    }


def boxes(image: dict[str, Any]) -> dict[str, list[int]]:
    return {name: crop["box"] for name, crop in image["crops"].items()}


def described(page: Page, live: Live, media_id: str) -> dict[str, Any]:
    response = page.request.get(f"{live.base}/v1/images/{media_id}")
    assert response.status == 200, response.text()
    return response.json()  # type: ignore[no-any-return]


def upload_through_the_page(page: Page, live: Live) -> str:
    page.goto(f"{live.base}/")
    page.fill("#token", TOKEN)
    page.set_input_files(
        "#file", files=[{"name": "field.jpg", "mimeType": "image/jpeg", "buffer": photo()}]
    )
    page.click("#upload-button")
    expect(page.locator("#status")).to_have_text(re.compile(r"^Stored \d+ conversions"))
    media_id = page.get_attribute("#result [data-media-id]", "data-media-id")
    assert media_id
    return media_id


def wait_for_answer(page: Page) -> None:
    """The PATCH answered and the fragment was re-rendered (or the error shown)."""
    expect(page.locator("#result [data-media-id]")).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("#status")).not_to_have_text(re.compile("^Setting the focus"))


def shown_crops(page: Page) -> dict[str, str]:
    """The srcset of each crop the page shows, once every one has loaded."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('#result figure.crop img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    figures = page.locator("#result figure.crop")
    return {
        str(figures.nth(i).get_attribute("data-crop")): str(
            figures.nth(i).locator("img").get_attribute("srcset")
        )
        for i in range(figures.count())
    }


def test_click_sets_the_focus_and_rewrites_the_crops(live: Live, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        media_id = upload_through_the_page(page, live)
        before = described(page, live, media_id)
        assert sorted(before["crops"]) == ["square", "wide"]
        assert before["focus"]["source"] != "editor"
        assert shown_crops(page) == {n: c["srcset"] for n, c in before["crops"].items()}
        labels = page.locator("#result figure.crop figcaption").all_inner_texts()
        assert [label.split()[:2] for label in labels] == [["square", "1:1"], ["wide", "16:9"]]

        preview = page.locator("#result .focus-frame img")
        preview.wait_for()
        box = preview.bounding_box()
        assert box is not None and box["width"] > 400
        # Far from the red disc imgsvc finds (upper right): every crop has to move.
        want_x, want_y = 0.2, 0.9
        preview.click(position={"x": box["width"] * want_x, "y": box["height"] * want_y})
        wait_for_answer(page)

        after = described(page, live, media_id)
        tolerance = 2 / box["width"]  # two CSS pixels: where the mouse lands is rounded
        assert after["focus"]["source"] == "editor"
        assert after["focus"]["x"] == pytest.approx(want_x, abs=tolerance)
        assert after["focus"]["y"] == pytest.approx(want_y, abs=tolerance)
        assert after["focus"]["w"] == after["focus"]["h"] == 0
        old, new = crop_urls(before), crop_urls(after)
        assert sorted(new) == ["square", "wide"]
        for name in new:
            assert boxes(after)[name] != boxes(before)[name], f"crop {name} did not move"
            assert not old[name] & new[name], f"crop {name} was not rewritten"
        assert after["srcset"] == before["srcset"]  # the main set does not depend on it
        assert page.inner_text("#status") == (
            f"Focus {after['focus']['x']}, {after['focus']['y']} (editor); 2 crops rewritten."
        )
        # The page shows the answer: the new crops, the marker where the click was.
        assert shown_crops(page) == {n: c["srcset"] for n, c in after["crops"].items()}
        assert page.inner_text("#focus-source") == "editor"
        marker = page.locator("#result .focus-marker").bounding_box()
        shown = preview.bounding_box()  # the new preview, where the page has scrolled to
        assert marker is not None and shown is not None
        centre = (marker["x"] + marker["width"] / 2, marker["y"] + marker["height"] / 2)
        assert centre[0] == pytest.approx(shown["x"] + shown["width"] * want_x, abs=2)
        assert centre[1] == pytest.approx(shown["y"] + shown["height"] * want_y, abs=2)
        assert errors == []
    finally:
        context.close()


def test_focus_from_the_keyboard_and_back_to_the_detected_one(live: Live, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    try:
        page = context.new_page()
        media_id = upload_through_the_page(page, live)
        detected = described(page, live, media_id)
        assert page.locator("#focus-reset").count() == 0  # nothing to go back to yet

        page.fill("#focus-x", "1.5")
        page.press("#focus-x", "Enter")
        expect(page.locator("#status.is-error")).to_have_text(
            "The focus takes x and y between 0 and 1."
        )
        assert described(page, live, media_id) == detected  # nothing was sent

        page.fill("#focus-x", "0.1")
        page.fill("#focus-y", "0.85")
        page.press("#focus-y", "Enter")
        wait_for_answer(page)
        edited = described(page, live, media_id)
        focus = edited["focus"]
        assert (focus["x"], focus["y"], focus["source"]) == (0.1, 0.85, "editor")
        expect(page.locator("#focus-value")).to_have_text("0.1, 0.85")
        assert all(boxes(edited)[n] != boxes(detected)[n] for n in boxes(detected))

        page.click("#focus-reset")
        wait_for_answer(page)
        back = described(page, live, media_id)
        assert back["focus"] == detected["focus"]  # detection is deterministic
        assert boxes(back) == boxes(detected)  # the crops of the upload again
        for name, urls in crop_urls(back).items():
            assert not urls & crop_urls(edited)[name], f"crop {name} was not rewritten"
        expect(page.locator("#focus-source")).to_have_text(detected["focus"]["source"])
        assert page.locator("#focus-reset").count() == 0
    finally:
        context.close()


def test_a_refused_patch_is_shown_and_changes_nothing(live: Live, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    try:
        page = context.new_page()
        media_id = upload_through_the_page(page, live)
        before = described(page, live, media_id)
        marker = page.locator("#result .focus-marker")
        stored_style = marker.get_attribute("style")

        page.fill("#token", "wrong")
        page.locator("#result .focus-frame img").click(position={"x": 10, "y": 10})
        wait_for_answer(page)
        expect(page.locator("#status.is-error")).to_have_text(
            re.compile(r"^The focus was not saved: writes need 'Authorization: Bearer")
        )
        assert described(page, live, media_id) == before
        assert marker.get_attribute("style") == stored_style  # back where the focus is
        assert "is-pending" not in (marker.get_attribute("class") or "")
    finally:
        context.close()
