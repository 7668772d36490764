"""picture(art=...): art-directed sources per entry and per format, in the order given,
before the main set's sources and the <img>; escaping and malformed arguments."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from imgsvc.templating import ImageHelpers

from .test_templating import SRC, SRCSET, parse
from .test_templating_crops import CROPS, SQ_SRCSET, sq, with_crops

MOBILE = "(max-width: 600px)"
WEBP_ONLY = ImageHelpers(formats=("webp",), crops=CROPS)
TWO = ImageHelpers(formats=("avif", "webp"), crops=CROPS)
IMG = (
    f'<img src="{SRC}" srcset="{SRCSET}" sizes="100vw" width="1280" height="720" alt="A" '
    'loading="lazy" decoding="async">'
)


def test_art_with_one_format_exact_markup() -> None:
    html = WEBP_ONLY.picture(with_crops(), alt="A", art=[(MOBILE, "square")])
    assert html == (
        "<picture>"
        f'<source media="{MOBILE}" type="image/webp" srcset="{SQ_SRCSET}" sizes="100vw" '
        'width="1280" height="1280">'
        f"{IMG}"
        "</picture>"
    )


def test_art_with_two_formats_best_first_then_the_main_sources() -> None:
    tags = parse(TWO.picture(with_crops(("avif", "webp")), sizes="50vw", art=[(MOBILE, "square")]))
    assert [t for t, _ in tags] == ["picture", "source", "source", "source", "source", "img"]
    sources = [dict(a) for _, a in tags[1:5]]
    assert sources[0] == {
        "media": MOBILE,
        "type": "image/avif",
        "srcset": SQ_SRCSET.replace("webp", "avif"),
        "sizes": "50vw",
        "width": "1280",
        "height": "1280",
    }
    assert sources[1]["type"] == "image/webp" and sources[1]["srcset"] == SQ_SRCSET
    assert [list(s) for s in sources[2:]] == [["type", "srcset", "sizes"]] * 2
    assert [s["type"] for s in sources[2:]] == ["image/avif", "image/webp"]
    assert sources[3]["srcset"] == SRCSET
    assert dict(tags[-1][1])["src"] == SRC


def test_entries_keep_their_order_and_may_have_their_own_sizes() -> None:
    art = [("(max-width: 400px)", "social", "100vw"), (MOBILE, "square", "article")]
    tags = parse(WEBP_ONLY.picture(with_crops(), sizes="50vw", art=art))
    sources = [dict(a) for t, a in tags if t == "source"]
    assert [(s["media"], s["type"], s["sizes"]) for s in sources] == [
        ("(max-width: 400px)", "image/jpeg", "100vw"),
        (MOBILE, "image/webp", "(min-width: 1024px) 720px, 100vw"),
    ]
    assert (sources[0]["width"], sources[0]["height"]) == ("1200", "630")


def test_hostile_media_is_escaped() -> None:
    media = '(max-width: 600px)" onerror="alert(1)"><script>x</script>'
    html = WEBP_ONLY.picture(with_crops(), art=[(media, "square")])
    assert "<script>" not in html and 'onerror="' not in html
    source = dict(parse(html)[1][1])
    assert source["media"] == media


def test_formats_restricts_the_crops_sources_too() -> None:
    tags = parse(
        TWO.picture(with_crops(("avif", "webp")), formats=["webp"], art=[(MOBILE, "square")])
    )
    assert [dict(a).get("type") for t, a in tags if t == "source"] == ["image/webp"]


def test_a_missing_crop_gets_the_main_sets_source_at_its_media(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The breakpoints stay as designed: at <= 600 px the main set, not a later entry."""
    image = with_crops()
    del image["crops"]["square"]
    art = [(MOBILE, "square"), ("(max-width: 1000px)", "social")]
    with caplog.at_level(logging.WARNING):
        tags = parse(WEBP_ONLY.picture(image, art=art))
    sources = [dict(a) for t, a in tags if t == "source"]
    assert sources[0] == {
        "media": MOBILE,
        "type": "image/webp",
        "srcset": SRCSET,
        "sizes": "100vw",
        "width": "1280",
        "height": "720",
    }
    assert sources[1]["media"] == "(max-width: 1000px)" and sources[1]["type"] == "image/jpeg"
    assert "'square'" in caplog.text


def test_picture_of_a_crop() -> None:
    tags = parse(TWO.picture(with_crops(("avif", "webp")), crop="square", fit="cover"))
    assert [dict(a).get("srcset") for t, a in tags if t == "source"] == [
        SQ_SRCSET.replace("webp", "avif"),
        SQ_SRCSET,
    ]
    img = dict(tags[-1][1])
    assert img["src"] == sq(1280)
    assert img["style"] == "object-fit: cover; object-position: 25.1% 27.5%"


def test_no_art_is_as_before() -> None:
    image = with_crops()
    assert WEBP_ONLY.picture(image, art=[]) == WEBP_ONLY.responsive_img(image)
    assert WEBP_ONLY.picture(image, art=None) == WEBP_ONLY.picture(image)


@pytest.mark.parametrize(
    ("art", "error"),
    [
        ("(max-width: 600px) square", TypeError),
        ({MOBILE: "square"}, TypeError),
        (42, TypeError),
        ([MOBILE], TypeError),
        ([(MOBILE,)], TypeError),
        ([(MOBILE, "square", "100vw", "x")], TypeError),
        ([("", "square")], ValueError),
        ([("  ", "square")], ValueError),
        ([(None, "square")], ValueError),
        ([(MOBILE, "nope")], ValueError),
        ([(MOBILE, 3)], TypeError),
        ([(MOBILE, "square", "")], ValueError),
    ],
)
def test_malformed_art_is_refused(art: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        WEBP_ONLY.picture(with_crops(), art=art)


def test_a_crop_with_an_unusable_box_keeps_its_own_formats() -> None:
    image = with_crops()
    image["crops"]["social"]["box"] = "0,100,4000,2200"
    tags = parse(WEBP_ONLY.picture(image, art=[(MOBILE, "social")]))
    assert [dict(a)["type"] for t, a in tags if t == "source"] == ["image/jpeg"]
