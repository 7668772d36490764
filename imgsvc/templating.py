"""Jinja2 helpers that turn a stored image description into responsive markup.

The helpers take the description the API returns (``GET /v1/images/{id}``,
``ImageService.describe``) and only *render* it: they never open, resize or fetch
an image, so a template costs no more than string formatting. Every value that
reaches the markup (URLs from the description, alt text, extra attributes) is
escaped with markupsafe; the result is ``Markup``, so autoescape leaves it alone.

Register them with ``init_app(app)`` on a Flask app (settings come from
``app.extensions["imgsvc"].settings``) or ``register(env, settings)`` on a plain
Jinja2 ``Environment``. They are then globals *and* filters::

    {{ responsive_img(image, sizes="article", alt=title) }}
    {{ image|picture(alt=title, placeholder=True) }}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from markupsafe import Markup

from .describe.markup import extra_attrs, tag, with_style
from .describe.srcset import srcset as srcset_of
from .formats import CONTENT_TYPES, PRIMARY, by_preference
from .pipeline.placeholder import PREVIEW_SIDE
from .settings import DEFAULT_SIZES_PRESETS, Settings

if TYPE_CHECKING:
    from flask import Flask
    from jinja2 import Environment

__all__ = ["ImageHelpers", "init_app", "picture", "register", "responsive_img", "srcset"]

PRIMARY_FORMAT = PRIMARY.name
HELPER_NAMES = ("srcset", "responsive_img", "picture")

# The placeholder is stored data, but a manifest is a file anyone with bucket access
# can edit: only a base64 image data URI and a hex colour ever reach a style attribute.
_DATA_URI = re.compile(r"^data:image/(?:webp|png|jpeg|gif|avif);base64,[A-Za-z0-9+/]+={0,2}$")
_HEX_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_BLUR_STD = 20
_BLUR_SCALE = 40  # viewBox units per preview pixel, as Next.js does, so the blur looks alike


@dataclass(frozen=True, slots=True)
class ImageHelpers:
    """The helpers bound to one configuration (``sizes`` presets, output formats)."""

    sizes_presets: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SIZES_PRESETS))
    formats: tuple[str, ...] = (PRIMARY_FORMAT,)

    @classmethod
    def from_settings(cls, settings: Settings | None) -> ImageHelpers:
        """Take presets and formats from ``settings``; the built-in defaults when None."""
        if settings is None:
            return cls()
        return cls(dict(settings.sizes_presets), tuple(settings.formats))

    def resolve_sizes(self, sizes: str) -> str:
        """A preset name (``"article"``) becomes its value; anything else is used as is.

        A real ``sizes`` value is a length or a media condition list, never a bare
        word (``auto`` aside), so a name cannot be mistaken for a value.
        """
        if not isinstance(sizes, str) or not sizes.strip():
            raise ValueError(f"sizes must be a preset name or a sizes value, got {sizes!r}")
        return self.sizes_presets.get(sizes, sizes)

    def srcset(self, image: Mapping[str, Any], fmt: str = PRIMARY_FORMAT) -> str:
        """``URL WIDTHw, ...`` of one format, narrowest first (plain text: escape on output)."""
        _require_description(image)
        variants = _variants(image, fmt)
        if not variants and fmt == PRIMARY_FORMAT:
            return str(image.get("srcset", ""))
        return srcset_of(variants, fmt)

    def responsive_img(
        self,
        image: Mapping[str, Any],
        sizes: str = "100vw",
        alt: str = "",
        loading: str | None = "lazy",
        decoding: str | None = "async",
        placeholder: bool = False,
        **attrs: Any,
    ) -> Markup:
        """``<img src srcset sizes width height alt loading decoding [style] [attrs...]>``.

        ``width``/``height`` are always present (those of the largest conversion,
        i.e. of ``src``), so the browser reserves the box before a byte arrives.
        Extra keyword attributes follow in the order given; ``class_`` becomes
        ``class`` and ``data_id`` becomes ``data-id``. ``None``/``False`` omit an
        attribute, ``True`` renders it bare. Raises ``TypeError`` when ``image`` is
        not a description or ``attrs`` tries to replace a computed attribute.
        """
        _require_description(image)
        largest = _largest(image, PRIMARY_FORMAT)
        width, height = _dimensions(image, largest)
        core: list[tuple[str, Any]] = [
            ("src", largest["url"] if largest else image.get("src", "")),
            ("srcset", self.srcset(image)),
            ("sizes", self.resolve_sizes(sizes)),
            ("width", width),
            ("height", height),
            ("alt", alt),
            ("loading", loading),
            ("decoding", decoding),
        ]
        extra = extra_attrs(attrs)
        if placeholder:
            extra = with_style(extra, placeholder_style(image))
        return tag("img", [*core, *extra])

    def picture(
        self,
        image: Mapping[str, Any],
        sizes: str = "100vw",
        alt: str = "",
        loading: str | None = "lazy",
        decoding: str | None = "async",
        placeholder: bool = False,
        formats: Iterable[str] | None = None,
        **attrs: Any,
    ) -> Markup:
        """``<picture>`` with one ``<source>`` per format (AVIF first) around the ``<img>``.

        Only formats that are both configured (or passed as ``formats``) and present
        in the description get a source; with one such format the result is just
        the ``<img>``, which is all a browser needs then.
        """
        img = self.responsive_img(image, sizes, alt, loading, decoding, placeholder, **attrs)
        chosen = _formats_in(image, self.formats if formats is None else tuple(formats))
        if len(chosen) < 2:
            return img
        resolved = self.resolve_sizes(sizes)
        sources = [
            tag(
                "source",
                [
                    ("type", CONTENT_TYPES.get(fmt, f"image/{fmt}")),
                    ("srcset", self.srcset(image, fmt)),
                    ("sizes", resolved),
                ],
            )
            for fmt in chosen
        ]
        return Markup("<picture>") + Markup("").join(sources) + img + Markup("</picture>")


def placeholder_style(image: Mapping[str, Any]) -> str:
    """CSS painting the stored preview, blurred, and the dominant colour under it.

    The blur is an SVG filter wrapped around the tiny preview in a data URI (the
    technique of Next.js ``placeholder="blur"``), so no JavaScript is needed; the
    real image paints over it once decoded. Images with transparency show the
    placeholder through their transparent parts: leave ``placeholder`` off for those.
    Returns "" when the description has no (valid) placeholder, e.g. old manifests.
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
        svg = _blur_svg(uri, *_preview_size(image))
        decls += [
            f"background-image:url(data:image/svg+xml;charset=utf-8,{svg})",
            "background-size:cover",
            "background-position:50% 50%",
            "background-repeat:no-repeat",
        ]
    return ";".join(decls)


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


