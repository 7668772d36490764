"""The template helpers of issue 12 on crops: responsive_img(crop=, fit=), srcset(crop=),
og_image, and what a crop the description lacks renders.

Descriptions are built by hand in the shape the service returns (``crops`` and
``focus`` as docs/templates.md documents them); the markup is parsed back and its
attributes compared exactly.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment

from imgsvc import Settings, create_app, templating
from imgsvc.templating import ImageHelpers, og_image, responsive_img, srcset

from .test_templating import BASE, SRC, SRCSET, description, parse

CROPS = {"square": (1, 1), "social": (1200, 630), "fourthree": (4, 3)}
HELPERS = ImageHelpers(formats=("webp",), crops=CROPS)
FOCUS = {"x": 0.31, "y": 0.2, "w": 0.1, "h": 0.15, "source": "editor"}


def crop_variant(crop: str, width: int, height: int, fmt: str, base: str = BASE) -> dict:
    ext = "jpg" if fmt == "jpeg" else fmt
    key = f"media/1234/crops/{crop}/photo-0a1b2c3d-___{fmt}_{width}.{ext}"
    return {
        "size": str(width),
        "width": width,
        "height": height,
        "format": fmt,
        "key": key,
        "url": f"{base}/{key}",
        "bytes": width * 5,
    }


def crop_entry(
    name: str, aspect: str, box: list[int], sizes: list[tuple[int, int]], fmts: tuple[str, ...]
) -> dict:
    variants = [crop_variant(name, w, h, f) for f in fmts for w, h in sizes]
    fmt = "webp" if "webp" in fmts else fmts[0]
    mine = [v for v in variants if v["format"] == fmt]
    return {
        "aspect": aspect,
        "box": box,
        "width": box[2] - box[0],
        "height": box[3] - box[1],
        "format": fmt,
        "srcset": ", ".join(f"{v['url']} {v['width']}w" for v in mine),
        "src": mine[-1]["url"],
        "variants": variants,
    }


def with_crops(formats: tuple[str, ...] = ("webp",), **extra: Any) -> dict:
    """A 4000x2250 photo with a square crop (480-1280) and a JPEG social card."""
    square = [(480, 480), (768, 768), (1280, 1280)]
    crops = {
        "square": crop_entry("square", "1:1", [875, 0, 3125, 2250], square, formats),
        "social": crop_entry("social", "1200:630", [0, 100, 4000, 2200], [(1200, 630)], ("jpeg",)),
    }
    return description(formats, focus=FOCUS, crops=crops) | extra


def sq(width: int, fmt: str = "webp") -> str:
    ext = "jpg" if fmt == "jpeg" else fmt
    return f"{BASE}/media/1234/crops/square/photo-0a1b2c3d-___{fmt}_{width}.{ext}"


SQ_SRCSET = f"{sq(480)} 480w, {sq(768)} 768w, {sq(1280)} 1280w"
SOCIAL = f"{BASE}/media/1234/crops/social/photo-0a1b2c3d-___jpeg_1200.jpg"


def attrs_of(markup: str) -> dict[str, str | None]:
    (tag,) = parse(markup)
    return dict(tag[1])


# -- responsive_img(crop=) ------------------------------------------------------------


def test_img_of_a_crop() -> None:
    html = HELPERS.responsive_img(with_crops(), crop="square", alt="Teaser")
    assert html == (
        f'<img src="{sq(1280)}" srcset="{SQ_SRCSET}" sizes="100vw" width="1280" height="1280" '
        'alt="Teaser" loading="lazy" decoding="async">'
    )


def test_img_of_a_jpeg_only_crop_uses_its_format() -> None:
    attrs = attrs_of(HELPERS.responsive_img(with_crops(), crop="social"))
    assert attrs["src"] == SOCIAL
    assert attrs["srcset"] == f"{SOCIAL} 1200w"
    assert (attrs["width"], attrs["height"]) == ("1200", "630")


def test_crop_without_a_stated_format_prefers_webp_else_its_first() -> None:
    image = with_crops(("avif", "webp"))
    for entry in image["crops"].values():
        del entry["format"]
    assert attrs_of(HELPERS.responsive_img(image, crop="square"))["src"] == sq(1280)
    assert attrs_of(HELPERS.responsive_img(image, crop="social"))["src"] == SOCIAL


def test_srcset_of_a_crop_in_any_of_its_formats() -> None:
    image = with_crops(("avif", "webp"))
    assert HELPERS.srcset(image, crop="square") == SQ_SRCSET
    assert HELPERS.srcset(image, "avif", crop="square") == SQ_SRCSET.replace("webp", "avif")
    assert HELPERS.srcset(image) == SRCSET  # the main set, as before
    assert srcset(image, crop="social") == f"{SOCIAL} 1200w"


def test_hostile_urls_in_a_crop_are_escaped() -> None:
    hostile = 'https://evil.example/"onerror="alert(1)<&>'
    image = with_crops()
    for v in image["crops"]["square"]["variants"]:
        v["url"] = v["url"].replace(BASE, hostile)
    html = HELPERS.responsive_img(image, crop="square")
    assert 'onerror="' not in html and "<&>" not in html
    attrs = attrs_of(html)
    assert attrs["src"] == sq(1280).replace(BASE, hostile)
    assert attrs["srcset"] is not None and attrs["srcset"].count(hostile) == 3


# -- fit="cover" ----------------------------------------------------------------------


def test_fit_cover_positions_the_focus_centre() -> None:
    html = responsive_img(with_crops(), fit="cover")
    assert html == (
        f'<img src="{SRC}" srcset="{SRCSET}" sizes="100vw" width="1280" height="720" alt="" '
        'loading="lazy" decoding="async" style="object-fit: cover; object-position: 36% 27.5%">'
    )


def test_fit_cover_on_a_crop_is_relative_to_the_crop() -> None:
    """Focus centre x 0.36 of 4000 px is 1440; in the box 875..3125 that is 25.1%."""
    style = attrs_of(HELPERS.responsive_img(with_crops(), crop="square", fit="cover"))["style"]
    assert style == "object-fit: cover; object-position: 25.1% 27.5%"
    image = with_crops(focus={"x": 0.01, "y": 0.99, "w": 0, "h": 0, "source": "editor"})
    style = attrs_of(HELPERS.responsive_img(image, crop="square", fit="cover"))["style"]
    assert style == "object-fit: cover; object-position: 0% 99%"  # x clamped to the box


def test_fit_merges_with_the_placeholder_and_the_callers_style() -> None:
    html = responsive_img(with_crops(), fit="cover", placeholder=True, style="border:0")
    (tag,) = parse(html)
    assert [n for n, _ in tag[1]].count("style") == 1
    style = dict(tag[1])["style"] or ""
    assert style.startswith("background-color:#336699;background-image:url(")
    assert style.endswith(
        "background-position:50% 50%;background-repeat:no-repeat;"
        "object-fit: cover; object-position: 36% 27.5%;border:0"
    )


@pytest.mark.parametrize(
    "focus",
    [
        None,
        {},
        {"x": "0.3", "y": 0.2},
        {"x": float("nan"), "y": 0.2},
        {"x": 1.5, "y": 0.2},
        {"x": True, "y": 0.2},
        {"x": "0.3;background:url(javascript:1)", "y": 0.2},
        "0.3,0.2",
    ],
)
def test_no_or_invalid_focus_centres(focus: Any) -> None:
    style = attrs_of(responsive_img(with_crops(focus=focus), fit="cover"))["style"]
    assert style == "object-fit: cover; object-position: 50% 50%"


def test_a_point_focus() -> None:
    image = with_crops(focus={"x": 0.125, "y": 1, "w": 0, "h": 0, "source": "faces"})
    style = attrs_of(responsive_img(image, fit="cover"))["style"]
    assert style == "object-fit: cover; object-position: 12.5% 100%"


@pytest.mark.parametrize("fit", ["contain", "cover; color: red", "", 1, ["cover"]])
def test_fit_other_than_cover_is_refused(fit: Any) -> None:
    with pytest.raises(ValueError, match="fit"):
        responsive_img(with_crops(), fit=fit)


def test_placeholder_of_a_crop_shows_where_the_crop_lies() -> None:
    image = with_crops()
    image["crops"]["square"]["box"] = [1750, 0, 4000, 2250]  # the right edge
    style = attrs_of(HELPERS.responsive_img(image, crop="square", placeholder=True))["style"]
    assert style is not None and "background-position:100% 50%;" in style
    image["crops"]["square"]["box"] = ["1750", 0, 4000, 2250]  # not a box: centred
    style = attrs_of(HELPERS.responsive_img(image, crop="square", placeholder=True))["style"]
    assert style is not None and "background-position:50% 50%;" in style


# -- a crop the description lacks ----------------------------------------------------


def test_missing_configured_crop_renders_the_main_set_in_its_shape(
    caplog: pytest.LogCaptureFixture,
) -> None:
    image = with_crops()
    del image["crops"]["square"]
    with caplog.at_level(logging.WARNING, logger="imgsvc.describe.choice"):
        html = HELPERS.responsive_img(image, crop="square", alt="x")
    assert html == (
        f'<img src="{SRC}" srcset="{SRCSET}" sizes="100vw" width="720" height="720" alt="x" '
        'loading="lazy" decoding="async" '
        'style="aspect-ratio: 1 / 1;object-fit: cover; object-position: 36% 27.5%">'
    )
    assert "1234" in caplog.text and "'square'" in caplog.text and "reconvert" in caplog.text


def test_sets_stored_before_crops_existed_fall_back_too() -> None:
    image = description()  # no "crops" and no "focus" at all
    attrs = attrs_of(HELPERS.responsive_img(image, crop="fourthree"))
    assert (attrs["src"], attrs["srcset"]) == (SRC, SRCSET)
    assert (attrs["width"], attrs["height"]) == ("960", "720")
    assert attrs["style"] == "aspect-ratio: 4 / 3;object-fit: cover; object-position: 50% 50%"


def test_without_settings_a_missing_crop_is_the_plain_main_set() -> None:
    """The module-level helpers know no configuration: no aspect to keep."""
    assert responsive_img(description(), crop="square") == responsive_img(description())


def test_unknown_crop_names_are_errors() -> None:
    with pytest.raises(ValueError, match=r"'sqaure'.*configured: fourthree, social, square"):
        HELPERS.responsive_img(with_crops(), crop="sqaure")
    with pytest.raises(TypeError, match="crop"):
        HELPERS.responsive_img(with_crops(), crop=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="configured: none"):
        ImageHelpers(crops={}).og_image(with_crops(), crop="wide")


def test_a_crop_in_the_description_renders_even_when_no_longer_configured() -> None:
    helpers = ImageHelpers(crops={})
    assert attrs_of(helpers.responsive_img(with_crops(), crop="square"))["src"] == sq(1280)


# -- og_image -------------------------------------------------------------------------


def test_og_image_of_the_social_crop() -> None:
    assert HELPERS.og_image(with_crops(), crop="social") == (
        f'<meta property="og:image" content="{SOCIAL}">\n'
        '<meta property="og:image:width" content="1200">\n'
        '<meta property="og:image:height" content="630">\n'
        '<meta property="og:image:type" content="image/jpeg">'
    )


def test_og_image_without_crop_is_the_widest_primary_variant() -> None:
    tags = parse(og_image(with_crops(("avif", "webp"))))
    assert [dict(a) for _, a in tags] == [
        {"property": "og:image", "content": SRC},
        {"property": "og:image:width", "content": "1280"},
        {"property": "og:image:height", "content": "720"},
        {"property": "og:image:type", "content": "image/webp"},
    ]


def test_og_image_prefers_jpeg_in_a_crop_that_has_it() -> None:
    image = with_crops()
    entry = image["crops"]["square"]
    entry["variants"].append(crop_variant("square", 1080, 1080, "jpeg"))
    contents = [dict(a)["content"] for _, a in parse(HELPERS.og_image(image, crop="square"))]
    assert contents == [sq(1080, "jpeg"), "1080", "1080", "image/jpeg"]
    del entry["variants"][-1]
    contents = [dict(a)["content"] for _, a in parse(HELPERS.og_image(image, crop="square"))]
    assert contents == [sq(1280), "1280", "1280", "image/webp"]


def test_og_image_alt_and_hostile_values_are_escaped() -> None:
    image = with_crops()
    image["crops"]["social"]["variants"][0]["url"] = 'https://x.example/a.jpg"><script>'
    html = HELPERS.og_image(image, crop="social", alt='Caption "quoted" <b>')
    assert "<script>" not in html and "<b>" not in html
    tags = parse(html)
    assert dict(tags[0][1])["content"] == 'https://x.example/a.jpg"><script>'
    assert tags[-1][1] == [("property", "og:image:alt"), ("content", 'Caption "quoted" <b>')]


def test_og_image_of_a_missing_crop_is_the_main_sets() -> None:
    image = with_crops()
    del image["crops"]["social"]
    assert HELPERS.og_image(image, crop="social") == HELPERS.og_image(image)


# -- registration ---------------------------------------------------------------------


def test_the_new_helper_is_registered_as_global_and_filter() -> None:
    assert "og_image" in templating.HELPER_NAMES
    env = Environment(autoescape=True)
    templating.register(env)
    out = env.from_string(
        '{{ og_image(image, crop="social") }}|{{ image|og_image }}'
        '|{{ responsive_img(image, crop="square", fit="cover") }}'
    ).render(image=with_crops())
    social, main, img = out.split("|")
    assert social == og_image(with_crops(), crop="social")
    assert main == og_image(with_crops())
    assert img == responsive_img(with_crops(), crop="square", fit="cover")


def test_crops_come_from_the_settings_of_the_app(tmp_path: Path) -> None:
    """init_app (create_app does it) knows the [[crops]] profiles: a missing one is
    stood in for at its aspect, an unknown name is an error."""
    crops = [{"name": "square", "aspect": "1:1"}, {"name": "wide", "aspect": "21:9"}]
    app = create_app(Settings.load({}, file_root=tmp_path, crops=crops))
    try:
        with app.app_context():
            env = app.jinja_env
            html = env.from_string('{{ responsive_img(image, crop="wide") }}').render(
                image=with_crops()
            )
            assert attrs_of(html)["style"] == (
                "aspect-ratio: 21 / 9;object-fit: cover; object-position: 36% 27.5%"
            )
            assert (attrs_of(html)["width"], attrs_of(html)["height"]) == ("1280", "549")
            with pytest.raises(ValueError, match="configured: square, wide"):
                env.from_string('{{ og_image(image, crop="social") }}').render(image=description())
    finally:
        app.extensions["imgsvc"].close()
