"""Settings, built once at start-up: built-in defaults < TOML file < ``IMGSVC_*`` env.

Nothing here runs at import time. ``Settings.load()`` is called by the app factory
and by the CLI entry point; everything else receives the frozen result. A TOML key
is the variable's name without ``IMGSVC_`` in lower case; sizes are ``[[sizes]]``
tables with ``name`` and ``width``, smallest first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .formats import PRIMARY, WEBP_MAX_SIDE
from .pipeline.crop import Crop, parse_crops
from .pipeline.plan import DEFAULT_SIZES, Size
from .settings_rules import coerce, read_toml, validate

__all__ = ["DEFAULT_SIZES", "DEFAULT_SIZES_PRESETS", "WEBP_MAX_SIDE", "Settings", "Size"]

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
    #: Wagtail's default JPEG quality; JPEG is written only where asked (a social crop).
    jpeg_quality: int = 85
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
    #: The Cache-Control of conversions. Not ``immutable``: a re-conversion rewrites
    #: bytes at the same keys (published pages carry those URLs), so a cache must be
    #: able to learn of it; the README explains the choice.
    conversion_cache_control: str = "public, max-age=86400, stale-while-revalidate=604800"
    #: Where every change of stored objects is announced (a POST per change) and the
    #: key of its HMAC-SHA256 signature; none by default.
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    webhook_max_attempts: int = 8
    webhook_retry_backoff: float = 2.0
    webhook_timeout: float = 10.0
    #: Threads that read manifests while a bulk run classifies the listing (each
    #: classification is one GET, so a remote S3's latency is what they hide).
    classify_threads: int = 8
    #: A SSIMULACRA2 score each conversion is encoded to reach, at the lowest encoder
    #: quality within ``quality_min``..``quality_max``; None: the fixed qualities.
    quality_target: float | None = None
    quality_min: int = 50
    quality_max: int = 95
    #: ``[[crops]]`` profiles (``pipeline/crop.py``): each converted beside the main set.
    crops: tuple[Crop, ...] = ()
    #: Embed creator, credit and copyright (only those) as XMP in every output.
    keep_rights_metadata: bool = True
    #: Look for a focus (faces, attention) when the editor gave none: ``auto`` when
    #: crops are configured (the only output that depends on it; looking costs about
    #: half an upload's CPU), ``on`` always (for ``fit="cover"``), ``off`` never.
    focus_detection: str = "auto"
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
            values.update(read_toml(Path(path), {f.name for f in fields(cls)}))
        for f in fields(cls):
            raw = env.get(f"IMGSVC_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = raw
        ints = {f.name for f in fields(cls) if f.type == "int"}
        typed = {name: coerce(name, value, ints) for name, value in values.items()}
        typed.update(overrides)
        return cls(**typed).resolved()

    def resolved(self) -> Settings:
        """Validate and fill the defaults that depend on other settings."""
        validate({f.name: getattr(self, f.name) for f in fields(self)})
        base = self.public_base_url or _default_public_base(self)
        crops = parse_crops(self.crops)  # an override may give tables, as TOML does
        return replace(self, public_base_url=base.rstrip("/"), crops=crops)

    @property
    def primary_format(self) -> str:
        """The format of the srcset: WebP, whatever else is configured beside it."""
        return PRIMARY.name

    def quality_for(self, fmt: str) -> int:
        """``{fmt}_quality``: each output format of the registry has its own setting."""
        return int(getattr(self, f"{fmt}_quality"))


def _default_public_base(s: Settings) -> str:
    if s.storage == "file":
        return "/media"
    if s.s3_endpoint_url:
        return f"{s.s3_endpoint_url.rstrip('/')}/{s.s3_bucket}"
    if "." in (s.s3_bucket or ""):  # a dotted name breaks the *.s3 TLS certificate
        return f"https://s3.{s.s3_region}.amazonaws.com/{s.s3_bucket}"
    return f"https://{s.s3_bucket}.s3.{s.s3_region}.amazonaws.com"
