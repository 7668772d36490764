"""pipeline.resize: the banded first pass is the single Pillow call, and downscales
keep transparent colours out of the edges."""

from __future__ import annotations

import random

import pytest
from PIL import Image, ImageChops

from imgsvc.pipeline import resize
from imgsvc.pipeline.resize import REDUCING_GAP, downscale, resize_first


def noise(size: tuple[int, int], seed: int = 3) -> Image.Image:
    """Random pixels: any seam or misplaced kernel weight between bands shows up."""
    w, h = size
    return Image.frombytes("RGB", size, random.Random(seed).randbytes(w * h * 3))


def max_difference(a: Image.Image, b: Image.Image) -> int:
    return max(high for _, high in ImageChops.difference(a, b).getextrema())  # type: ignore[misc]


@pytest.mark.parametrize("threads", [2, 4])
@pytest.mark.parametrize(
    ("source", "target"),
    [
        ((1000, 700), (480, 336)),  # no reduce step
        ((3000, 1800), (400, 240)),  # reduce(2) first, as reducing_gap does
        ((801, 613), (517, 395)),  # odd sizes: band boxes fall between pixels
    ],
)
def test_the_banded_first_pass_matches_one_pillow_resize(
    monkeypatch: pytest.MonkeyPatch, threads: int, source: tuple[int, int], target: tuple[int, int]
) -> None:
    """The split across cores is an optimisation only: the pixels are Pillow's own."""
    monkeypatch.setattr(resize, "THREADS", threads)  # force bands on any machine
    im = noise(source)
    expected = im.resize(target, Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
    got = resize_first(im, target)
    assert got.size == target and got.mode == "RGB"
    assert max_difference(got, expected) <= 1


def test_resize_first_returns_the_image_itself_when_the_size_is_already_right() -> None:
    """No copy and no resample for a source that is already the largest width."""
    im = noise((200, 150))
    assert resize_first(im, (200, 150)) is im


def test_downscale_premultiplies_so_transparent_black_does_not_bleed() -> None:
    """Opaque white beside transparent black: the blended edge must stay white."""
    im = Image.new("RGBA", (600, 40), (0, 0, 0, 0))
    im.paste((255, 255, 255, 255), (0, 0, 300, 40))
    got = downscale(im, (233, 16))
    assert got.mode == "RGBA" and got.size == (233, 16)
    edge = [got.getpixel((x, 8)) for x in range(got.width)]
    blended = [p for p in edge if 8 <= p[3] <= 247]  # type: ignore[index]
    assert blended, "the downscale did not blend the edge at all"
    for r, g, b, a in blended:  # type: ignore[misc]
        assert min(r, g, b) >= 235, (r, g, b, a)
    # The case is a real one: straight-alpha channels resized apart would darken it.
    channels = [c.resize((233, 16), Image.Resampling.LANCZOS) for c in im.split()]
    straight = Image.merge("RGBA", channels)
    assert any(
        p[3] >= 8 and min(p[:3]) < 200  # type: ignore[index]
        for p in (straight.getpixel((x, 8)) for x in range(straight.width))
    )


def test_downscale_of_an_opaque_image_is_a_plain_lanczos_resize() -> None:
    im = noise((400, 300))
    expected = im.resize((160, 120), Image.Resampling.LANCZOS)
    assert max_difference(downscale(im, (160, 120)), expected) == 0
