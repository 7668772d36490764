"""``imgsvc reconvert`` against the suite's real SeaweedFS: plan, run, rerun, interrupts.

The stored corpus is ingested with the default settings; the runs use changed ones
(an extra 2560 px size, which only sources wider than 1920 px get, and another
quality), so every image starts outdated. Helpers here are shared with
``test_celery.py``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

from imgsvc import ImageService, Settings
from imgsvc.bulk.scan import StoredImage, group_keys
from imgsvc.cli import cli
from imgsvc.errors import StorageUnavailable
from imgsvc.pipeline import PipelineConfig
from imgsvc.storage.keys import conversion_key, image_prefix, manifest_key
from imgsvc.storage.s3 import S3Storage

from ..support.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedS3

NEW_SIZES = "sm=480,md=768,lg=1280,xl=1920,xxl=2560"
NEW_QUALITY = "70"


# -- corpus helpers (shared with test_celery.py) ------------------------------------------


def photo(width: int, height: int, seed: int, fmt: str = "JPEG") -> bytes:
    """A photo-like image: smooth noise, a gradient and a few shapes; quick to make."""
    noise = Image.effect_noise((max(width // 24, 8), max(height // 24, 8)), 40 + seed % 30)
    base = Image.merge(
        "RGB",
        [
            noise.resize((width, height), Image.Resampling.BICUBIC),
            Image.linear_gradient("L").resize((width, height)),
            noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((width, height)),
        ],
    )
    draw = ImageDraw.Draw(base)
    for i in range(4):
        x, y = (seed * 37 + i * 131) % width, (seed * 53 + i * 97) % height
        draw.ellipse((x, y, x + width // 5, y + height // 5), fill=(seed * 40 % 256, 90, i * 60))
    out = io.BytesIO()
    if fmt == "PNG":
        base.putalpha(Image.linear_gradient("L").resize((width, height)))
        base.save(out, "PNG")
    else:
        base.save(out, "JPEG", quality=88)
    return out.getvalue()


def ingest_corpus(service: ImageService, specs: list[tuple[int, int, str]]) -> list[str]:
    """Ingest one generated image per (width, height, format); returns the media ids."""

    def one(item: tuple[int, tuple[int, int, str]]) -> str:
        seed, (width, height, fmt) = item
        ext = "png" if fmt == "PNG" else "jpg"
        data = photo(width, height, seed, fmt)
        for attempt in range(3):  # a brand-new SeaweedFS bucket now and then answers 500
            try:
                return str(service.ingest(data, f"photo {seed}.{ext}")["id"])
            except StorageUnavailable:
                if attempt == 2:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, enumerate(specs)))


def new_env(server: SeaweedS3, bucket: str, prefix: str, **extra: str) -> dict[str, str]:
    """IMGSVC_* for the changed settings, pointing at the suite's SeaweedFS."""
    return {
        "IMGSVC_STORAGE": "s3",
        "IMGSVC_S3_BUCKET": bucket,
        "IMGSVC_S3_ENDPOINT_URL": server.endpoint,
        "IMGSVC_KEY_PREFIX": prefix,
        "IMGSVC_SIZES": NEW_SIZES,
        "IMGSVC_WEBP_QUALITY": NEW_QUALITY,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        **extra,
    }


def settings_from(env: dict[str, str]) -> Settings:
    return Settings.load(env)


def snapshot(storage: S3Storage, prefix: str) -> dict[str, tuple[str, Any]]:
    """Every object's content hash and modification time: any write shows."""
    paginator = storage.client.get_paginator("list_objects_v2")
    return {
        item["Key"]: (item["ETag"], item["LastModified"])
        for page in paginator.paginate(Bucket=storage.bucket, Prefix=f"{prefix}/")
        for item in page.get("Contents", [])
    }


def originals(storage: S3Storage, prefix: str, ids: list[str]) -> dict[str, str]:
    """sha256 of each image's original, found through its manifest."""
    out = {}
    for media_id in ids:
        manifest = json.loads(storage.get(manifest_key(prefix, media_id)).data)
        data = storage.get(manifest["original"]["key"]).data
        out[media_id] = hashlib.sha256(data).hexdigest()
    return out


