"""The template helpers: exact markup, escaping, presets, <picture> and the placeholder.

Descriptions are built by hand (the shape ``describe()`` returns), so these tests
pin the markup without running the pipeline.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template_string
from jinja2 import Environment
from markupsafe import Markup

from imgsvc import Settings, create_app, templating
from imgsvc.templating import ImageHelpers, picture, placeholder_style, responsive_img, srcset

BASE = "https://cdn.example/media"
PREVIEW = "data:image/webp;base64,UklGRjYAAABXRUJQVlA4ICoAAAA+"


def variant(size: str, width: int, height: int, fmt: str = "webp", base: str = BASE) -> dict:
    key = f"media/1234/conversions/photo-{size}-___{fmt}_{width}.{fmt}"
    return {
        "size": size,
        "width": width,
        "height": height,
        "format": fmt,
        "key": key,
        "url": f"{base}/{key}",
        "bytes": width * 10,
    }


def description(formats: tuple[str, ...] = ("webp",), base: str = BASE, **extra: Any) -> dict:
    sizes = [("sm", 480, 270), ("md", 768, 432), ("lg", 1280, 720)]
    variants = [variant(n, w, h, fmt, base) for fmt in formats for n, w, h in sizes]
    webp = [v for v in variants if v["format"] == "webp"]
    image = {
        "id": "1234",
        "srcset": ", ".join(f"{v['url']} {v['width']}w" for v in webp),
        "src": webp[-1]["url"],
        "width": 4000,
        "height": 2250,
        "variants": variants,
        "original": {"key": "media/1234/photo.jpg", "url": f"{base}/media/1234/photo.jpg"},
        "placeholder": {"data_uri": PREVIEW, "color": "#336699"},
    }
    return image | extra


SRCSET = (
    f"{BASE}/media/1234/conversions/photo-sm-___webp_480.webp 480w, "
    f"{BASE}/media/1234/conversions/photo-md-___webp_768.webp 768w, "
    f"{BASE}/media/1234/conversions/photo-lg-___webp_1280.webp 1280w"
)
SRC = f"{BASE}/media/1234/conversions/photo-lg-___webp_1280.webp"


class _Attrs(HTMLParser):
    """Collects (tag, [(name, value), ...]) for every start tag, values unescaped."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def parse(markup: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Attrs()
    parser.feed(str(markup))
    return parser.tags


# -- responsive_img -------------------------------------------------------------------


def test_img_exact_markup() -> None:
    html = responsive_img(description())
    assert isinstance(html, Markup)
    assert html == (
        f'<img src="{SRC}" srcset="{SRCSET}" sizes="100vw" width="1280" height="720" '
        'alt="" loading="lazy" decoding="async">'
    )


def test_srcset_is_the_primary_format_narrowest_first() -> None:
    image = description(("avif", "webp"))
    image["variants"].reverse()
    assert srcset(image) == SRCSET
    assert srcset(image, "avif").startswith(f"{BASE}/media/1234/conversions/photo-sm-___avif_480")


def test_hostile_alt_text_is_escaped() -> None:
    html = responsive_img(description(), alt="\"><script>alert(1)</script> & 'x'")
    assert 'alt="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#39;x&#39;"' in html
    assert "<script>" not in html
    (tag,) = parse(html)
    assert dict(tag[1])["alt"] == "\"><script>alert(1)</script> & 'x'"


def test_urls_with_quotes_and_brackets_are_escaped() -> None:
    hostile = 'https://evil.example/"onerror="alert(1)<&>'
    html = responsive_img(description(base=hostile))
    assert 'onerror="alert' not in html
    assert "&#34;onerror=&#34;alert(1)&lt;&amp;&gt;" in html
    (tag,) = parse(html)
    attrs = dict(tag[1])
    assert list(attrs) == [
        "src",
        "srcset",
        "sizes",
        "width",
        "height",
        "alt",
        "loading",
        "decoding",
    ]
    assert attrs["src"].startswith(hostile)
    assert attrs["srcset"].count(hostile) == 3


