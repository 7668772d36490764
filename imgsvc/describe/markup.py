"""Markup built safely: every attribute value escaped, client text never concatenated
into HTML (Wagtail's rule for its image tags). The template helpers build their
tags with ``tag``; nothing here knows what an image description is."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from markupsafe import Markup, escape

#: Attributes the helpers compute; letting ``**attrs`` replace them would break the
#: promise that src, srcset, sizes, width and height always match the description.
RESERVED = frozenset({"src", "srcset", "sizes", "width", "height", "type"})
_ATTR_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_:.-]*$")


def extra_attrs(attrs: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Keyword arguments as HTML attribute names, in the order given."""
    out: list[tuple[str, Any]] = []
    for key, value in attrs.items():
        name = key.rstrip("_").replace("_", "-").lower()
        if name in RESERVED:
            raise TypeError(f"{name!r} is computed from the description and cannot be set")
        if not _ATTR_NAME.match(name):
            raise ValueError(f"not an HTML attribute name: {key!r}")
        out.append((name, value))
    return out


def with_style(attrs: list[tuple[str, Any]], style: str) -> list[tuple[str, Any]]:
    """Put the placeholder style first in ``style``, so the caller's own style wins."""
    if not style:
        return attrs
    for i, (name, value) in enumerate(attrs):
        if name == "style" and value not in (None, False, ""):
            attrs = list(attrs)
            attrs[i] = ("style", f"{style};{text(value)}")
            return attrs
    return [*[(n, v) for n, v in attrs if n != "style"], ("style", style)]


def text(value: Any) -> str:
    """An attribute value as plain text; ``Markup`` is unescaped first so it is not
    escaped twice, and its quotes still cannot end the attribute."""
    return value.unescape() if isinstance(value, Markup) else str(value)


def tag(name: str, attrs: Iterable[tuple[str, Any]]) -> Markup:
    parts = [Markup(name)]
    for key, value in attrs:
        if value is None or value is False:
            continue
        if value is True:
            parts.append(Markup(key))
        else:
            parts.append(Markup('{}="{}"').format(Markup(key), escape(text(value))))
    return Markup("<") + Markup(" ").join(parts) + Markup(">")