def _preview_size(image: Mapping[str, Any]) -> tuple[int, int]:
    """The preview's shape (longest side PREVIEW_SIDE) scaled to the blur's viewBox."""
    width, height = _dimensions(image, _largest(image, PRIMARY_FORMAT))
    if width >= height:
        w, h = PREVIEW_SIDE, max(1, round(PREVIEW_SIDE * height / width))
    else:
        w, h = max(1, round(PREVIEW_SIDE * width / height)), PREVIEW_SIDE
    return w * _BLUR_SCALE, h * _BLUR_SCALE


def _require_description(image: object) -> None:
    if not isinstance(image, Mapping):
        raise TypeError(
            f"expected an image description (the dict GET /v1/images/{{id}} returns), "
            f"got {type(image).__name__}"
        )


def _variants(image: Mapping[str, Any], fmt: str) -> list[dict[str, Any]]:
    """The variants of one format, narrowest first; old manifests had WebP only."""
    found = [{**v, "format": v.get("format", PRIMARY_FORMAT)} for v in image.get("variants") or ()]
    return sorted((v for v in found if v["format"] == fmt), key=lambda v: int(v["width"]))


def _largest(image: Mapping[str, Any], fmt: str) -> dict[str, Any] | None:
    variants = _variants(image, fmt)
    return variants[-1] if variants else None


def _dimensions(image: Mapping[str, Any], largest: Mapping[str, Any] | None) -> tuple[int, int]:
    """Width and height of ``src`` (the largest conversion), else of the source."""
    box = largest if largest is not None else image
    try:
        return int(box["width"]), int(box["height"])
    except (KeyError, TypeError, ValueError) as exc:
        raise TypeError("the image description has no usable width and height") from exc


def _formats_in(image: Mapping[str, Any], wanted: Iterable[str]) -> list[str]:
    """``wanted`` formats the image has, in the registry's preference order (smallest
    files first: a browser takes the first <source> whose type it supports)."""
    have = {v.get("format", PRIMARY_FORMAT) for v in image.get("variants") or ()}
    return by_preference([fmt for fmt in wanted if fmt in have])


# -- registration ------------------------------------------------------------------

_DEFAULT = ImageHelpers()
#: Module-level helpers with the built-in defaults, for use outside templates.
srcset = _DEFAULT.srcset
responsive_img = _DEFAULT.responsive_img
picture = _DEFAULT.picture


def register(env: Environment, settings: Settings | None = None) -> ImageHelpers:
    """Add the helpers to ``env`` as globals and filters; defaults when no settings."""
    helpers = ImageHelpers.from_settings(settings)
    for name in HELPER_NAMES:
        env.globals[name] = getattr(helpers, name)
        env.filters[name] = getattr(helpers, name)
    return helpers


def init_app(app: Flask) -> ImageHelpers:
    """Register on a Flask app, with the settings of its imgsvc service when it has one."""
    settings = getattr(app.extensions.get("imgsvc"), "settings", None)
    return register(app.jinja_env, settings)
