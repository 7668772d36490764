"""The web front end: the Flask app factory and its parts.

``create_app`` builds settings and storage here, once per process, and wires the
rooms of this folder: the API blueprint (``api.py``), the upload page (``ui.py``,
``templates/``, ``static/``), the OpenAPI document, CORS, request ids and access
logs (``requests.py``), the body deadline (``deadline.py``); ``server.py`` runs it
under gunicorn. Nothing here converts or stores: it calls ``ImageService``.
"""

from __future__ import annotations

import logging
import time

from flask import Flask

from .. import templating
from ..service import ImageService
from ..settings import Settings
from ..storage import Storage, create_storage
from . import cors, requests
from .api import api
from .deadline import BodyDeadline
from .ui import ui

log = logging.getLogger("imgsvc")

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
    requests.init_app(app, service.metrics)
    cors.init_app(app, service.settings.cors_origins)
    app.wsgi_app = BodyDeadline(app.wsgi_app, service.settings.upload_timeout)  # type: ignore[method-assign]
    templating.init_app(app)
    app.register_blueprint(ui)
    _log_write_guarantee(service)
    _warm_metric(service)
    return app


def _warm_metric(service: ImageService) -> None:
    """With a quality target, the metric's compiled loops are loaded before the first
    upload, not during it (0.3-1.5 s, once per process)."""
    if service.settings.quality_target is None:
        return
    from imgsvc.pipeline import quality  # only with a target: numpy and numba

    start = time.perf_counter()
    quality.warm()
    log.info("quality targeting: SSIMULACRA2 ready in %.1f s", time.perf_counter() - start)


def _log_write_guarantee(service: ImageService) -> None:
    """Say at start-up whether two writers of one image are serialised on this
    storage (``/readyz`` says it too): an operator must know before it matters."""
    writes, detail = service.concurrent_writes()
    level = logging.INFO if writes == "serialised" else logging.WARNING
    log.log(level, "concurrent writers of one image are %s: %s", writes, detail)