def test_markup_values_are_not_escaped_twice_but_cannot_break_out() -> None:
    html = responsive_img(description(), alt=Markup('Tom &amp; "Jerry"'))
    assert 'alt="Tom &amp; &#34;Jerry&#34;"' in html


def test_attribute_order_is_stable() -> None:
    a = responsive_img(description(), alt="x", loading="eager", class_="hero", data_id=7)
    b = responsive_img(description(), data_id=7, class_="hero", loading="eager", alt="x")
    names = [name for name, _ in parse(a)[0][1]]
    assert names[:8] == ["src", "srcset", "sizes", "width", "height", "alt", "loading", "decoding"]
    assert names[8:] == ["class", "data-id"]
    assert parse(b)[0][1][:8] == parse(a)[0][1][:8]
    assert responsive_img(description()) == responsive_img(description())


def test_extra_attributes_none_false_true_and_reserved() -> None:
    html = responsive_img(description(), loading=None, decoding=None, id=None, hidden=True)
    assert html.endswith('alt="" hidden>')
    assert "loading" not in html and "decoding" not in html
    with pytest.raises(TypeError, match="computed"):
        responsive_img(description(), width=10)
    with pytest.raises(TypeError, match="computed"):
        responsive_img(description(), srcset_="x")
    with pytest.raises(ValueError, match="attribute name"):
        responsive_img(description(), **{'x"onload': "1"})


def test_width_and_height_always_present() -> None:
    """Those of src (the largest conversion); the source's when there are no variants."""
    (tag,) = parse(responsive_img(description()))
    assert dict(tag[1])["width"] == "1280" and dict(tag[1])["height"] == "720"
    bare = description(variants=[], src=f"{BASE}/a.webp", srcset=f"{BASE}/a.webp 4000w")
    (tag,) = parse(responsive_img(bare))
    assert (dict(tag[1])["width"], dict(tag[1])["height"]) == ("4000", "2250")
    assert dict(tag[1])["srcset"] == f"{BASE}/a.webp 4000w"


def test_old_variants_without_format_are_webp() -> None:
    image = description()
    for v in image["variants"]:
        del v["format"]
    assert srcset(image) == SRCSET


def test_not_a_description() -> None:
    with pytest.raises(TypeError, match="image description"):
        responsive_img("photo.jpg")  # type: ignore[arg-type]


# -- picture --------------------------------------------------------------------------


def test_picture_with_two_formats_puts_avif_first() -> None:
    helpers = ImageHelpers(formats=("webp", "avif"))
    html = helpers.picture(description(("webp", "avif")), sizes="50vw", alt="a<b")
    avif = SRCSET.replace("webp", "avif")
    assert html == (
        "<picture>"
        f'<source type="image/avif" srcset="{avif}" sizes="50vw">'
        f'<source type="image/webp" srcset="{SRCSET}" sizes="50vw">'
        f'<img src="{SRC}" srcset="{SRCSET}" sizes="50vw" width="1280" height="720" '
        'alt="a&lt;b" loading="lazy" decoding="async">'
        "</picture>"
    )


def test_picture_with_one_format_is_just_the_img() -> None:
    two = description(("avif", "webp"))
    assert picture(two) == responsive_img(two)  # defaults: WebP only configured
    configured = ImageHelpers(formats=("avif", "webp"))
    assert configured.picture(description()) == configured.responsive_img(description())
    assert configured.picture(two, formats=["webp"]) == configured.responsive_img(two)


# -- sizes presets --------------------------------------------------------------------


def test_sizes_preset_by_name() -> None:
    html = responsive_img(description(), sizes="article")
    assert 'sizes="(min-width: 1024px) 720px, 100vw"' in html
    assert 'sizes="100vw"' in responsive_img(description(), sizes="full")
    literal = "(max-width: 600px) 100vw, 50vw"
    assert f'sizes="{literal}"' in responsive_img(description(), sizes=literal)
    with pytest.raises(ValueError, match="sizes"):
        responsive_img(description(), sizes="")


