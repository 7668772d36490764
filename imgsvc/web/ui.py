"""The upload page at ``/`` and the HTML fragment it shows after an upload.

The page is a plain form that posts the file to the public API
(``POST /v1/images``) from a little JavaScript, then fetches
``GET /ui/images/{id}``: a fragment rendered on the server by the template
helpers, so what the page shows is exactly the markup a site would get from
``responsive_img``. No build step, no CDN: the CSS and JS are package files under
``/ui/static/``.

The fragment is also the editor's desk (issue 12): a focus picker over the
preview (a click sends ``PATCH /v1/images/{id}``), the crops side by side, each
rendered by ``responsive_img(image, crop=name)``, and the credit as read-only
fields. What the templates show of the focus and the crops is prepared here from
the stored description, which anyone with bucket access can edit: only numbers
reach a style attribute.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask.blueprints import BlueprintSetupState

from .. import templating
from ..service import ImageService
from .api import public_base

ui = Blueprint(
    "imgsvc_ui",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/ui/static",
)


@ui.record_once
def _ensure_helpers(state: BlueprintSetupState) -> None:
    """The fragment template calls the helpers; register them if the app has not."""
    if "responsive_img" not in state.app.jinja_env.globals:
        templating.init_app(state.app)  # type: ignore[arg-type]  # always a Flask app here


def _service() -> ImageService:
    return current_app.extensions["imgsvc"]  # type: ignore[no-any-return]


@ui.get("/")
def upload_page() -> str:
    settings = _service().settings
    return render_template(
        "imgsvc_upload.html",
        presets=settings.sizes_presets,
        needs_token=bool(settings.api_tokens),
        max_upload_bytes=settings.max_upload_bytes,
    )


@ui.get("/ui/images/<media_id>")
def image_fragment(media_id: str) -> str:
    """The preview, srcset, snippet and conversions of a stored image (404 when none).

    ``?sizes=`` takes a preset name or a sizes value; ``?placeholder=1`` adds the
    blurred placeholder. Both go into the snippet exactly as into the preview.
    """
    image = _service().describe(media_id, public_base())
    return render_template(
        "imgsvc_image.html",
        image=image,
        sizes=request.args.get("sizes") or "100vw",
        placeholder=request.args.get("placeholder") in ("1", "true", "on"),
        focus=focus_view(image),
        crops=crop_views(image),
        cover_sizes=cover_sizes(image),
        credit=credit_fields(image),
    )


#: The credit fields in the order a caption line reads, with their labels.
CREDIT_FIELDS = (
    ("creator", "Creator"),
    ("credit", "Credit line"),
    ("copyright", "Copyright"),
    ("caption", "Caption"),
    ("source", "Source"),
)
FOCUS_SOURCES = frozenset({"editor", "faces", "attention", "centre"})
#: The height every crop is shown at, side by side (CSS ``.crop img``): its ``sizes``.
CROP_HEIGHT = 160


@dataclass(frozen=True, slots=True)
class FocusView:
    """The focus as the picker shows it: its centre and box in percent of the image."""

    x: float  # the centre, a fraction of the upright width
    y: float
    left: float  # the box, in percent
    top: float
    width: float
    height: float
    source: str

    @property
    def is_box(self) -> bool:
        return self.width > 0 or self.height > 0

    @property
    def x_percent(self) -> float:
        return round(self.x * 100, 2)

    @property
    def y_percent(self) -> float:
        return round(self.y * 100, 2)


def focus_view(image: Mapping[str, Any]) -> FocusView | None:
    """The description's focus, or None when it has none (older sets) or it is not
    a box of finite fractions inside the image."""
    focus = image.get("focus")
    if not isinstance(focus, Mapping):
        return None
    try:
        x, y, w, h = (float(focus.get(k) or 0.0) for k in ("x", "y", "w", "h"))
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in (x, y, w, h)):
        return None
    w, h = min(w, 1.0 - x), min(h, 1.0 - y)
    source = str(focus.get("source", ""))
    return FocusView(
        x=round(x + w / 2, 4),
        y=round(y + h / 2, 4),
        left=round(x * 100, 2),
        top=round(y * 100, 2),
        width=round(w * 100, 2),
        height=round(h * 100, 2),
        source=source if source in FOCUS_SOURCES else "unknown",
    )


@dataclass(frozen=True, slots=True)
class CropView:
    """One crop as the page labels it: name, aspect, pixel size and its ``sizes``."""

    name: str
    aspect: str
    width: int
    height: int
    box: tuple[int, ...]
    sizes: str


def crop_views(image: Mapping[str, Any]) -> list[CropView]:
    """The crops of the description by name; those without usable dimensions are left out
    (the helper could not render them either)."""
    crops = image.get("crops")
    if not isinstance(crops, Mapping):
        return []
    views = []
    for name, crop in sorted(crops.items()):
        try:
            width, height = int(crop["width"]), int(crop["height"])
            box = tuple(int(v) for v in crop.get("box") or ())
        except (KeyError, TypeError, ValueError):
            continue
        if width <= 0 or height <= 0:
            continue
        shown = max(1, round(CROP_HEIGHT * width / height))
        views.append(
            CropView(str(name), str(crop.get("aspect", "")), width, height, box, f"{shown}px")
        )
    return views


def cover_sizes(image: Mapping[str, Any]) -> str:
    """``sizes`` of the main set covering a CROP_HEIGHT square (``fit="cover"``): the
    width the image is drawn at, its short side being the square's."""
    try:
        ratio = int(image["width"]) / int(image["height"])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        ratio = 1.0
    return f"{max(CROP_HEIGHT, round(CROP_HEIGHT * ratio))}px"


def credit_fields(image: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(field, label, value)`` of each credit field present, in ``CREDIT_FIELDS`` order."""
    credit = image.get("credit")
    if not isinstance(credit, Mapping):
        return []
    return [
        (key, label, str(credit[key]))
        for key, label in CREDIT_FIELDS
        if isinstance(credit.get(key), str) and credit[key].strip()
    ]
