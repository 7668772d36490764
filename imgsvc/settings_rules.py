"""How raw setting values are read, typed and checked; ``settings.py`` holds the
fields and the order of the sources, this module the rules for each value.

Split from ``settings.py`` so that each stays readable: a new setting is one field
there and, when it needs more than "int" or "string", one coercion and one check
here. Every rule raises ``ConfigError`` naming the variable (``IMGSVC_...``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError
from .formats import OUTPUT_FORMATS, PRIMARY, WEBP_MAX_SIDE
from .pipeline.crop import parse_crops
from .pipeline.plan import Size

_SIZE_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")


def read_toml(path: Path, known: set[str]) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"IMGSVC_CONFIG: cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"IMGSVC_CONFIG: {path} is not valid TOML: {exc}") from exc
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
    "webhook_retry_backoff": lambda n, v: _as_seconds(n, v),
    "webhook_timeout": lambda n, v: _as_seconds(n, v),
    "quality_target": lambda n, v: _as_score(n, v),
    "keep_rights_metadata": lambda n, v: _as_bool(n, v),
    "crops": lambda _n, v: parse_crops(v),
}


def coerce(name: str, value: Any, ints: set[str]) -> Any:
    """Type one raw value; a TOML value of the wrong type is a ``ConfigError`` too."""
    try:
        if name in _COERCE:
            return _COERCE[name](name, value)
        if name in ints:
            return _as_int(name, value)
    except TypeError as exc:  # e.g. ``file_root = 5`` or ``formats = 5`` in the TOML file
        raise ConfigError(f"{_env_name(name)}: unusable value {value!r}") from exc
    if not isinstance(value, str):
        raise ConfigError(f"{_env_name(name)}: expected a string, got {value!r}")
    return value


def _env_name(name: str) -> str:
    return f"IMGSVC_{name.upper()}"


_CHOICES = {
    "storage": ("file", "s3"),
    "s3_conditional_writes": ("auto", "on", "off"),
    "focus_detection": ("auto", "on", "off"),
}


def validate(s: Mapping[str, Any]) -> None:
    """``s``: every field of the settings by name (they are checked together)."""

    def need(ok: bool, name: str, why: str) -> None:
        if not ok:
            raise ConfigError(f"{_env_name(name)}: {why}")

    for name, allowed in _CHOICES.items():
        value = s[name]
        need(value in allowed, name, f"must be one of {', '.join(allowed)}; got {value!r}")
    need(
        s["storage"] != "s3" or bool(s["s3_bucket"]), "s3_bucket", "is required when storage is s3"
    )
    need(bool(s["sizes"]), "sizes", "at least one size is required")
    names = [size.name for size in s["sizes"]]
    widths = [size.width for size in s["sizes"]]
    need(len(set(names)) == len(names), "sizes", f"size names must be unique, got {names}")
    for size in s["sizes"]:
        need(bool(_SIZE_NAME.match(size.name)), "sizes", f"bad size name {size.name!r}")
        need(1 <= size.width <= WEBP_MAX_SIDE, "sizes", f"width {size.width} out of 1..16383")
    need(widths == sorted(set(widths)), "sizes", f"widths must ascend strictly, got {widths}")
    for fmt in OUTPUT_FORMATS:
        need(0 <= s[f"{fmt}_quality"] <= 100, f"{fmt}_quality", "must be within 0..100")
    primary = PRIMARY.name
    need(primary in s["formats"], "formats", f"must include {primary!r} (the srcset format)")
    for fmt in s["formats"]:
        need(fmt in OUTPUT_FORMATS, "formats", f"unknown format {fmt!r}")
    need(len(set(s["formats"])) == len(s["formats"]), "formats", "formats must be unique")
    need(s["max_upload_bytes"] > 0, "max_upload_bytes", "must be positive")
    need(s["max_pixels"] > 0, "max_pixels", "must be positive")
    need(s["max_frames"] > 0, "max_frames", "must be positive")
    need(s["storage_threads"] > 0, "storage_threads", "must be positive")
    need(
        all(part and part not in (".", "..") for part in s["key_prefix"].split("/"))
        or s["key_prefix"] == "",
        "key_prefix",
        f"must be a plain path such as 'news-by', got {s['key_prefix']!r}",
    )
    need(
        _is_redis_url(s["broker_url"]),
        "broker_url",
        f"expected redis://host:port/db, got {s['broker_url']!r}",
    )
    need(s["max_concurrent_conversions"] > 0, "max_concurrent_conversions", "must be positive")
    need(0 <= s["queue_timeout"] <= 3600, "queue_timeout", "must be within 0..3600 seconds")
    need(0 < s["upload_timeout"] <= 86400, "upload_timeout", "must be within 0..86400 seconds")
    _validate_day_two(s, need)
    _validate_quality(s, need)
    for origin in s["cors_origins"]:
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


# -- hardening settings (back-pressure, timeouts, CORS, open writes) --------------------

_ORIGIN = re.compile(r"^https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(:[0-9]{1,5})?$")


def _as_seconds(name: str, value: Any) -> float:
    return _as_float(name, value, "seconds")


def _as_float(name: str, value: Any, what: str) -> float:
    """A number from TOML or the environment; ``true`` is not one, though Python says 1."""
    if isinstance(value, bool):
        raise ConfigError(f"{_env_name(name)}: expected {what}, got {value!r}")
    try:
        return float(value)
    except ValueError as exc:
        raise ConfigError(f"{_env_name(name)}: expected {what}, got {value!r}") from exc


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{_env_name(name)}: expected true or false, got {value!r}")


# -- day-two and quality settings -------------------------------------------------------

Need = Callable[[bool, str, str], None]


def _validate_day_two(s: Mapping[str, Any], need: Need) -> None:
    cache_control = s["conversion_cache_control"]
    need(
        bool(cache_control.strip()) and cache_control.isprintable(),
        "conversion_cache_control",
        f"expected a Cache-Control header value, got {cache_control!r}",
    )
    url = s["webhook_url"]
    need(
        url == "" or (urlsplit(url).scheme in ("http", "https") and bool(urlsplit(url).hostname)),
        "webhook_url",
        f"expected an http(s) URL, got {url!r}",
    )
    need(1 <= s["webhook_max_attempts"] <= 100, "webhook_max_attempts", "must be within 1..100")
    need(0 <= s["webhook_retry_backoff"] <= 3600, "webhook_retry_backoff", "must be 0..3600 s")
    need(0 < s["webhook_timeout"] <= 300, "webhook_timeout", "must be within 0..300 seconds")
    need(1 <= s["classify_threads"] <= 256, "classify_threads", "must be within 1..256")


def _validate_quality(s: Mapping[str, Any], need: Need) -> None:
    target = s["quality_target"]
    need(target is None or 0 < target <= 100, "quality_target", "must be within 0..100")
    low, high = s["quality_min"], s["quality_max"]
    need(0 <= low <= 100, "quality_min", "must be within 0..100")
    need(0 <= high <= 100, "quality_max", "must be within 0..100")
    need(low <= high, "quality_min", f"must not exceed quality_max ({low} > {high})")


def _as_score(name: str, value: Any) -> float | None:
    """A SSIMULACRA2 score; an empty or ``none`` value (from the environment) unsets it."""
    if value is None or str(value).strip().lower() in ("", "none", "off"):
        return None
    return _as_float(name, value, "a SSIMULACRA2 score")