def test_presets_from_settings_on_a_plain_environment(tmp_path: Path) -> None:
    settings = Settings.load(
        {}, file_root=tmp_path, sizes_presets={"card": "(min-width: 800px) 33vw, 100vw"}
    )
    env = Environment(autoescape=True)
    templating.register(env, settings)
    html = env.from_string('{{ responsive_img(image, sizes="card", alt=alt) }}').render(
        image=description(), alt="<b>"
    )
    assert 'sizes="(min-width: 800px) 33vw, 100vw"' in html
    assert 'alt="&lt;b&gt;"' in html  # escaped once, not twice
    assert 'sizes="article"' in env.from_string(
        '{{ image|responsive_img(sizes="article") }}'
    ).render(image=description())  # not a preset of these settings: used literally


def test_register_without_settings_uses_defaults() -> None:
    env = Environment(autoescape=True)
    templating.register(env)
    out = env.from_string('{{ image|responsive_img(sizes="article") }}|{{ srcset(image) }}')
    img, text = out.render(image=description()).split("|")
    assert 'sizes="(min-width: 1024px) 720px, 100vw"' in img
    assert text == SRCSET  # autoescape left the URLs alone: nothing to escape


def test_init_app_takes_settings_from_the_imgsvc_extension(tmp_path: Path) -> None:
    settings = Settings.load(
        {},
        file_root=tmp_path,
        formats=("webp", "avif"),
        sizes_presets={"hero": "(min-width: 1200px) 1200px, 100vw"},
    )
    app = create_app(settings)
    with app.app_context():
        html = render_template_string(
            '{{ picture(image, sizes="hero") }}', image=description(("avif", "webp"))
        )
    assert html.startswith('<picture><source type="image/avif"')
    assert html.count('sizes="(min-width: 1200px) 1200px, 100vw"') == 3


def test_init_app_on_any_flask_app_uses_defaults() -> None:
    app = Flask("someone-else")
    templating.init_app(app)
    with app.app_context():
        html = render_template_string(
            '{{ responsive_img(image, sizes="article") }}', image=description()
        )
    assert 'sizes="(min-width: 1024px) 720px, 100vw"' in html


# -- placeholder ----------------------------------------------------------------------


def test_placeholder_style_is_a_blurred_background() -> None:
    html = responsive_img(description(), placeholder=True, style="border-radius:4px")
    (tag,) = parse(html)
    names = [name for name, _ in tag[1]]
    assert names[-1] == "style" and names.count("style") == 1
    style = dict(tag[1])["style"]
    assert style.startswith("background-color:#336699;background-image:url(data:image/svg+xml;")
    assert "feGaussianBlur" in style and "UklGRjYAAABXRUJQVlA4ICoAAAA+" in style
    assert style.endswith(
        "background-size:cover;background-position:50% 50%;"
        "background-repeat:no-repeat;border-radius:4px"
    )
    # encoded so that nothing in it needs HTML escaping nor ends the unquoted url()
    url = style.split("url(", 1)[1].split(");", 1)[0]
    assert not any(c in url for c in "\"'() <>#")


def test_placeholder_absent_or_none_renders_no_style() -> None:
    missing = description()
    del missing["placeholder"]
    for image in (missing, description(placeholder=None), description(placeholder={})):
        assert "style=" not in responsive_img(image, placeholder=True)
    assert "style=" not in responsive_img(description())  # off unless asked for


def test_hostile_placeholder_values_never_reach_the_style() -> None:
    evil = {"data_uri": 'data:image/webp;base64,AAAA");x:url(javascript:1', "color": "red;x:1"}
    assert placeholder_style(description(placeholder=evil)) == ""
    only_colour = {"data_uri": "javascript:alert(1)", "color": "#abc"}
    assert placeholder_style(description(placeholder=only_colour)) == "background-color:#abc"
    html = responsive_img(description(placeholder=evil), placeholder=True, style='"><x')
    assert 'style="&#34;&gt;&lt;x"' in html


def test_placeholder_aspect_follows_the_image() -> None:
    portrait = description()
    for v in portrait["variants"]:
        v["width"], v["height"] = v["height"], v["width"]
    assert "viewBox=%270%200%20360%20640%27" in placeholder_style(portrait)
    assert "viewBox=%270%200%20640%20360%27" in placeholder_style(description())
