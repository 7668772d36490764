"""The Flask app factory: settings and storage are built here, once per process."""

from __future__ import annotations

from flask import Flask

from . import cors, observability, templating
from .backpressure import BodyDeadline
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
    app = Flask(__name__, static_folder=None)  # the UI serves its files under /ui/static/
    app.config["MAX_CONTENT_LENGTH"] = service.settings.max_upload_bytes + MULTIPART_OVERHEAD
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["imgsvc"] = service
    app.register_blueprint(api)
    observability.init_app(app, service.metrics)
    cors.init_app(app, service.settings.cors_origins)
    app.wsgi_app = BodyDeadline(app.wsgi_app, service.settings.upload_timeout)  # type: ignore[method-assign]
    templating.init_app(app)
    app.register_blueprint(ui)
    return app
