"""``imgsvc serve``: the app under gunicorn, configured by ``config/gunicorn.conf.py``."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from gunicorn.app.base import Application

from .settings import Settings

log = logging.getLogger(__name__)
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "gunicorn.conf.py"


class GunicornServer(Application):  # type: ignore[misc]
    """Builds the app in each worker after the fork, so each has its own S3 client."""

    def __init__(self, settings: Settings, options: dict[str, Any], config_file: Path | None):
        self.settings = settings
        self.options = options
        self.config_file = config_file
        super().__init__()

    def init(self, parser: Any, opts: Any, args: Any) -> None:
        """Unused: options come from the config file and ``imgsvc serve``, not argv."""

    def load_config(self) -> None:
        if self.config_file and self.config_file.is_file():
            self.load_config_from_file(str(self.config_file))
        for key, value in self.options.items():
            if value is not None:
                self.cfg.set(key, value)

    def load(self) -> Any:
        from .app import create_app

        return create_app(self.settings)


def run(
    settings: Settings,
    host: str,
    port: int,
    *,
    workers: int | None = None,
    threads: int | None = None,
) -> None:
    if host not in ("127.0.0.1", "localhost", "::1") and not settings.api_tokens:
        log.warning("binding %s without IMGSVC_API_TOKENS: anyone who reaches it can write", host)
    config = Path(os.environ.get("IMGSVC_GUNICORN_CONFIG", DEFAULT_CONFIG))
    options = {"bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}"}
    options |= {"workers": workers, "threads": threads}
    GunicornServer(settings, options, config).run()
