"""``imgsvc serve``: the app under gunicorn, configured by ``config/gunicorn.conf.py``.

On top of the config file this sets what the service needs whatever file is used:
JSON logs (``logs.gunicorn_logconfig``), prometheus-client's multiprocess directory
(a fresh temporary one unless ``PROMETHEUS_MULTIPROC_DIR`` is set, removed when the
server stops) and a ``child_exit`` hook so a dead worker stops counting in the live
gauges. It refuses to bind beyond loopback while writes are open to anyone.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import tempfile
from importlib.resources import files
from pathlib import Path
from typing import Any

from gunicorn.app.base import Application

from ..runtime.logs import gunicorn_logconfig
from ..runtime.metrics import MULTIPROC_ENV, mark_worker_dead
from ..settings import Settings

log = logging.getLogger(__name__)


def default_config() -> Path:
    """``config/gunicorn.conf.py`` of the checkout this package was imported from, else
    the copy a wheel ships as ``imgsvc.config`` (see pyproject.toml)."""
    checkout = Path(__file__).resolve().parents[2] / "config" / "gunicorn.conf.py"
    if checkout.is_file():
        return checkout
    try:
        return Path(str(files("imgsvc.config") / "gunicorn.conf.py"))
    except ModuleNotFoundError:  # neither a checkout nor an install that has it
        return checkout


class GunicornServer(Application):  # type: ignore[misc]
    """Builds the app in each worker after the fork, so each has its own S3 client."""

    def __init__(
        self,
        settings: Settings,
        options: dict[str, Any],
        config_file: Path | None,
        metrics_dir: str | None = None,
    ):
        self.settings = settings
        self.options = options
        self.config_file = config_file
        self.metrics_dir = metrics_dir  # ours to remove at exit; None when the caller's
        super().__init__()

    def init(self, parser: Any, opts: Any, args: Any) -> None:
        """Unused: options come from the config file and ``imgsvc serve``, not argv."""

    def load_config(self) -> None:
        if self.config_file:
            self.load_config_from_file(str(self.config_file))
        for key, value in self.options.items():
            if value is not None:
                self.cfg.set(key, value)
        if not self.cfg.logconfig_dict:
            self.cfg.set("logconfig_dict", gunicorn_logconfig(self.cfg.loglevel.upper()))
        configured_child_exit, configured_on_exit = self.cfg.child_exit, self.cfg.on_exit

        # gunicorn checks a hook's arity, hence two closures rather than one *args chain.
        def child_exit(server: Any, worker: Any) -> None:
            configured_child_exit(server, worker)
            mark_worker_dead(worker.pid)

        def on_exit(server: Any) -> None:
            configured_on_exit(server)
            if self.metrics_dir:
                shutil.rmtree(self.metrics_dir, ignore_errors=True)

        self.cfg.set("child_exit", child_exit)
        self.cfg.set("on_exit", on_exit)

    def load(self) -> Any:
        from . import create_app

        return create_app(self.settings)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings, host: str, insecure_open_writes: bool = False) -> None:
    """Refuse to bind beyond loopback with open writes, unless told to on purpose.

    Raises ``SystemExit`` with the reason (``imgsvc serve`` stops with it).
    """
    if is_loopback(host) or settings.api_tokens:
        return
    if insecure_open_writes or settings.insecure_open_writes:
        log.warning("binding %s without IMGSVC_API_TOKENS: anyone who reaches it can write", host)
        return
    raise SystemExit(
        f"imgsvc serve: refusing to bind {host} without IMGSVC_API_TOKENS, as anyone who "
        "reaches it could upload and delete images. Set IMGSVC_API_TOKENS, bind 127.0.0.1 "
        "behind a proxy, or set IMGSVC_INSECURE_OPEN_WRITES=true to accept open writes."
    )


def prepare_metrics_dir() -> str | None:
    """Give the workers a shared metrics directory; return it when we made it."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        return None
    made = tempfile.mkdtemp(prefix="imgsvc-metrics-")
    os.environ[MULTIPROC_ENV] = made
    return made


def run(
    settings: Settings,
    host: str,
    port: int,
    *,
    workers: int | None = None,
    threads: int | None = None,
    insecure_open_writes: bool = False,
) -> None:
    check_exposure(settings, host, insecure_open_writes)
    config = Path(os.environ.get("IMGSVC_GUNICORN_CONFIG") or default_config())
    if not config.is_file():
        raise SystemExit(f"imgsvc serve: no gunicorn config at {config} (IMGSVC_GUNICORN_CONFIG)")
    options: dict[str, Any] = {"bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}"}
    options |= {"workers": workers, "threads": threads}
    GunicornServer(settings, options, config, prepare_metrics_dir()).run()
