"""The upload page at ``/`` and the HTML fragment it shows after an upload.

The page is a plain form that posts the file to the public API
(``POST /v1/images``) from a little JavaScript, then fetches
``GET /ui/images/{id}``: a fragment rendered on the server by the template
helpers, so what the page shows is exactly the markup a site would get from
``responsive_img``. No build step, no CDN: the CSS and JS are package files under
``/ui/static/``.
"""

from __future__ import annotations

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
    )
