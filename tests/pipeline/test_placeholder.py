"""pipeline.placeholder: a tiny WebP preview and the mean colour, shown while the
real image loads; both must look like the picture, transparency included."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from imgsvc.pipeline.placeholder import PREVIEW_SIDE, Placeholder, make_placeholder

PREFIX = "data:image/webp;base64,"


def preview(placeholder: Placeholder) -> Image.Image:
    assert placeholder.data_uri.startswith(PREFIX)
    im = Image.open(io.BytesIO(base64.b64decode(placeholder.data_uri.removeprefix(PREFIX))))
    assert im.format == "WEBP"
    return im


@pytest.mark.parametrize(
    ("size", "expected"),
    [((300, 100), (16, 5)), ((100, 300), (5, 16)), ((64, 64), (16, 16)), ((10, 6), (10, 6))],
)
def test_the_preview_is_a_webp_of_at_most_16_px_with_the_aspect_kept(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    """A few hundred bytes inline in the page; never enlarged, never distorted."""
    placeholder = make_placeholder(Image.new("RGB", size, (30, 90, 200)))
    im = preview(placeholder)
    assert im.size == expected
    assert max(im.size) <= PREVIEW_SIDE
    assert len(placeholder.data_uri) < 1000


def test_the_colour_of_a_solid_image_is_that_colour() -> None:
    placeholder = make_placeholder(Image.new("RGB", (120, 80), (30, 90, 200)))
    assert placeholder.color == "#1e5ac8"
    assert placeholder.to_dict() == {"data_uri": placeholder.data_uri, "color": "#1e5ac8"}


def test_alpha_weighs_the_mean_colour() -> None:
    """A red logo on transparent blue previews red, not the purple of both halves."""
    im = Image.new("RGBA", (40, 20), (0, 0, 255, 0))
    im.paste((255, 0, 0, 255), (0, 0, 20, 20))
    placeholder = make_placeholder(im)
    assert placeholder.color == "#ff0000"
    assert make_placeholder(im.convert("RGB")).color == "#800080"  # what alpha changes
    assert preview(placeholder).mode == "RGBA"


def test_palette_transparency_counts_as_alpha() -> None:
    """A GIF-style transparent index is transparency too, not the colour under it."""
    im = Image.new("P", (40, 20), 0)
    im.putpalette([0, 0, 255, 255, 0, 0] + [0] * 762)  # index 0 blue, index 1 red
    im.paste(1, (0, 0, 20, 20))
    im.info["transparency"] = 0
    assert make_placeholder(im).color == "#ff0000"