def check_complete(storage: S3Storage, prefix: str, media_id: str) -> dict[str, Any]:
    """The manifest exists, and lists an original and conversions that exist and decode
    at their declared size. Returns the manifest."""
    manifest: dict[str, Any] = json.loads(storage.get(manifest_key(prefix, media_id)).data)
    assert storage.exists(manifest["original"]["key"])
    for variant in manifest["variants"]:
        with Image.open(io.BytesIO(storage.get(variant["key"]).data)) as im:
            im.load()
            assert im.format == "WEBP"
            assert im.size == (variant["width"], variant["height"]), variant["key"]
    return manifest


@dataclass
class Corpus:
    prefix: str
    ids: list[str]
    wide: list[str]
    current: str
    missing: str
    orphan_original: str
    orphan_conversions: str


#: 24 small JPEGs, 4 PNGs with alpha, 4 sources wider than 1920 (they get the 2560 size).
SPECS = [(640, 427, "JPEG")] * 24 + [(500, 500, "PNG")] * 4 + [(2600, 1300, "JPEG")] * 4


def build_corpus(service: ImageService, env: dict[str, str], specs: list[Any]) -> Corpus:
    """The old corpus plus one image of each other class, made with the new settings."""
    storage, prefix = service.storage, service.settings.key_prefix
    ids = ingest_corpus(service, specs)
    wide = [i for i, spec in zip(ids, specs, strict=True) if spec[0] > 2560]
    fresh = ImageService(settings_from(env), storage)
    try:
        current = str(fresh.ingest(photo(800, 600, 99), "current.jpg")["id"])
        missing = str(fresh.ingest(photo(800, 600, 98), "missing.jpg")["id"])
        gone = str(fresh.ingest(photo(800, 600, 97), "gone.jpg")["id"])
    finally:
        fresh.close()
    storage.delete([conversion_key(prefix, missing, "missing", "sm", 480)])
    orphan_original = str(uuid.uuid4())
    storage.put(
        f"{image_prefix(prefix, orphan_original)}lost.jpg", photo(900, 600, 5), "image/jpeg"
    )
    gone_manifest = json.loads(storage.get(manifest_key(prefix, gone)).data)
    storage.delete([manifest_key(prefix, gone), gone_manifest["original"]["key"]])
    return Corpus(prefix, ids, wide, current, missing, orphan_original, gone)


@pytest.fixture(scope="module")
def bulk_bucket(s3_server: SeaweedS3) -> str:
    """One bucket for the module, one key prefix per test: SeaweedFS gives every bucket
    volumes of its own and runs out of them after a handful."""
    name = f"bulk-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(name)
    return name


@pytest.fixture
def prefix() -> str:
    return f"news-by-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def storage(s3_server: SeaweedS3, bulk_bucket: str) -> S3Storage:
    return S3Storage(s3_server.client(), bulk_bucket)


@pytest.fixture
def old_service(
    s3_server: SeaweedS3, bulk_bucket: str, prefix: str, storage: S3Storage
) -> Iterator[ImageService]:
    """The service as it was when the corpus was stored: default sizes and quality."""
    settings = Settings.load(
        {},
        storage="s3",
        s3_bucket=bulk_bucket,
        s3_endpoint_url=s3_server.endpoint,
        key_prefix=prefix,
    )
    service = ImageService(settings, storage)
    yield service
    service.close()


@pytest.fixture
def env(s3_server: SeaweedS3, bulk_bucket: str, prefix: str) -> dict[str, str]:
    return new_env(s3_server, bulk_bucket, prefix)


@pytest.fixture
def corpus(old_service: ImageService, env: dict[str, str]) -> Corpus:
    return build_corpus(old_service, env, SPECS)


