"""describe.markup: tags built safely. A client's alt text or a template's attribute
must never be able to end an attribute or open a tag."""

from __future__ import annotations

from typing import Any

import pytest
from markupsafe import Markup

from imgsvc.describe.markup import RESERVED, extra_attrs, tag, with_style


def test_values_are_escaped_so_quotes_and_brackets_cannot_break_out() -> None:
    got = tag("img", [("alt", "say \"hi\" <b> & 'x'")])
    assert got == '<img alt="say &#34;hi&#34; &lt;b&gt; &amp; &#39;x&#39;">'
    assert isinstance(got, Markup)  # safe to put in a Jinja template unescaped


def test_markup_values_are_not_escaped_twice_and_still_cannot_break_out() -> None:
    """Markup is unescaped first: ``&amp;`` stays one entity, and a quote inside
    Markup (which a template author may think safe) is escaped all the same."""
    got = tag("img", [("alt", Markup("a &amp; b")), ("title", Markup('" onerror="x'))])
    assert got == '<img alt="a &amp; b" title="&#34; onerror=&#34;x">'


def test_true_is_a_bare_attribute_and_none_or_false_are_left_out() -> None:
    attrs = [("loading", "lazy"), ("hidden", True), ("title", None), ("draggable", False)]
    assert tag("img", attrs) == '<img loading="lazy" hidden>'
    assert tag("source", [("media", 0)]) == '<source media="0">'  # falsy, but a value


def test_keyword_names_become_html_attribute_names_in_order() -> None:
    got = extra_attrs({"class_": "hero", "data_id": 5, "aria_label": "Lead", "Loading": "lazy"})
    assert got == [("class", "hero"), ("data-id", 5), ("aria-label", "Lead"), ("loading", "lazy")]


@pytest.mark.parametrize("name", [*sorted(RESERVED), "SRCSET", "width_"])
def test_computed_attributes_cannot_be_set(name: str) -> None:
    """src, srcset, sizes, width, height and type always match the description."""
    with pytest.raises(TypeError, match="computed from the description"):
        extra_attrs({name: "x"})


@pytest.mark.parametrize("name", ["on click", '" onerror', "1x", "a>b", ""])
def test_names_that_are_not_attribute_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not an HTML attribute name"):
        extra_attrs({name: "x"})


def test_the_placeholder_style_goes_first_so_the_callers_style_wins() -> None:
    attrs: list[tuple[str, Any]] = [("class", "hero"), ("style", "color: red")]
    got = with_style(attrs, "background: #abc")
    assert got == [("class", "hero"), ("style", "background: #abc;color: red")]
    assert attrs == [("class", "hero"), ("style", "color: red")]  # the input is not changed


def test_with_style_adds_the_style_when_the_caller_gave_none() -> None:
    assert with_style([("alt", "a")], "background: #abc") == [
        ("alt", "a"),
        ("style", "background: #abc"),
    ]
    assert with_style([("style", None), ("alt", "a")], "background: #abc") == [
        ("alt", "a"),
        ("style", "background: #abc"),
    ]
    attrs: list[tuple[str, Any]] = [("style", "color: red")]
    assert with_style(attrs, "") is attrs


def test_a_styled_tag_escapes_the_callers_style() -> None:
    attrs = with_style([("style", 'x"><script>')], "background: #abc")
    assert tag("img", attrs) == '<img style="background: #abc;x&#34;&gt;&lt;script&gt;">'
