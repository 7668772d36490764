"""Jinja2 helpers that turn a stored image description into responsive markup.

The helpers take the description the API returns (``GET /v1/images/{id}``,
``ImageService.describe``) and only *render* it: they never open, resize or fetch
an image, so a template costs no more than string formatting. Every value that
reaches the markup (URLs from the description, alt text, media queries, extra
attributes) is escaped with markupsafe; the result is ``Markup``, so autoescape
leaves it alone. Which set and which variant to render (the main set or a crop,
the focus) is read by ``describe/choice.py``; the placeholder's CSS is made by
``describe/style.py``; tags are built by ``describe/markup.py``.

Register them with ``init_app(app)`` on a Flask app (settings come from
``app.extensions["imgsvc"].settings``) or ``register(env, settings)`` on a plain
Jinja2 ``Environment``. They are then globals *and* filters::

    {{ responsive_img(image, sizes="article", alt=title) }}
    {{ image|picture(alt=title, art=[("(max-width: 600px)", "square")]) }}
    {{ og_image(image, crop="social") }}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from .describe import choice, style
from .describe.choice import Art, Chosen
from .describe.markup import extra_attrs, tag, with_style
from .describe.srcset import srcset as srcset_of
from .formats import PRIMARY, content_type_of
from .settings import DEFAULT_SIZES_PRESETS, Settings

if TYPE_CHECKING:
    from flask import Flask
    from jinja2 import Environment

__all__ = [
    "ImageHelpers",
    "init_app",
    "og_image",
    "picture",
    "placeholder_style",
    "register",
    "responsive_img",
    "srcset",
]

PRIMARY_FORMAT = PRIMARY.name
HELPER_NAMES = ("srcset", "responsive_img", "picture", "og_image")
#: ``fit`` values: a CSS ``object-fit`` that the focus can steer (``contain`` shows all).
FITS = ("cover",)


@dataclass(frozen=True, slots=True)
class ImageHelpers:
    """The helpers bound to one configuration (``sizes`` presets, output formats and
    the ``[[crops]]`` profiles by name; ``crops`` None: not known, as without settings)."""

    sizes_presets: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SIZES_PRESETS))
    formats: tuple[str, ...] = (PRIMARY_FORMAT,)
    crops: Mapping[str, tuple[int, int]] | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None) -> ImageHelpers:
        """Take presets, formats and crops from ``settings``; the built-in defaults when None."""
        if settings is None:
            return cls()
        crops = {c.name: c.aspect for c in settings.crops}
        return cls(dict(settings.sizes_presets), tuple(settings.formats), crops)

    def resolve_sizes(self, sizes: str) -> str:
        """A preset name (``"article"``) becomes its value; anything else is used as is.

        A real ``sizes`` value is a length or a media condition list, never a bare
        word (``auto`` aside), so a name cannot be mistaken for a value.
        """
        if not isinstance(sizes, str) or not sizes.strip():
            raise ValueError(f"sizes must be a preset name or a sizes value, got {sizes!r}")
        return self.sizes_presets.get(sizes, sizes)

    def srcset(
        self, image: Mapping[str, Any], fmt: str | None = None, crop: str | None = None
    ) -> str:
        """``URL WIDTHw, ...`` of one format (default: the set's srcset format, WebP for
        the main set), narrowest first, of the main set or of ``crop`` (plain text:
        escape on output)."""
        _require_description(image)
        chosen = choice.choose(image, crop, self.crops)
        return _srcset(chosen, fmt or chosen.fmt)

    def responsive_img(
        self,
        image: Mapping[str, Any],
        sizes: str = "100vw",
        alt: str = "",
        loading: str | None = "lazy",
        decoding: str | None = "async",
        placeholder: bool = False,
        *,
        crop: str | None = None,
        fit: str | None = None,
        **attrs: Any,
    ) -> Markup:
        """``<img src srcset sizes width height alt loading decoding [style] [attrs...]>``.

        ``width``/``height`` are always present (those of the largest conversion,
        i.e. of ``src``), so the browser reserves the box before a byte arrives.
        ``crop`` renders that ``[[crops]]`` profile's set instead of the main one (a
        configured crop the description lacks: the main set covered to the crop's
        aspect at the focus, see ``describe/choice.py``). ``fit="cover"`` adds
        ``object-fit: cover; object-position: X% Y%`` at the focus, so a frame that
        CSS crops keeps the subject. Extra keyword attributes follow in the order
        given; ``class_`` becomes ``class``, ``data_id`` ``data-id``; ``None``/``False``
        omit one, ``True`` renders it bare. Raises ``TypeError`` when ``image`` is not
        a description or ``attrs`` tries to replace a computed attribute, and
        ``ValueError`` for an unknown ``fit`` or crop.
        """
        _require_description(image)
        if fit is not None and fit not in FITS:
            raise ValueError(f"fit must be None or one of {FITS}, got {fit!r}")
        chosen = choice.choose(image, crop, self.crops)
        widest = choice.largest(chosen.data, chosen.fmt)
        width, height = choice.shaped(*choice.dimensions(chosen.data, widest), chosen.shape)
        core: list[tuple[str, Any]] = [
            ("src", widest["url"] if widest else chosen.data.get("src", "")),
            ("srcset", _srcset(chosen, chosen.fmt)),
            ("sizes", self.resolve_sizes(sizes)),
            ("width", width),
            ("height", height),
            ("alt", alt),
            ("loading", loading),
            ("decoding", decoding),
        ]
        computed = style.computed(image, chosen, placeholder, fit is not None)
        return tag("img", [*core, *with_style(extra_attrs(attrs), computed)])

    def picture(
        self,
        image: Mapping[str, Any],
        sizes: str = "100vw",
        alt: str = "",
        loading: str | None = "lazy",
        decoding: str | None = "async",
        placeholder: bool = False,
        formats: Iterable[str] | None = None,
        *,
        art: Art | None = None,
        crop: str | None = None,
        fit: str | None = None,
        **attrs: Any,
    ) -> Markup:
        """``<picture>``: the art-directed sources, one ``<source>`` per format (AVIF
        first), then the ``<img>`` of ``responsive_img``.

        ``art`` is a list of ``(media, crop)`` or ``(media, crop, sizes)``: per entry,
        in the order given (a browser takes the first source whose media matches),
        one ``<source media type srcset sizes width height>`` per format of that crop.
        The main set's formats are those both configured (or passed as ``formats``)
        and present; a crop's are those it has (within ``formats`` when passed). With
        no art and one main format the result is just the ``<img>``, which is all a
        browser needs then. Raises like ``responsive_img``, and ``TypeError`` or
        ``ValueError`` for a malformed ``art``.
        """
        entries = choice.art_entries(art)
        img = self.responsive_img(
            image, sizes, alt, loading, decoding, placeholder, crop=crop, fit=fit, **attrs
        )
        wanted = None if formats is None else tuple(formats)
        resolved = self.resolve_sizes(sizes)
        sources: list[Markup] = []
        for media, name, own_sizes in entries:
            chosen = choice.choose(image, name, self.crops)
            given = self.resolve_sizes(own_sizes) if own_sizes is not None else resolved
            sources += self._sources(chosen, wanted, given, media, dims=True, alone=True)
        sources += self._sources(choice.choose(image, crop, self.crops), wanted, resolved)
        if not sources:
            return img
        return Markup("<picture>") + Markup("").join(sources) + img + Markup("</picture>")

    def og_image(
        self, image: Mapping[str, Any], crop: str | None = None, alt: str | None = None
    ) -> Markup:
        """``<meta property="og:image" ...>`` with ``:width``, ``:height``, ``:type``
        (and ``:alt`` when given), one per line, for a page's ``<head>``.

        The variant is the widest of ``crop`` (or of the main set), a JPEG when the
        set has one (LinkedIn and many mail clients take no WebP), else one of its
        srcset format. A configured crop the description lacks gives the main set's.
        """
        _require_description(image)
        chosen = choice.choose(image, crop, self.crops)
        variant = choice.share_variant(chosen)
        if variant is not None:
            url, mime = variant["url"], choice.mime_of(variant["format"])
        else:
            url = str(chosen.data.get("src", ""))
            mime = content_type_of(url)
        width, height = choice.dimensions(chosen.data, variant)
        props: list[tuple[str, Any]] = [
            ("og:image", url),
            ("og:image:width", width),
            ("og:image:height", height),
            ("og:image:type", mime),
        ]
        if alt:
            props.append(("og:image:alt", alt))
        return Markup("\n").join(tag("meta", [("property", p), ("content", v)]) for p, v in props)

    def _sources(
        self,
        chosen: Chosen,
        wanted: tuple[str, ...] | None,
        sizes: str,
        media: str | None = None,
        dims: bool = False,
        alone: bool = False,
    ) -> list[Markup]:
        """The ``<source>`` tags of one set; none for a main set in one format unless
        ``alone`` (an art entry needs its source even then)."""
        if chosen.name is None:  # the main set, also in place of a missing crop
            fmts = choice.formats_in(chosen.data, self.formats if wanted is None else wanted)
        else:
            fmts = choice.formats_in(chosen.data, wanted)
        if len(fmts) < 2 and not alone:
            return []
        out = []
        for fmt in fmts:
            attrs: list[tuple[str, Any]] = [
                ("media", media),
                ("type", choice.mime_of(fmt)),
                ("srcset", _srcset(chosen, fmt)),
                ("sizes", sizes),
            ]
            if dims:
                width, height = choice.dimensions(chosen.data, choice.largest(chosen.data, fmt))
                attrs += [("width", width), ("height", height)]
            out.append(tag("source", attrs))
        return out


def placeholder_style(image: Mapping[str, Any]) -> str:
    """CSS painting the main set's stored preview, blurred, over its dominant colour
    (``describe/style.py``); "" when the description has no valid placeholder."""
    return style.placeholder(image, Chosen(image))


def _srcset(chosen: Chosen, fmt: str) -> str:
    found = choice.variants(chosen.data, fmt)
    if not found and fmt == chosen.fmt:
        return str(chosen.data.get("srcset", ""))
    return srcset_of(found, fmt)


def _require_description(image: object) -> None:
    if not isinstance(image, Mapping):
        raise TypeError(
            f"expected an image description (the dict GET /v1/images/{{id}} returns), "
            f"got {type(image).__name__}"
        )


# -- registration ------------------------------------------------------------------

_DEFAULT = ImageHelpers()
#: Module-level helpers with the built-in defaults, for use outside templates.
srcset = _DEFAULT.srcset
responsive_img = _DEFAULT.responsive_img
picture = _DEFAULT.picture
og_image = _DEFAULT.og_image


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
