"""The ``imgsvc`` command: serve, convert, srcset (and the bulk commands, from ``bulk.py``).

Settings are built once here, in the group callback; ``ctx.obj`` carries a lazy
service so that ``serve`` builds its own in each worker process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError, ImgsvcError
from ..pipeline.focus import Focus, parse_focus
from ..settings import Settings
from .bulk import reconvert, worker
from .context import Context, pass_ctx


@click.group()
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="IMGSVC_CONFIG",
    help="TOML settings file (default: $IMGSVC_CONFIG).",
)
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None) -> None:
    """imgsvc: responsive WebP conversions and their srcset."""
    try:
        ctx.obj = Context(Settings.load(config_file=config_file))
    except ConfigError as exc:
        click.echo(f"imgsvc: configuration error: {exc.message}", err=True)
        ctx.exit(exc.exit_code)
    ctx.call_on_close(ctx.obj.close)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--media-id", help="Use this UUID instead of a new one (one file only).")
@click.option("--focus", help="The editor's focus, x,y or x,y,w,h (fractions of the image).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON description.")
@pass_ctx
def convert(
    obj: Context, files: tuple[Path, ...], media_id: str | None, focus: str | None, as_json: bool
) -> None:
    """Convert local FILES as an upload would; print one srcset per file."""
    if media_id and len(files) > 1:
        raise click.UsageError("--media-id names one image; give a single FILE with it")
    chosen = _focus(focus)
    failed = 0
    for path in files:
        try:
            description = obj.service.ingest(path.read_bytes(), path.name, media_id, focus=chosen)
        except (ImgsvcError, OSError) as exc:
            failed += 1
            click.echo(f"{path}: {_reason(exc)}", err=True)
            continue
        click.echo(_render(description, as_json))
    if failed:
        click.echo(f"{failed} of {len(files)} files failed", err=True)
        sys.exit(1)


@cli.command()
@click.argument("media_id")
@click.argument("focus")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON description.")
@pass_ctx
def focus(obj: Context, media_id: str, focus: str, as_json: bool) -> None:
    """Set the editor's FOCUS of a stored image (x,y or x,y,w,h; ``auto`` to let imgsvc
    find one) and rewrite its crops, as PATCH /v1/images/{id} does; print the srcset."""
    chosen = None if focus == "auto" else _focus(focus)
    try:
        click.echo(_render(obj.service.refocus(media_id, chosen), as_json))
    except ImgsvcError as exc:
        click.echo(f"{media_id}: {exc.message}", err=True)
        sys.exit(exc.exit_code)


def _focus(text: str | None) -> Focus | None:
    """``--focus`` parsed once, before any work: a bad value is a usage error."""
    if text is None:
        return None
    try:
        return parse_focus(text)
    except ImgsvcError as exc:
        raise click.BadParameter(exc.message, param_hint="focus") from exc


@cli.command()
@click.argument("media_id")
@pass_ctx
def srcset(obj: Context, media_id: str) -> None:
    """Print the srcset of a stored image."""
    try:
        click.echo(obj.service.srcset(media_id))
    except ImgsvcError as exc:
        click.echo(f"{media_id}: {exc.message}", err=True)
        sys.exit(exc.exit_code)


@cli.command("list")
@click.option(
    "--limit", type=click.IntRange(min=1), metavar="N", help="At most N images (default: all)."
)
@pass_ctx
def list_images(obj: Context, limit: int | None) -> None:
    """Print the stored images, one per line: id, then srcset, in listing order."""
    cursor: str | None = None
    shown = 0
    try:
        while limit is None or shown < limit:
            size = 1000 if limit is None else min(1000, limit - shown)
            page = obj.service.list_images(size, cursor)
            for image in page["images"]:
                click.echo(f"{image['id']} {image['srcset']}")
            shown += len(page["images"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
    except ImgsvcError as exc:
        click.echo(f"list: {exc.message}", err=True)
        sys.exit(exc.exit_code)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", type=int, help="Worker processes (default: the gunicorn config).")
@click.option("--threads", type=int, help="Threads per worker (default: the gunicorn config).")
@click.option(
    "--insecure-open-writes",
    is_flag=True,
    help="Allow binding beyond loopback without IMGSVC_API_TOKENS (anyone can write).",
)
@pass_ctx
def serve(
    obj: Context,
    host: str,
    port: int,
    workers: int | None,
    threads: int | None,
    insecure_open_writes: bool,
) -> None:
    """Run the HTTP service under gunicorn (a production WSGI server)."""
    from ..web.server import run

    run(
        obj.settings,
        host,
        port,
        workers=workers,
        threads=threads,
        insecure_open_writes=insecure_open_writes,
    )


def _render(description: dict[str, Any], as_json: bool) -> str:
    return json.dumps(description, indent=2) if as_json else str(description["srcset"])


def _reason(exc: Exception) -> str:
    if isinstance(exc, ImgsvcError):
        return f"{exc.code}: {exc.message}"
    if isinstance(exc, OSError):
        return f"cannot read: {exc.strerror}"
    return str(exc)


cli.add_command(reconvert)
cli.add_command(worker)


def main() -> None:
    cli(prog_name="imgsvc")