def invoke(args: list[str], env: dict[str, str]) -> Any:
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def count(output: str, label: str) -> int:
    match = re.search(rf"^  {label} +(\d+)", output, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{output}"
    return int(match.group(1))


# -- tests --------------------------------------------------------------------------------


def test_listing_is_grouped_by_media_id_as_it_streams() -> None:
    a, b = "0b0e3e52-4bd4-4d6f-9e4e-0b5b9d7a1a01", "f7f8a0b1-2c3d-4e5f-8a9b-0c1d2e3f4a5b"
    keys = [
        "news-by/README",
        f"news-by/{a}/a.jpg",
        f"news-by/{a}/conversions/a-sm-___webp_480.webp",
        f"news-by/{a}/manifest.json",
        f"news-by/{a.upper()}/x.jpg",
        "news-by/not-a-uuid/x.jpg",
        f"news-by/{b}/manifest.json",
    ]
    ignored: list[int] = []
    groups = list(group_keys(iter(keys), "news-by/", lambda: ignored.append(1)))
    assert groups == [StoredImage(a, tuple(keys[1:4])), StoredImage(b, (keys[6],))]
    assert len(ignored) == 3


def test_dry_run_then_two_workers_then_nothing_to_do(
    corpus: Corpus, storage: S3Storage, env: dict[str, str]
) -> None:
    """The whole life of a settings change: plan it, run it, run it again."""
    ids = [*corpus.ids, corpus.missing, corpus.current]
    kept = originals(storage, corpus.prefix, ids)
    lost = f"{image_prefix(corpus.prefix, corpus.orphan_original)}lost.jpg"
    orphan_bytes = storage.get(lost).data
    before = snapshot(storage, corpus.prefix)

    plan = invoke(["reconvert", "--dry-run"], env)
    assert plan.exit_code == 0, plan.output
    out = plan.stdout
    assert count(out, "images") == len(SPECS) + 4
    assert count(out, "outdated") == len(SPECS)
    assert count(out, "up to date") == 1
    assert count(out, "missing conversions") == 1
    assert count(out, "orphaned") == 2
    assert count(out, "to re-convert") == len(SPECS) + 2
    assert corpus.missing in out and "1 of 3 conversions missing" in out
    assert corpus.orphan_original in out and "original without a manifest" in out
    assert corpus.orphan_conversions in out and "conversions without an original" in out
    only = invoke(["reconvert", "--dry-run", "--only-outdated"], env)
    assert count(only.stdout, "to re-convert") == len(SPECS)
    narrow = invoke(["reconvert", "--dry-run", f"--prefix={corpus.prefix}/{corpus.current}"], env)
    assert count(narrow.stdout, "images") == 1
    assert snapshot(storage, corpus.prefix) == before

    result = invoke(["reconvert", "--workers", "2"], env)
    assert result.exit_code == 0, result.output
    assert count(result.stdout, "re-converted") == len(SPECS) + 1
    assert count(result.stdout, "adopted") == 1
    assert count(result.stdout, "failed") == 0
    new = PipelineConfig.from_settings(settings_from(env)).fingerprint
    for media_id in [*ids, corpus.orphan_original]:
        manifest = check_complete(storage, corpus.prefix, media_id)
        assert manifest["fingerprint"] == new
        widths = [v["width"] for v in manifest["variants"]]
        assert (2560 in widths) == (media_id in corpus.wide)
    assert originals(storage, corpus.prefix, ids) == kept
    adopted = check_complete(storage, corpus.prefix, corpus.orphan_original)
    assert adopted["original"]["key"] == lost
    assert storage.get(lost).data == orphan_bytes

    converted = snapshot(storage, corpus.prefix)
    again = invoke(["reconvert", "--workers", "2"], env)
    assert again.exit_code == 0, again.output
    assert "Nothing to do" in again.stdout
    assert count(again.stdout, "left alone") == 1  # conversions without an original
    assert snapshot(storage, corpus.prefix) == converted


def test_a_failing_image_is_reported_and_the_run_goes_on(
    old_service: ImageService, storage: S3Storage, env: dict[str, str]
) -> None:
    corpus = build_corpus(old_service, env, [(640, 427, "JPEG")] * 4)
    poison = corpus.ids[0]
    poison_key = check_complete(storage, corpus.prefix, poison)["original"]["key"]
    storage.put(poison_key, b"\xff\xd8\xff\xe0 not a jpeg any more", "image/jpeg")
    old_manifest = storage.get(manifest_key(corpus.prefix, poison)).data

    result = invoke(["reconvert", "--workers", "1", "--only-outdated"], env)
    assert result.exit_code == 1
    assert re.search(rf"^{poison}: invalid_image: ", result.stderr, re.MULTILINE), result.stderr
    assert count(result.stdout, "re-converted") == 3
    assert count(result.stdout, "failed") == 1
    assert count(result.stdout, "left alone") == 3  # --only-outdated: missing and orphans
    assert storage.get(manifest_key(corpus.prefix, poison)).data == old_manifest
    new = PipelineConfig.from_settings(settings_from(env)).fingerprint
    for media_id in corpus.ids[1:]:
        assert check_complete(storage, corpus.prefix, media_id)["fingerprint"] == new

    limited = invoke(["reconvert", "--workers", "1", "--limit", "1"], env)
    assert "Stopped at --limit" in limited.stdout
    done = [count(limited.stdout, k) for k in ("re-converted", "adopted", "failed")]
    assert sum(done) == 1


def start_reconvert(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "imgsvc", "reconvert", *args],
        env=os.environ | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, workers included
    )


