"""Crop geometry (``imgsvc/pipeline/crop.py``): aspects, boxes around the focus, widths."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from imgsvc.errors import ConfigError
from imgsvc.pipeline.crop import crop_box, largest_size, parse_aspect
from imgsvc.pipeline.focus import Focus
from imgsvc.pipeline.plan import Size, plan_variants

RED = (255, 0, 0)
GREY = (128, 128, 128)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1:1", (1, 1)), ("16:9", (16, 9)), ("1200:630", (1200, 630)), (" 4 : 5 ", (4, 5))],
)
def test_parse_aspect_reads_two_positive_integers(text: str, expected: tuple[int, int]) -> None:
    assert parse_aspect(text, "og") == expected


@pytest.mark.parametrize(
    "text", ["", "1", "1:", ":1", "0:1", "1:0", "-1:1", "1.5:1", "16/9", "1:1:1", "99999:1", "21:1"]
)
def test_parse_aspect_refuses_and_names_the_crop(text: str) -> None:
    with pytest.raises(ConfigError, match=r"crops\[og\]\.aspect"):
        parse_aspect(text, "og")


def test_largest_size_touches_the_image_on_one_side() -> None:
    assert largest_size(1000, 500, (1, 1)) == (500, 500)
    assert largest_size(1000, 500, (16, 9)) == (889, 500)
    assert largest_size(1200, 1200, (1200, 630)) == (1200, 630)
    assert largest_size(3, 1000, (1, 1)) == (3, 3)


def test_a_point_focus_centres_the_crop_and_clamps_to_the_image() -> None:
    assert crop_box(1000, 500, (1, 1), Focus(0.5, 0.5)) == (250, 0, 750, 500)
    assert crop_box(1000, 500, (1, 1), Focus(0.9, 0.1)) == (500, 0, 1000, 500)
    assert crop_box(1000, 500, (1, 1), Focus(0.0, 0.0)) == (0, 0, 500, 500)
    assert crop_box(1000, 500, (1, 1), Focus(1.0, 1.0)) == (500, 0, 1000, 500)


def test_a_focus_box_that_just_fits_is_contained() -> None:
    assert crop_box(1000, 500, (1, 1), Focus(0.2, 0.0, 0.5, 0.5)) == (200, 0, 700, 500)
    assert crop_box(1000, 500, (1, 1), Focus(0.5, 0.2, 0.5, 0.3)) == (500, 0, 1000, 500)


def test_a_focus_box_too_large_is_centred_on() -> None:
    assert crop_box(1000, 500, (1, 1), Focus(0.1, 0.0, 0.7, 1.0)) == (200, 0, 700, 500)


sizes = st.integers(1, 5000)
aspects = st.tuples(st.integers(1, 40), st.integers(1, 40)).filter(lambda a: max(a) <= 20 * min(a))


@st.composite
def focuses(draw: st.DrawFn) -> Focus:
    x, y = draw(st.floats(0, 1)), draw(st.floats(0, 1))
    w, h = draw(st.floats(0, 1 - x)), draw(st.floats(0, 1 - y))
    return Focus(x, y, w, h)


@settings(max_examples=300, deadline=None)
@given(width=sizes, height=sizes, aspect=aspects, focus=focuses())
def test_crop_box_properties(
    width: int, height: int, aspect: tuple[int, int], focus: Focus
) -> None:
    left, top, right, bottom = crop_box(width, height, aspect, focus)
    crop_w, crop_h = right - left, bottom - top
    assert 0 <= left < right <= width and 0 <= top < bottom <= height
    # The aspect, within one pixel on the side that is rounded.
    a, b = aspect
    assert abs(crop_w * b / a - crop_h) <= 1 or abs(crop_h * a / b - crop_w) <= 1
    # Maximal: it touches the image on one side.
    assert crop_w == width or crop_h == height
    for start, end, size, span, lo, hi in (
        (focus.x, focus.x + focus.w, width, crop_w, left, right),
        (focus.y, focus.y + focus.h, height, crop_h, top, bottom),
    ):
        first = min(size - 1, math.floor(start * size))
        last = max(first + 1, math.ceil(end * size))
        if last - first <= span:  # fits: contained
            assert lo <= start * size and end * size <= hi
        else:  # too large: centred on its centre, within half a pixel
            assert abs((lo + hi) / 2 - (start + end) / 2 * size) <= 0.5 + 1e-6


@pytest.mark.parametrize("aspect", [(1, 1), (16, 9), (1200, 630), (4, 5), (9, 16)])
@pytest.mark.parametrize("marker", [(0.1, 0.15), (0.72, 0.2), (0.5, 0.5), (0.93, 0.88)])
def test_the_marker_at_the_focus_is_where_the_geometry_predicts(
    aspect: tuple[int, int], marker: tuple[float, float]
) -> None:
    width, height, half = 1200, 800, 12
    mx, my = marker[0] * width, marker[1] * height
    im = Image.new("RGB", (width, height), GREY)
    box = (mx - half, my - half, mx + half, my + half)
    ImageDraw.Draw(im).rectangle(box, fill=RED)
    focus = Focus(box[0] / width, box[1] / height, 2 * half / width, 2 * half / height)
    left, top, right, bottom = crop_box(width, height, aspect, focus)
    sizes = [Size(str(w), w) for w in (160, 480, 4000)]
    for planned in plan_variants(right - left, bottom - top, sizes):
        out_w, out_h = planned.width, planned.height
        scale = out_w / (right - left)
        out = im.crop((left, top, right, bottom)).resize((out_w, out_h), Image.Resampling.LANCZOS)
        at = (int((mx - left) * scale), int((my - top) * scale))
        r, g, b = out.getpixel(at)  # type: ignore[misc]
        assert r > 200 and g < 60 and b < 60, f"marker missing at {at} of {out.size}"
