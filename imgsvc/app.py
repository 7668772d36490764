"""The Flask app factory: settings and storage are built here, once per process."""

from __future__ import annotations

from flask import Flask

from . import templating
from .service import ImageService
from .settings import Settings
from .storage import Storage, create_storage
from .ui import ui
from .web import api

#: Room for the multipart envelope around a file of exactly the byte limit.
MULTIPART_OVERHEAD = 64 * 1024


def create_app(
    settings: Settings | None = None,
    storage: Storage | None = None,
    service: ImageService | None = None,
) -> Flask:
    """Build the WSGI app. Without arguments, settings come from the environment."""
    if service is None:
        settings = settings or Settings.load()
        service = ImageService(settings, storage or create_storage(settings))
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = service.settings.max_upload_bytes + MULTIPART_OVERHEAD
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["imgsvc"] = service
    app.register_blueprint(api)
    templating.init_app(app)
    app.register_blueprint(ui)
    return app
