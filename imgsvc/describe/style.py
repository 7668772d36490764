"""The CSS the template helpers compute for ``style``: the placeholder (the stored
tiny preview, blurred, over the dominant colour), the aspect of a stand-in for a
missing crop, and ``object-fit: cover`` at the focus.

A manifest is a file anyone with bucket access can edit, so only a base64 image data
URI, a hex colour and numbers formatted here ever reach the style, and the SVG around
the preview is percent-encoded: nothing in the result needs HTML escaping (it is
escaped all the same, as every attribute).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ..pipeline.placeholder import PREVIEW_SIDE
from . import choice
from .choice import Chosen

_DATA_URI = re.compile(r"^data:image/(?:webp|png|jpeg|gif|avif);base64,[A-Za-z0-9+/]+={0,2}$")
_HEX_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_BLUR_STD = 20
_BLUR_SCALE = 40  # viewBox units per preview pixel, as Next.js does, so the blur looks alike


def _blurred(image: Mapping[str, Any], size: tuple[int, int], position: tuple[float, float]) -> str:
    """CSS painting the stored preview, blurred, and the dominant colour under it.

    ``size`` is the shape of the image the preview shows (the widest conversion's),
    ``position`` the ``background-position`` in percent: the centre for the main set,
    the crop's place for a crop, so that the whole-image preview covers a crop's frame
    where the crop lies. The blur is an SVG filter around the preview in a data URI
    (the technique of Next.js ``placeholder="blur"``), so no JavaScript is needed; the
    real image paints over it once decoded. Images with transparency show it through
    their transparent parts. Returns "" when the description has no (valid)
    placeholder, e.g. old manifests.
    """
    stored = image.get("placeholder")
    if not isinstance(stored, Mapping):
        return ""
    decls: list[str] = []
    color = stored.get("color")
    if isinstance(color, str) and _HEX_COLOR.match(color):
        decls.append(f"background-color:{color}")
    uri = stored.get("data_uri")
    if isinstance(uri, str) and _DATA_URI.match(uri):
        svg = _blur_svg(uri, *_preview_size(*size))
        decls += [
            f"background-image:url(data:image/svg+xml;charset=utf-8,{svg})",
            "background-size:cover",
            f"background-position:{percent(position[0])} {percent(position[1])}",
            "background-repeat:no-repeat",
        ]
    return ";".join(decls)


def placeholder(image: Mapping[str, Any], chosen: Chosen) -> str:
    """The placeholder of the set ``chosen`` shows: the whole-image preview placed where
    the crop lies, at the focus for a stand-in (where ``object-position`` puts the
    image), else centred. "" when the description has no (valid) placeholder."""
    size = choice.dimensions(image, choice.largest(image, choice.PRIMARY_FORMAT))
    if chosen.box is not None:
        position = choice.box_position(image, chosen.box)
    elif chosen.shape is not None:
        position = choice.focus_position(image)
    else:
        position = (50.0, 50.0)
    return _blurred(image, size, position)


def computed(image: Mapping[str, Any], chosen: Chosen, with_placeholder: bool, fit: bool) -> str:
    """The computed style: placeholder, a stand-in's aspect, then the fit at the focus."""
    decls = [placeholder(image, chosen)] if with_placeholder else []
    if chosen.shape is not None:
        decls.append(f"aspect-ratio: {chosen.shape[0]} / {chosen.shape[1]}")
    if fit or chosen.shape is not None:
        x, y = choice.focus_position(image, chosen.box)
        decls.append(f"object-fit: cover; object-position: {percent(x)} {percent(y)}")
    return ";".join(d for d in decls if d)


def percent(value: float) -> str:
    """A CSS percentage with one decimal (a tenth of a percent is under 6 px of a
    5,640 px photo), whole numbers bare: ``50%``, ``31.5%``."""
    text = f"{value:.1f}".removesuffix(".0")
    return f"{text}%"


def _blur_svg(data_uri: str, width: int, height: int) -> str:
    """The percent-encoded SVG that blurs ``data_uri`` and keeps its edges opaque.

    Quotes, spaces and parentheses are encoded too, so it is a valid unquoted CSS
    ``url()`` and needs no HTML escaping inside a style attribute.
    """
    std = _BLUR_STD
    svg = (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}'>"
        "<filter id='b' color-interpolation-filters='sRGB'>"
        f"<feGaussianBlur stdDeviation='{std}'/>"
        "<feColorMatrix values='1 0 0 0 0 0 1 0 0 0 0 0 1 0 0 0 0 0 100 -1' result='s'/>"
        "<feFlood x='0' y='0' width='100%' height='100%'/>"
        "<feComposite operator='out' in='s'/>"
        "<feComposite in2='SourceGraphic'/>"
        f"<feGaussianBlur stdDeviation='{std}'/>"
        "</filter>"
        "<image width='100%' height='100%' x='0' y='0' preserveAspectRatio='none' "
        f"style='filter: url(#b);' href='{data_uri}'/>"
        "</svg>"
    )
    return quote(svg, safe="=/:;,.+-")


def _preview_size(width: int, height: int) -> tuple[int, int]:
    """The preview's shape (longest side PREVIEW_SIDE) scaled to the blur's viewBox."""
    if width >= height:
        w, h = PREVIEW_SIDE, max(1, round(PREVIEW_SIDE * height / width))
    else:
        w, h = max(1, round(PREVIEW_SIDE * width / height)), PREVIEW_SIDE
    return w * _BLUR_SCALE, h * _BLUR_SCALE
