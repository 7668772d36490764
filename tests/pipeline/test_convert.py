"""pipeline: decode the outputs and check sizes, modes, pixels, frames and metadata."""

from __future__ import annotations

import base64
import dataclasses
import io
from pathlib import Path

import pytest
from PIL import GifImagePlugin, Image, ImageChops, ImageStat, JpegImagePlugin

from imgsvc import pipeline
from imgsvc.errors import ImageRefused, InvalidImage
from imgsvc.pipeline import Conversion, EncodedVariant, PipelineConfig
from imgsvc.settings import Settings, Size

from ..support import images
from ..support.images import near


def convert(data: bytes, settings: Settings) -> Conversion:
    """The pipeline with the configuration these settings make, as the service runs it."""
    return pipeline.convert(data, PipelineConfig.from_settings(settings))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load({}, file_root=tmp_path)


def decode(variant: EncodedVariant) -> Image.Image:
    im = Image.open(io.BytesIO(variant.data))
    assert im.format == variant.format.upper()
    assert im.size == (variant.width, variant.height)
    return im


def quadrant_centres(im: Image.Image) -> list[tuple[int, ...]]:
    w, h = im.size
    rgb = im.convert("RGB")
    return [rgb.getpixel((x, y)) for y in (h // 4, 3 * h // 4) for x in (w // 4, 3 * w // 4)]  # type: ignore[misc]


def centre(variant: EncodedVariant) -> tuple[int, ...]:
    im = decode(variant).convert("RGB")
    return im.getpixel((im.width // 2, im.height // 2))  # type: ignore[return-value]


# -- sizes -------------------------------------------------------------------------------


def test_a_wide_jpeg_gives_every_configured_width_as_webp(settings: Settings) -> None:
    conversion = convert(images.encode(images.gradient((2000, 1125)), "JPEG"), settings)
    got = [(v.size, v.width, v.height, v.format) for v in conversion.variants]
    assert got == [
        ("sm", 480, 270, "webp"),
        ("md", 768, 432, "webp"),
        ("lg", 1280, 720, "webp"),
        ("xl", 1920, 1080, "webp"),
    ]
    for variant in conversion.variants:
        assert decode(variant).mode == "RGB"
    assert (conversion.source.width, conversion.source.height) == (2000, 1125)


def test_a_narrow_source_is_never_upscaled(settings: Settings) -> None:
    conversion = convert(images.solid((1000, 500), fmt="PNG"), settings)
    assert [(v.width, v.height) for v in conversion.variants] == [
        (480, 240),
        (768, 384),
        (1000, 500),
    ]
    [tiny] = convert(images.solid((300, 200), fmt="PNG"), settings).variants
    assert (tiny.size, tiny.width, tiny.height) == ("sm", 300, 200)


def test_smaller_widths_keep_the_picture(settings: Settings) -> None:
    conversion = convert(images.encode(images.quadrants((1300, 800)), "PNG"), settings)
    for variant in conversion.variants:
        for got, want in zip(quadrant_centres(decode(variant)), images.CORNERS, strict=True):
            assert near(got, want, 12), (variant.width, got, want)


# -- orientation ---------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_comes_out_upright(settings: Settings, orientation: int) -> None:
    conversion = convert(images.oriented_jpeg(orientation, upright=(64, 40)), settings)
    assert (conversion.source.width, conversion.source.height) == (64, 40)
    [variant] = conversion.variants
    out = decode(variant)
    assert out.size == (64, 40)
    for got, want in zip(quadrant_centres(out), images.CORNERS, strict=True):
        assert near(got, want, 40), (orientation, got, want)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_orientation_holds_at_every_resized_width(settings: Settings, orientation: int) -> None:
    conversion = convert(images.oriented_jpeg(orientation, upright=(1000, 600)), settings)
    assert [(v.width, v.height) for v in conversion.variants] == [
        (480, 288),
        (768, 461),
        (1000, 600),
    ]
    for variant in conversion.variants:
        for got, want in zip(quadrant_centres(decode(variant)), images.CORNERS, strict=True):
            assert near(got, want, 40), (orientation, variant.width, got, want)


def test_an_oriented_animation_comes_out_upright(settings: Settings) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = images.quadrants((80, 40)).transpose(Image.Transpose.ROTATE_90)  # 40x80
    dim = stored.point(lambda v: v // 2)
    data = images.encode(
        stored, "WEBP", save_all=True, append_images=[dim], duration=[100, 200],
        exif=exif.tobytes(), lossless=True,
    )  # fmt: skip
    [variant] = convert(data, settings).variants
    frames = images.frames_of(variant.data)
    assert len(frames) == 2
    for (frame, _), scale in zip(frames, (1, 2), strict=True):
        assert frame.size == (80, 40)
        for got, want in zip(quadrant_centres(frame), images.CORNERS, strict=True):
            assert near(got, [c // scale for c in want], 40), (got, want)


# -- colour --------------------------------------------------------------------------------


def test_16_bit_grey_is_scaled_not_clipped(settings: Settings) -> None:
    [variant] = convert(images.png16_grey(40000), settings).variants
    r, g, b = centre(variant)
    assert abs(r - 40000 * 255 / 65535) <= 2, r  # ~155.6; Pillow's own conversion says 255
    assert r == g == b


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize(
    ("profile", "primaries", "gamma"),
    [
        (images.display_p3, images.DISPLAY_P3, None),
        (images.adobe_rgb, images.ADOBE_RGB, 563 / 256),
    ],
    ids=["display-p3", "adobe-rgb"],
)
def test_wide_gamut_sources_are_converted_to_srgb(
    settings: Settings, fmt: str, profile: object, primaries: images.Primaries, gamma: float | None
) -> None:
    colour = (200, 100, 50)
    expected = images.expected_srgb(colour, primaries, gamma)
    assert max(abs(a - b) for a, b in zip(expected, colour, strict=True)) >= 15
    [variant] = convert(images.tagged(colour, profile(), fmt), settings).variants  # type: ignore[operator]
    got = centre(variant)
    assert near(got, expected, 4), (got, expected)


def test_an_srgb_tagged_image_keeps_its_values(settings: Settings) -> None:
    srgb = images.icc_profile(images.SRGB, gamma=None, description="sRGB IEC61966-2.1")
    [variant] = convert(images.tagged((200, 100, 50), srgb), settings).variants
    assert near(centre(variant), (200, 100, 50), 4)


@pytest.mark.parametrize("adobe", [True, False], ids=["adobe-inverted", "plain"])
def test_cmyk_jpeg_looks_right(settings: Settings, adobe: bool) -> None:
    [variant] = convert(images.cmyk_jpeg(adobe=adobe, size=(60, 20)), settings).variants
    out = decode(variant).convert("RGB")
    assert out.mode == "RGB"
    white, cyan, black = (out.getpixel((x, 10)) for x in (8, 30, 52))
    assert min(white) >= 240, white  # type: ignore[type-var]
    assert cyan[0] <= 40 and min(cyan[1:]) >= 200, cyan  # type: ignore[index]
    assert max(black) <= 40, black  # type: ignore[type-var]


# -- alpha ---------------------------------------------------------------------------------


def test_alpha_is_kept_without_a_dark_fringe(settings: Settings) -> None:
    conversion = convert(images.rgba_hard_edge((1200, 40)), settings)
    assert [v.width for v in conversion.variants] == [480, 768, 1200]
    edge_pixels = 0
    for variant in conversion.variants:
        out = decode(variant)
        assert out.mode == "RGBA"
        row = [out.getpixel((x, out.height // 2)) for x in range(out.width)]
        assert row[0] == (255, 255, 255, 255)
        assert row[-1][3] == 0
        for r, g, b, a in row:  # type: ignore[misc]
            if 8 <= a <= 247:
                edge_pixels += 1
                assert min(r, g, b) >= 235, (variant.width, (r, g, b, a))
    assert edge_pixels >= 2  # the downscales did blend the edge


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_transparency_becomes_alpha(settings: Settings, fmt: str) -> None:
    [variant] = convert(images.palette_with_transparency(fmt, (60, 40)), settings).variants
    out = decode(variant)
    assert out.mode == "RGBA"
    assert near(out.getpixel((10, 20)), (255, 0, 0, 255), 8)  # type: ignore[arg-type]
    assert out.getpixel((50, 20))[3] == 0  # type: ignore[index]


def test_an_opaque_palette_image_needs_no_alpha(settings: Settings) -> None:
    im = Image.new("RGB", (40, 20), (0, 120, 240)).convert("P")
    [variant] = convert(images.encode(im, "PNG"), settings).variants
    assert decode(variant).mode == "RGB"
    assert near(centre(variant), (0, 120, 240), 6)


# -- animation -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animations_stay_animated_at_every_width(settings: Settings, fmt: str) -> None:
    conversion = convert(images.animation(fmt, size=(500, 300)), settings)
    assert conversion.source.frames == 3
    assert [(v.width, v.height, v.format) for v in conversion.variants] == [
        (480, 288, "webp"),
        (500, 300, "webp"),
    ]
    for variant in conversion.variants:
        assert decode(variant).is_animated  # type: ignore[attr-defined]
        frames = images.frames_of(variant.data)
        assert [duration for _, duration in frames] == list(images.FRAME_DURATIONS)
        for (frame, _), colour in zip(frames, images.FRAME_COLOURS, strict=True):
            assert frame.size == (variant.width, variant.height)
            assert near(frame.getpixel((variant.width // 2, 150)), (*colour, 255), 8)  # type: ignore[arg-type]
        assert any(fourcc == b"ANIM" for fourcc, _ in images.riff_chunks(variant.data))


def test_a_multi_picture_jpeg_gives_a_still_image(settings: Settings) -> None:
    conversion = convert(images.mpo((80, 60)), settings)
    [variant] = conversion.variants
    out = decode(variant)
    assert getattr(out, "n_frames", 1) == 1
    assert conversion.source.frames == 1
    assert near(centre(variant), (200, 30, 30), 8)  # the first picture of the pair


# -- metadata ------------------------------------------------------------------------------

_ALLOWED_CHUNKS = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"}
_VP8X_ICC, _VP8X_EXIF, _VP8X_XMP = 0x20, 0x08, 0x04


def assert_no_metadata(data: bytes) -> None:
    chunks = images.riff_chunks(data)
    assert {fourcc for fourcc, _ in chunks} <= _ALLOWED_CHUNKS, [c for c, _ in chunks]
    for fourcc, payload in chunks:
        if fourcc == b"VP8X":
            assert payload[0] & (_VP8X_ICC | _VP8X_EXIF | _VP8X_XMP) == 0, bin(payload[0])
    for secret in (b"SECRET", b"Exif", b"xmpmeta", b"acsp"):
        assert secret not in data
    info = Image.open(io.BytesIO(data)).info
    assert not {"exif", "xmp", "icc_profile", "comment"} & set(info)


@pytest.fixture
def stripping(settings: Settings) -> Settings:
    """``keep_rights_metadata`` off: no metadata at all may reach an output (with it on,
    the source's creator would: ``test_rights_outputs.py``)."""
    return dataclasses.replace(settings, keep_rights_metadata=False)


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "PNG", "GIF"])
def test_outputs_carry_no_exif_xmp_icc_or_comment(stripping: Settings, fmt: str) -> None:
    source = images.with_metadata(fmt)
    assert b"SECRET" in source
    for variant in convert(source, stripping).variants:
        assert_no_metadata(variant.data)


def test_animated_outputs_carry_no_metadata(stripping: Settings) -> None:
    settings = stripping
    source = images.animation(
        "WEBP", size=(40, 30), exif=images.exif_with_gps().tobytes(), xmp=images.XMP,
        icc_profile=images.display_p3(),
    )  # fmt: skip
    for variant in convert(source, settings).variants:
        assert_no_metadata(variant.data)


def test_avif_outputs_carry_no_metadata(tmp_path: Path) -> None:
    settings = Settings.load(
        {}, file_root=tmp_path, formats=("webp", "avif"), keep_rights_metadata=False
    )
    conversion = convert(images.with_metadata("JPEG", size=(500, 300)), settings)
    assert [(v.format, v.width) for v in conversion.variants] == [
        ("webp", 480),
        ("webp", 500),
        ("avif", 480),
        ("avif", 500),
    ]
    for variant in conversion.variants:
        im = decode(variant)
        assert not {"exif", "xmp", "icc_profile"} & set(im.info)
        assert b"SECRET" not in variant.data


# -- other inputs ----------------------------------------------------------------------------


def test_avif_input_converts(settings: Settings) -> None:
    [variant] = convert(images.avif((120, 80), (40, 160, 90)), settings).variants
    assert (variant.width, variant.height) == (120, 80)
    assert near(centre(variant), (40, 160, 90), 8)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF"])
def test_truncated_pixel_data_is_invalid(settings: Settings, fmt: str) -> None:
    data = images.encode(images.gradient((300, 200)).convert("P" if fmt == "GIF" else "RGB"), fmt)
    with pytest.raises(InvalidImage) as caught:
        convert(images.truncated(data, 0.6), settings)
    assert caught.value.status_code == 400


def test_custom_sizes_and_quality(tmp_path: Path) -> None:
    sizes = (Size("thumb", 100), Size("card", 400))
    low = Settings.load({}, file_root=tmp_path, sizes=sizes, webp_quality=20)
    high = Settings.load({}, file_root=tmp_path, sizes=sizes, webp_quality=95)
    data = images.encode(images.gradient((1000, 600)), "JPEG")
    small, large = convert(data, low), convert(data, high)
    assert [(v.size, v.width, v.height) for v in small.variants] == [
        ("thumb", 100, 60),
        ("card", 400, 240),
    ]
    assert len(small.variants[1].data) < len(large.variants[1].data)


def test_placeholder_is_a_tiny_webp_of_the_mean_colour(settings: Settings) -> None:
    conversion: Conversion = convert(images.solid((300, 200), (30, 90, 200), "PNG"), settings)
    uri = conversion.placeholder.data_uri
    assert uri.startswith("data:image/webp;base64,")
    tiny = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert tiny.format == "WEBP" and max(tiny.size) <= 16
    r, g, b = (int(conversion.placeholder.color[i : i + 2], 16) for i in (1, 3, 5))
    assert near((r, g, b), (30, 90, 200), 4)


# -- JPEG draft ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    return images.encode(images.gradient((5000, 3000)), "JPEG", quality=85)


def test_a_big_jpeg_is_shrunk_on_load(
    settings: Settings, big_jpeg: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded_at: list[tuple[int, int]] = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self: JpegImagePlugin.JpegImageFile, mode: str | None, size: tuple[int, int] | None):  # type: ignore[no-untyped-def]
        result = real_draft(self, mode, size)
        decoded_at.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    conversion = convert(big_jpeg, settings)

    assert len(decoded_at) == 1
    w, h = decoded_at[0]
    assert 1920 <= w < 5000 and 1152 <= h < 3000  # reduced, yet never below the target
    assert (conversion.source.width, conversion.source.height) == (5000, 3000)
    xl = decode(conversion.variants[-1]).convert("RGB")
    assert xl.size == (1920, 1152)
    reference = Image.open(io.BytesIO(big_jpeg)).convert("RGB").resize(xl.size)
    diff = ImageStat.Stat(ImageChops.difference(xl, reference)).mean
    assert max(diff) < 3, diff


def test_placeholder_of_a_transparent_logo_ignores_what_is_under_the_transparency(
    settings: Settings,
) -> None:
    conversion = convert(images.rgba_hard_edge((600, 40)), settings)
    assert conversion.placeholder.color == "#ffffff"  # white logo, not grey from black
    uri = conversion.placeholder.data_uri
    tiny = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert tiny.mode == "RGBA"
    assert tiny.getpixel((tiny.width - 1, 0))[3] == 0  # type: ignore[index]


# -- loop counts -------------------------------------------------------------------------------


def _loop_of(data: bytes) -> int:
    [anim] = [payload for fourcc, payload in images.riff_chunks(data) if fourcc == b"ANIM"]
    return int.from_bytes(anim[4:6], "little")


@pytest.mark.parametrize(
    ("fmt", "loop", "expected"),
    [
        ("GIF", None, 1),  # no NETSCAPE block: a GIF plays once
        ("GIF", 0, 0),  # forever
        ("GIF", 2, 3),  # a GIF counts repeats after the first play; WebP counts plays
        ("WEBP", 0, 0),
        ("WEBP", 2, 2),
        ("PNG", 0, 0),
        ("PNG", 2, 2),
    ],
)
def test_loop_counts_play_the_same_number_of_times(
    settings: Settings, fmt: str, loop: int | None, expected: int
) -> None:
    frames = [Image.new("RGB", (30, 20), c) for c in images.FRAME_COLOURS]
    params: dict[str, object] = {"save_all": True, "append_images": frames[1:], "duration": 100}
    if loop is not None:
        params["loop"] = loop
    [variant] = convert(images.encode(frames[0], fmt, **params), settings).variants
    assert _loop_of(variant.data) == expected


def test_an_apng_default_image_is_not_a_frame(settings: Settings) -> None:
    fallback = Image.new("RGB", (30, 20), (9, 9, 9))  # shown only by viewers without APNG
    frames = [Image.new("RGB", (30, 20), c) for c in images.FRAME_COLOURS]
    data = images.encode(
        fallback, "PNG", save_all=True, append_images=frames, default_image=True,
        duration=[0, *images.FRAME_DURATIONS], loop=0,
    )  # fmt: skip
    conversion = convert(data, settings)
    assert conversion.source.frames == 3
    [variant] = conversion.variants
    out = images.frames_of(variant.data)
    assert len(out) == 3
    for (frame, _), colour in zip(out, images.FRAME_COLOURS, strict=True):
        assert near(frame.getpixel((15, 10)), (*colour, 255), 8)  # type: ignore[arg-type]


def test_a_gif_frame_growing_the_canvas_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = images.gif_growing_canvas(screen=(1, 1), big=(400, 400))
    assert len(data) < 2000  # its header claims 1x1: the probe's limits all pass
    settings = Settings.load({}, file_root=tmp_path, max_pixels=50_000)
    sizes_decoded: list[tuple[int, int]] = []
    real_load = GifImagePlugin.GifImageFile.load

    def spy(self: GifImagePlugin.GifImageFile):  # type: ignore[no-untyped-def]
        sizes_decoded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(GifImagePlugin.GifImageFile, "load", spy)
    with pytest.raises(ImageRefused) as caught:
        convert(data, settings)
    assert caught.value.code == "too_many_pixels"
    assert (400, 400) not in sizes_decoded


@pytest.mark.parametrize(
    ("source", "target"),
    [((3000, 2000), (1920, 1280)), ((12000, 900), (1920, 144)), ((700, 5000), (480, 3429))],
)
def test_the_banded_first_resize_equals_one_resize(
    source: tuple[int, int], target: tuple[int, int]
) -> None:
    """The first resize runs in bands across cores; a seam would show as a difference.
    Float rounding of a band's box may move a value by one level, never more."""
    from imgsvc.pipeline.resize import REDUCING_GAP, resize_first

    im = images.gradient(source)
    whole = im.resize(target, Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
    banded = resize_first(im, target)
    assert banded.size == whole.size
    extrema = ImageChops.difference(banded, whole).getextrema()
    assert all(high <= 1 for _, high in extrema)  # type: ignore[union-attr]


def test_the_jpeg_draft_never_lands_exactly_on_the_target() -> None:
    """A 3840 px JPEG for a 1920 px output decodes at full size, not at the 1/2 scale
    whose IDCT would be the only filter (sharp stops one scale earlier too)."""
    from imgsvc.pipeline.decode import draft_request

    im = Image.open(io.BytesIO(images.encode(images.gradient((3840, 2160)), "JPEG")))
    im.draft("RGB", draft_request((1920, 1080)))
    assert im.size == (3840, 2160)
    im = Image.open(io.BytesIO(images.encode(images.gradient((5640, 3172)), "JPEG")))
    im.draft("RGB", draft_request((1920, 1080)))
    assert im.size == (2820, 1586)