def converted(storage: S3Storage, corpus: Corpus, new: str) -> int:
    """How many of the corpus's old images have a manifest with the new fingerprint."""
    done = 0
    for media_id in corpus.ids:
        manifest = json.loads(storage.get(manifest_key(corpus.prefix, media_id)).data)
        done += manifest["fingerprint"] == new
    return done


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


#: Enough work (wide sources) that a run can be caught part-way, twice.
BIG_SPECS = [(2600, 1700, "JPEG")] * 8 + [(640, 427, "JPEG")] * 4


def test_interrupted_runs_leave_complete_sets_and_a_rerun_finishes(
    old_service: ImageService, storage: S3Storage, env: dict[str, str]
) -> None:
    """Ctrl-C (clean stop, exit 130), then SIGKILL of everything, then a rerun."""
    corpus = build_corpus(old_service, env, BIG_SPECS)
    new = PipelineConfig.from_settings(settings_from(env)).fingerprint
    kept = originals(storage, corpus.prefix, corpus.ids)

    proc = start_reconvert(env, "--workers", "2")
    wait_for(lambda: converted(storage, corpus, new) >= 1, 60, "a first conversion")
    proc.send_signal(signal.SIGINT)  # the parent only: it must stop its workers itself
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Interrupted" in out and "Summary:" in out
    wait_for(lambda: group_gone(proc.pid), 10, "the workers to be terminated")
    stopped_at = converted(storage, corpus, new)
    assert stopped_at < len(corpus.ids), "the run finished before Ctrl-C"
    for media_id in [*corpus.ids, corpus.current]:
        check_complete(storage, corpus.prefix, media_id)

    proc = start_reconvert(env, "--workers", "2")
    try:
        wait_for(lambda: converted(storage, corpus, new) > stopped_at, 60, "more conversions")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the parent and its workers, mid-write
        proc.communicate()
    wait_for(lambda: group_gone(proc.pid), 10, "the killed processes to go")
    assert converted(storage, corpus, new) < len(corpus.ids), "the run finished before the kill"
    for media_id in [*corpus.ids, corpus.current]:
        check_complete(storage, corpus.prefix, media_id)

    result = invoke(["reconvert", "--workers", "2"], env)
    assert result.exit_code == 0, result.output
    assert converted(storage, corpus, new) == len(corpus.ids)
    assert originals(storage, corpus.prefix, corpus.ids) == kept
    assert "Nothing to do" in invoke(["reconvert"], env).stdout
