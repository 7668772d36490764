"""Settings, built once at start-up: built-in defaults < TOML file < ``IMGSVC_*`` env.

Nothing here runs at import time. ``Settings.load()`` is called by the app factory
and by the CLI entry point; everything else receives the frozen result. A TOML key
is the variable's name without ``IMGSVC_`` in lower case; sizes are ``[[sizes]]``
tables with ``name`` and ``width``, smallest first.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError
from .formats import OUTPUT_FORMATS, PRIMARY, WEBP_MAX_SIDE
from .pipeline.plan import DEFAULT_SIZES, Size

__all__ = ["DEFAULT_SIZES", "DEFAULT_SIZES_PRESETS", "WEBP_MAX_SIDE", "Settings", "Size"]

_SIZE_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")


DEFAULT_SIZES_PRESETS = {"full": "100vw", "article": "(min-width: 1024px) 720px, 100vw"}


@dataclass(frozen=True, slots=True)
class Settings:
    storage: str = "file"
    file_root: Path = Path("var/media")
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    #: Whether the S3 server honours If-Match / If-None-Match: ``auto`` finds out once,
    #: ``on`` / ``off`` say so (``rclone serve s3`` ignores them, AWS and SeaweedFS do not).
    s3_conditional_writes: str = "auto"
    public_base_url: str = ""
    key_prefix: str = "media"
    sizes: tuple[Size, ...] = DEFAULT_SIZES
    webp_quality: int = 80
    avif_quality: int = 60
    formats: tuple[str, ...] = (PRIMARY.name,)
    max_upload_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 100_000_000
    max_frames: int = 1000
    api_tokens: tuple[str, ...] = field(default=(), repr=False)
    storage_threads: int = 8
    broker_url: str = "redis://127.0.0.1:6379/0"
    #: Named ``sizes`` attribute values for the template helpers (TOML table only).
    sizes_presets: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SIZES_PRESETS))
    #: Conversions one process runs at once; more wait up to ``queue_timeout`` s, then 503.
    max_concurrent_conversions: int = 2
    queue_timeout: float = 10.0
    #: Seconds a client has to send a whole request body before it gets 408.
    upload_timeout: float = 120.0
    #: Browser origins allowed to call the API (CORS), e.g. ``https://cms.example.com``.
    cors_origins: tuple[str, ...] = ()
    #: Let ``imgsvc serve`` bind beyond loopback with no ``api_tokens`` (open writes).
    insecure_open_writes: bool = False
    #: The distributed mode (``imgsvc worker``, ``reconvert --enqueue``); the reasons for
    #: each value are in ``imgsvc/bulk/celery_app.py``, which validates them together.
    celery_namespace: str = "imgsvc"
    celery_batch_size: int = 10
    celery_max_queued: int = 50
    celery_time_limit: int = 900
    celery_visibility_timeout: int = 3600
    celery_restore_interval: int = 10
    celery_max_attempts: int = 3
    celery_max_retries: int = 8
    celery_retry_backoff: int = 5
    celery_retry_backoff_max: int = 300

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        config_file: str | Path | None = None,
        **overrides: Any,
    ) -> Settings:
        """Build the settings from defaults, the TOML file and the environment.

        ``config_file`` defaults to ``$IMGSVC_CONFIG``; ``overrides`` (already typed
        values, used by tests and the CLI) win over everything. Raises
        ``ConfigError`` naming the setting when a value is unusable.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        path = config_file or env.get("IMGSVC_CONFIG")
        if path:
            values.update(_read_toml(Path(path)))
        for f in fields(cls):
            raw = env.get(f"IMGSVC_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = raw
        typed = {name: _coerce(name, value) for name, value in values.items()}
        typed.update(overrides)
        return cls(**typed).resolved()

    def resolved(self) -> Settings:
        """Validate and fill the defaults that depend on other settings."""
        _validate(self)
        base = self.public_base_url or _default_public_base(self)
        return replace(self, public_base_url=base.rstrip("/"))

    @property
    def primary_format(self) -> str:
        """The format of the srcset: WebP, whatever else is configured beside it."""
        return PRIMARY.name

    def quality_for(self, fmt: str) -> int:
        """``{fmt}_quality``: each output format of the registry has its own setting."""
        return int(getattr(self, f"{fmt}_quality"))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"IMGSVC_CONFIG: cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"IMGSVC_CONFIG: {path} is not valid TOML: {exc}") from exc
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"IMGSVC_CONFIG: {path}: unknown setting(s) {', '.join(unknown)}")
    return data


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{_env_name(name)}: expected an integer, got {value!r}")
    try:
        return int(str(value).replace("_", ""))
    except ValueError as exc:
        raise ConfigError(f"{_env_name(name)}: expected an integer, got {value!r}") from exc


def _as_list(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(item).strip() for item in items if str(item).strip())


def _as_sizes(name: str, value: Any) -> tuple[Size, ...]:
    """Sizes come as TOML tables or, from the environment, as ``sm=480,md=768``."""
    if isinstance(value, str):
        pairs = [item.partition("=") for item in _as_list(value)]
        value = [{"name": n.strip(), "width": w.strip()} for n, _, w in pairs]
    try:
        return tuple(Size(str(item["name"]), _as_int(name, item["width"])) for item in value)
    except (KeyError, TypeError) as exc:
        raise ConfigError(
            f"{_env_name(name)}: each size needs a name and a width, got {value!r}"
        ) from exc


def _as_presets(name: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f'{_env_name(name)}: expected a TOML table of name = "sizes value"')
    return {str(k): str(v) for k, v in value.items()}


