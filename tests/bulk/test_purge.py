"""``reconvert --purge-list FILE`` on real storage (files, and the suite's SeaweedFS).

The store is made with sizes sm, md, lg; the runs drop lg. The wide sources lose
their lg conversion (removed) and get other bytes at sm and md (derived from
another chain); the narrow ones are re-converted to identical bytes and must
list nothing. What the file must hold is read from storage itself, before and
after: every conversion whose bytes changed or that was removed, as a public URL.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from imgsvc import ImageService, Settings
from imgsvc.cli import cli
from imgsvc.describe.description import public_url
from imgsvc.storage import FileStorage, Storage
from imgsvc.storage.s3 import S3Storage

from ..support.seaweed import SeaweedS3
from .test_reconvert import bulk_bucket, new_env, prefix  # fixtures, used by name

__all__ = ["bulk_bucket", "prefix"]

OLD_SIZES = "sm=480,md=768,lg=1280"
NEW_SIZES = "sm=480,md=768"
WIDTHS = [600, 1400, 600, 1400, 1400, 600]


def jpeg(width: int, seed: int) -> bytes:
    out = io.BytesIO()
    Image.effect_noise((width, 300), 30 + seed).convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


def store(settings: Settings, storage: Storage) -> list[str]:
    service = ImageService(settings, storage)
    try:
        return [
            str(service.ingest(jpeg(w, i), f"photo-{i}.jpg")["id"]) for i, w in enumerate(WIDTHS)
        ]
    finally:
        service.close()


def digests(storage: Storage, prefix: str) -> dict[str, str]:
    """Every object but the manifests (which no page links to), by its content digest."""
    return {
        key: hashlib.sha256(storage.get(key).data).hexdigest()
        for key in storage.list(f"{prefix}/")
        if not key.endswith("/manifest.json")
    }


def stale(before: dict[str, str], after: dict[str, str], base: str) -> set[str]:
    changed = {k for k, digest in after.items() if before.get(k) != digest}
    return {public_url(base, k) for k in changed | (set(before) - set(after))}


def lines(path: Path) -> list[str]:
    text = path.read_text()
    assert text == "" or text.endswith("\n"), "a partial last line"
    return text.splitlines()


def invoke(args: list[str], env: dict[str, str]) -> object:
    return CliRunner().invoke(cli, ["reconvert", *args], env=env, catch_exceptions=False)


def check_purge_list(
    storage: Storage, env: dict[str, str], prefix: str, tmp_path: Path, *, rerun: bool
) -> None:
    base = Settings.load(env).public_base_url
    before = digests(storage, prefix)
    path = tmp_path / "purge.txt"
    path.write_text("https://cdn.example/kept-from-an-earlier-run\n")

    limited = invoke(["--workers", "2", "--limit", "3", f"--purge-list={path}"], env)
    assert limited.exit_code == 0, limited.output  # type: ignore[attr-defined]
    part = lines(path)[1:]
    assert set(part) <= stale(before, digests(storage, prefix), base)

    rest = invoke(["--workers", "2", f"--purge-list={path}"], env)
    assert rest.exit_code == 0, rest.output  # type: ignore[attr-defined]
    after = digests(storage, prefix)
    listed = lines(path)
    assert listed[0] == "https://cdn.example/kept-from-an-earlier-run"  # appended, not truncated
    expected = stale(before, after, base)
    assert sorted(listed[1:]) == sorted(expected)  # each once, nothing else
    removed = {public_url(base, k) for k in set(before) - set(after)}
    assert removed and all("-lg-___webp_1280" in url for url in removed)
    assert {k for k in before if "-lg-" in k} == set(before) - set(after)
    unchanged = {k for k in before if after.get(k) == before[k] and "/conversions/" in k}
    assert unchanged, "the narrow sources' conversions keep their bytes and are not listed"
    assert f"purge list {len(listed) - 1 - len(part)}" in " ".join(rest.stdout.split())  # type: ignore[attr-defined]

    if not rerun:
        return
    again = invoke(["--workers", "1", f"--purge-list={path}"], env)
    assert "Nothing to do" in again.stdout  # type: ignore[attr-defined]
    assert len(lines(path)) == len(listed)


def test_a_local_run_over_files_lists_exactly_what_changed(tmp_path: Path) -> None:
    root = tmp_path / "media"
    env = {
        "IMGSVC_FILE_ROOT": str(root),
        "IMGSVC_PUBLIC_BASE_URL": "https://cdn.example/media-assets",
        "IMGSVC_SIZES": NEW_SIZES,
    }
    old = Settings.load(env | {"IMGSVC_SIZES": OLD_SIZES})
    storage = FileStorage(root)
    store(old, storage)
    check_purge_list(storage, env, old.key_prefix, tmp_path, rerun=True)


def test_a_local_run_over_s3_lists_exactly_what_changed(
    s3_server: SeaweedS3, bulk_bucket: str, prefix: str, tmp_path: Path
) -> None:
    env = new_env(s3_server, bulk_bucket, prefix, IMGSVC_SIZES=NEW_SIZES)
    old = Settings.load(env | {"IMGSVC_SIZES": OLD_SIZES})
    storage = S3Storage(s3_server.client(), bulk_bucket)
    store(old, storage)
    check_purge_list(storage, env, prefix, tmp_path, rerun=False)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--purge-list", "{tmp}/no/such/dir/purge.txt"], "cannot open the purge list"),
        (["--dry-run", "--purge-list", "{tmp}/p.txt"], "a dry run changes nothing"),
        (["--enqueue", "--purge-list", "{tmp}/p.txt"], "--status --purge-list FILE"),
        (["--enqueue", "--shards", "100"], "must be 16, 256 or 4096"),
        (["--shards", "16"], "--shards goes with --enqueue"),
        (["--enqueue", "--shards", "--limit", "5"], "--dry-run and --limit plan here"),
        (["--enqueue", "--shards", "--prefix", "media/0a1c2d3e-4b5c"], "too narrow"),
        (["--enqueue", "--shards", "--prefix", "media/XY"], "not a prefix of media ids"),
    ],
    ids=["unopenable", "dry-run", "enqueue", "bad-count", "no-enqueue", "limit", "narrow", "bad"],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path: Path, args: list[str], says: str) -> None:
    env = {"IMGSVC_FILE_ROOT": str(tmp_path / "media")}
    result = CliRunner().invoke(
        cli, ["reconvert", *(a.format(tmp=tmp_path) for a in args)], env=env
    )
    assert result.exit_code == 2, result.output
    assert says in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "p.txt").exists()
