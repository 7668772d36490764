"""Crops through the whole pipeline (issue 12): every crop conversion shows the focus
where ``crop_box`` puts it, at every width and format; faces decide the crop when the
editor gave no focus; the working size gives each crop the pixels it needs."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from imgsvc.pipeline import Focus, PipelineConfig, convert
from imgsvc.pipeline.crop import crop_box
from imgsvc.pipeline.focus import CENTRE
from imgsvc.pipeline.framing import frame_crops, working_size
from imgsvc.pipeline.plan import plan_variants
from imgsvc.settings import Settings

from ..support import images

RED = (230, 20, 20)
GREY = (128, 128, 128)
CROPS = [
    {"name": "square", "aspect": "1:1"},
    {"name": "tall", "aspect": "4:5", "widths": [300, 600]},
    {"name": "social", "aspect": "1200:630", "widths": [1200], "formats": ["jpeg"]},
]


def config(**overrides: object) -> PipelineConfig:
    settings = Settings.load({}, crops=CROPS, **overrides)
    return PipelineConfig.from_settings(settings)


def marked(size: tuple[int, int], marker: tuple[int, int, int, int]) -> bytes:
    """A grey photo with a red square at ``marker`` (left, top, right, bottom)."""
    im = Image.new("RGB", size, GREY)
    ImageDraw.Draw(im).rectangle((marker[0], marker[1], marker[2] - 1, marker[3] - 1), fill=RED)
    return images.encode(im, "PNG")


def red_centre(data: bytes) -> tuple[float, float]:
    """The centre of the red pixels of an output, in fractions of its size."""
    im = Image.open(io.BytesIO(data)).convert("RGB")
    mask = Image.eval(im.split()[0], lambda v: 255 if v > 180 else 0)
    mask = Image.composite(
        mask, Image.new("L", im.size), im.split()[1].point(lambda v: 255 if v < 90 else 0)
    )
    box = mask.getbbox()
    assert box is not None, "the marker is not in this crop"
    return ((box[0] + box[2]) / 2 / im.width, (box[1] + box[3]) / 2 / im.height)


@pytest.mark.parametrize(
    ("size", "marker"),
    [
        ((3000, 2000), (2380, 280, 2500, 400)),  # near the top right corner
        ((2000, 3000), (100, 2600, 220, 2720)),  # a portrait, near the bottom left
        ((1000, 700), (430, 300, 570, 400)),  # the middle of a small source
    ],
)
def test_every_crop_shows_the_focus_where_the_geometry_puts_it(
    size: tuple[int, int], marker: tuple[int, int, int, int]
) -> None:
    w, h = size
    focus = Focus(
        marker[0] / w, marker[1] / h, (marker[2] - marker[0]) / w, (marker[3] - marker[1]) / h
    )
    conversion = convert(marked(size, marker), config(), focus=focus)
    assert conversion.focus == focus
    assert {c.name for c in conversion.crops} == {"square", "tall", "social"}
    for crop in conversion.crops:
        left, top, right, bottom = crop.box
        assert crop.box == crop_box(w, h, crop.aspect, focus)
        assert left <= marker[0] and marker[2] <= right and top <= marker[1] and marker[3] <= bottom
        want = (
            ((marker[0] + marker[2]) / 2 - left) / (right - left),
            ((marker[1] + marker[3]) / 2 - top) / (bottom - top),
        )
        for variant in crop.variants:
            got = red_centre(variant.data)
            tolerance = 3 / variant.width + 0.01
            assert abs(got[0] - want[0]) < tolerance and abs(got[1] - want[1]) < tolerance, (
                crop.name,
                variant.width,
                got,
                want,
            )
            a, b = crop.aspect
            assert abs(variant.width / variant.height - a / b) < 2 / variant.height


def test_crop_widths_and_formats_follow_the_profile() -> None:
    conversion = convert(marked((3000, 2000), (0, 0, 10, 10)), config(), focus=CENTRE)
    crops = {c.name: c for c in conversion.crops}
    assert [(v.format, v.width, v.height) for v in crops["square"].variants] == [
        ("webp", 480, 480), ("webp", 768, 768), ("webp", 1280, 1280), ("webp", 1920, 1920)
    ]  # fmt: skip
    assert [(v.format, v.width, v.height) for v in crops["tall"].variants] == [
        ("webp", 300, 375), ("webp", 600, 750)
    ]  # fmt: skip
    [card] = crops["social"].variants
    assert (card.format, card.width, card.height) == ("jpeg", 1200, 630)
    with Image.open(io.BytesIO(card.data)) as im:
        assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (1200, 630))
        assert im.info.get("progressive") or im.info.get("progression")
        assert "icc_profile" not in im.info and "exif" not in im.info


def test_a_crop_is_never_upscaled() -> None:
    """A 900 x 600 source: the square is 600 px, so its srcset stops at 600."""
    conversion = convert(marked((900, 600), (0, 0, 10, 10)), config(), focus=CENTRE)
    square = next(c for c in conversion.crops if c.name == "square")
    assert [v.width for v in square.variants] == [480, 600]
    assert square.box == (150, 0, 750, 600)


def test_the_working_size_is_what_the_widest_crop_needs() -> None:
    """A square of a 5640 x 3172 photo at 1920 px needs 0.61 of the source, where the
    main set needs 0.34: the decode steps resize to the larger, never above 1."""
    output = config().output
    plan = plan_variants(5640, 3172, output.sizes)
    framings = frame_crops(5640, 3172, output)
    assert working_size(5640, 3172, plan[-1], framings) == (3414, 1920)
    assert working_size(5640, 3172, plan[-1], []) == (1920, 1080)
    assert working_size(1000, 700, plan_variants(1000, 700, output.sizes)[-1], framings) == (
        1000,
        700,
    )


def test_transparency_is_flattened_onto_white_in_a_jpeg_crop() -> None:
    im = Image.new("RGBA", (1400, 800), (0, 0, 0, 0))
    ImageDraw.Draw(im).rectangle((600, 300, 800, 500), fill=(20, 20, 200, 255))
    conversion = convert(images.encode(im, "PNG"), config(), focus=CENTRE)
    [card] = next(c for c in conversion.crops if c.name == "social").variants
    out = Image.open(io.BytesIO(card.data)).convert("RGB")
    assert images.near(out.getpixel((10, 10)), (255, 255, 255), 3)
    assert images.near(out.getpixel((out.width // 2, out.height // 2)), (20, 20, 200), 12)
    square = next(c for c in conversion.crops if c.name == "square").variants[0]
    assert Image.open(io.BytesIO(square.data)).mode == "RGBA"  # WebP keeps the alpha


def test_the_astronauts_face_decides_the_crop() -> None:
    skdata = pytest.importorskip("skimage.data")
    photo = Image.fromarray(skdata.astronaut()).resize((1536, 1024))  # a wide frame of her
    conversion = convert(images.encode(photo, "PNG"), config())
    assert conversion.focus.source == "faces"
    # Her face is at about x 0.28-0.40, y 0.05-0.3 of the 512 px original (left half).
    fx, fy = conversion.focus.centre
    assert 0.2 < fx < 0.5 and fy < 0.4, conversion.focus
    tall = next(c for c in conversion.crops if c.name == "tall")
    left, _, right, _ = tall.box
    assert left < fx * 1536 < right and left < 1536 / 2, tall.box


def test_without_detection_crops_sit_on_the_centre() -> None:
    conversion = convert(marked((3000, 2000), (0, 0, 100, 100)), config(focus_detection="off"))
    assert conversion.focus == CENTRE
    square = next(c for c in conversion.crops if c.name == "square")
    assert square.box == (500, 0, 2500, 2000)


def test_an_animation_keeps_its_frames_in_a_crop_and_a_jpeg_card_is_its_first_frame() -> None:
    source = images.animation("GIF", size=(500, 300))
    conversion = convert(source, config(), focus=CENTRE)
    crops = {c.name: c for c in conversion.crops}
    with Image.open(io.BytesIO(crops["square"].variants[0].data)) as im:
        assert getattr(im, "n_frames", 1) > 1 and im.size == (300, 300)
    [card] = crops["social"].variants
    with Image.open(io.BytesIO(card.data)) as im:
        assert im.format == "JPEG" and im.size == (500, 263)  # 262.5, half up


def test_an_animation_gets_a_jpeg_still_beside_its_animated_webp_but_no_still_avif() -> None:
    """A JPEG (ranked after WebP) is made from the first frame, so a social card of a
    GIF is a JPEG; an AVIF (ranked before WebP) is not, so that no <picture> prefers a
    still to the animation."""
    source = images.animation("GIF", size=(500, 300))
    settings = Settings.load(
        {},
        formats=("avif", "webp", "jpeg"),
        crops=[{"name": "social", "aspect": "1200:630", "formats": ["jpeg", "webp"]}],
    )
    conversion = convert(source, PipelineConfig.from_settings(settings), focus=CENTRE)
    assert [(v.format, v.width) for v in conversion.variants] == [
        ("webp", 480), ("webp", 500), ("jpeg", 480), ("jpeg", 500)
    ]  # fmt: skip
    [social] = conversion.crops
    assert sorted(v.format for v in social.variants) == ["jpeg", "jpeg", "webp", "webp"]
    for variant in [*conversion.variants, *social.variants]:
        with Image.open(io.BytesIO(variant.data)) as im:
            frames = getattr(im, "n_frames", 1)
            assert (frames > 1) == (variant.format == "webp"), (variant.format, frames)