_COERCE: dict[str, Callable[[str, Any], Any]] = {
    "file_root": lambda _n, v: Path(v),
    "sizes": _as_sizes,
    "formats": lambda _n, v: tuple(f.lower() for f in _as_list(v)),
    "api_tokens": lambda _n, v: _as_list(v),
    "sizes_presets": lambda n, v: _as_presets(n, v),
    "queue_timeout": lambda n, v: _as_seconds(n, v),
    "upload_timeout": lambda n, v: _as_seconds(n, v),
    "cors_origins": lambda _n, v: tuple(o.rstrip("/") for o in _as_list(v)),
    "insecure_open_writes": lambda n, v: _as_bool(n, v),
}
_INTS = {f.name for f in fields(Settings) if f.type == "int"}


def _coerce(name: str, value: Any) -> Any:
    """Type one raw value; a TOML value of the wrong type is a ``ConfigError`` too."""
    try:
        if name in _COERCE:
            return _COERCE[name](name, value)
        if name in _INTS:
            return _as_int(name, value)
    except TypeError as exc:  # e.g. ``file_root = 5`` or ``formats = 5`` in the TOML file
        raise ConfigError(f"{_env_name(name)}: unusable value {value!r}") from exc
    if not isinstance(value, str):
        raise ConfigError(f"{_env_name(name)}: expected a string, got {value!r}")
    return value


def _env_name(name: str) -> str:
    return f"IMGSVC_{name.upper()}"


_CHOICES = {"storage": ("file", "s3"), "s3_conditional_writes": ("auto", "on", "off")}


def _validate(s: Settings) -> None:
    def need(ok: bool, name: str, why: str) -> None:
        if not ok:
            raise ConfigError(f"{_env_name(name)}: {why}")

    for name, allowed in _CHOICES.items():
        value = getattr(s, name)
        need(value in allowed, name, f"must be one of {', '.join(allowed)}; got {value!r}")
    need(s.storage != "s3" or bool(s.s3_bucket), "s3_bucket", "is required when storage is s3")
    need(bool(s.sizes), "sizes", "at least one size is required")
    names = [size.name for size in s.sizes]
    widths = [size.width for size in s.sizes]
    need(len(set(names)) == len(names), "sizes", f"size names must be unique, got {names}")
    for size in s.sizes:
        need(bool(_SIZE_NAME.match(size.name)), "sizes", f"bad size name {size.name!r}")
        need(1 <= size.width <= WEBP_MAX_SIDE, "sizes", f"width {size.width} out of 1..16383")
    need(widths == sorted(set(widths)), "sizes", f"widths must ascend strictly, got {widths}")
    need(0 <= s.webp_quality <= 100, "webp_quality", "must be within 0..100")
    need(0 <= s.avif_quality <= 100, "avif_quality", "must be within 0..100")
    primary = PRIMARY.name
    need(primary in s.formats, "formats", f"must include {primary!r} (the srcset format)")
    for fmt in s.formats:
        need(fmt in OUTPUT_FORMATS, "formats", f"unknown format {fmt!r}")
    need(len(set(s.formats)) == len(s.formats), "formats", "formats must be unique")
    need(s.max_upload_bytes > 0, "max_upload_bytes", "must be positive")
    need(s.max_pixels > 0, "max_pixels", "must be positive")
    need(s.max_frames > 0, "max_frames", "must be positive")
    need(s.storage_threads > 0, "storage_threads", "must be positive")
    need(
        all(part and part not in (".", "..") for part in s.key_prefix.split("/"))
        or s.key_prefix == "",
        "key_prefix",
        f"must be a plain path such as 'news-by', got {s.key_prefix!r}",
    )
    need(
        _is_redis_url(s.broker_url),
        "broker_url",
        f"expected redis://host:port/db, got {s.broker_url!r}",
    )
    need(s.max_concurrent_conversions > 0, "max_concurrent_conversions", "must be positive")
    need(0 <= s.queue_timeout <= 3600, "queue_timeout", "must be within 0..3600 seconds")
    need(0 < s.upload_timeout <= 86400, "upload_timeout", "must be within 0..86400 seconds")
    for origin in s.cors_origins:
        need(
            origin == "*" or bool(_ORIGIN.match(origin)),
            "cors_origins",
            f"expected origins such as 'https://cms.example.com' or '*', got {origin!r}",
        )


def _is_redis_url(url: str) -> bool:
    """A URL the Redis transport of Celery (kombu) can use; checked here so that a typo
    stops the command with its name instead of a traceback from deep in kombu."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return False
    if parts.scheme == "redis+socket":
        return bool(parts.path)
    return parts.scheme in ("redis", "rediss", "sentinel") and bool(parts.hostname)


def _default_public_base(s: Settings) -> str:
    if s.storage == "file":
        return "/media"
    if s.s3_endpoint_url:
        return f"{s.s3_endpoint_url.rstrip('/')}/{s.s3_bucket}"
    if "." in (s.s3_bucket or ""):  # a dotted name breaks the *.s3 TLS certificate
        return f"https://s3.{s.s3_region}.amazonaws.com/{s.s3_bucket}"
    return f"https://{s.s3_bucket}.s3.{s.s3_region}.amazonaws.com"


# -- hardening settings (back-pressure, timeouts, CORS, open writes) --------------------

_ORIGIN = re.compile(r"^https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(:[0-9]{1,5})?$")


def _as_seconds(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{_env_name(name)}: expected seconds, got {value!r}")
    try:
        return float(value)
    except ValueError as exc:
        raise ConfigError(f"{_env_name(name)}: expected seconds, got {value!r}") from exc


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{_env_name(name)}: expected true or false, got {value!r}")
