"""describe: the description clients get is derived from the manifest and the base
URL of the moment, and a manifest made from a real conversion round-trips through it."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from imgsvc import pipeline
from imgsvc.describe import MANIFEST_SCHEMA, build_manifest, describe, manifest_keys, public_url
from imgsvc.pipeline import PIPELINE_VERSION, Conversion, PipelineConfig
from imgsvc.settings import Settings
from imgsvc.storage.keys import conversion_key, original_key

from ..support import images

MEDIA_ID = "0b0e3e52-4bd4-4d6f-9e4e-0b5b9d7a1a01"


def stored(fmt: str, width: int) -> dict[str, Any]:
    key = conversion_key("news-by", MEDIA_ID, "photo", f"w{width}", width, fmt)
    return {"size": f"w{width}", "width": width, "height": width // 2, "format": fmt, "key": key}


def old_manifest() -> dict[str, Any]:
    """A manifest as early versions wrote it: no ``frames``, no ``placeholder``."""
    return {
        "id": MEDIA_ID,
        "width": 2000,
        "height": 1000,
        "fingerprint": "abc123",
        "original": {"key": f"news-by/{MEDIA_ID}/photo.jpg", "width": 2000, "height": 1000},
        # Listed widest first, with an AVIF wider than any WebP.
        "variants": [stored("webp", 768), stored("avif", 1280), stored("webp", 480)],
    }


def test_urls_are_the_base_url_and_the_key_with_one_slash() -> None:
    """Moving the bucket behind a CDN changes the base URL only, never the manifest."""
    manifest = old_manifest()
    before = copy.deepcopy(manifest)
    got = describe(manifest, "https://cdn.example.com/")
    key = manifest["original"]["key"]
    assert got["original"]["url"] == f"https://cdn.example.com/{key}"
    assert [v["url"] for v in got["variants"]] == [
        f"https://cdn.example.com/{v['key']}" for v in manifest["variants"]
    ]
    assert public_url("https://cdn.example.com", key) == got["original"]["url"]
    assert manifest == before  # URLs are never written into the manifest


def test_srcset_narrowest_first_and_src_the_widest_of_the_primary_format() -> None:
    got = describe(old_manifest(), "https://cdn.example.com")
    webp = {v["width"]: v["url"] for v in got["variants"] if v["format"] == "webp"}
    assert got["srcset"] == f"{webp[480]} 480w, {webp[768]} 768w"
    assert got["src"] == webp[768]  # not the wider AVIF: src must load everywhere
    avif = describe(old_manifest(), "https://cdn.example.com", "avif")
    assert avif["srcset"].endswith(" 1280w") and avif["src"].endswith(".avif")


def test_an_old_manifest_without_frames_or_placeholder_is_still_described() -> None:
    got = describe(old_manifest(), "https://cdn.example.com")
    assert got["frames"] == 1
    assert got["placeholder"] is None
    assert (got["id"], got["width"], got["height"]) == (MEDIA_ID, 2000, 1000)
    assert got["fingerprint"] == "abc123"


@pytest.fixture(scope="module")
def conversion() -> Conversion:
    data = images.encode(images.gradient((1000, 500)), "JPEG")
    return pipeline.convert(data, PipelineConfig.from_settings(Settings.load({})))


def test_a_manifest_from_a_real_conversion_round_trips(conversion: Conversion) -> None:
    """What build_manifest writes is what describe and manifest_keys read back."""
    fingerprint = PipelineConfig.from_settings(Settings.load({})).fingerprint
    orig = original_key("news-by", MEDIA_ID, "photo", conversion.source.ext)
    keys = [
        conversion_key("news-by", MEDIA_ID, "photo", v.size, v.width, v.format)
        for v in conversion.variants
    ]
    manifest = json.loads(
        json.dumps(build_manifest(MEDIA_ID, "photo", orig, conversion, keys, fingerprint))
    )
    assert manifest["schema"] == MANIFEST_SCHEMA
    assert manifest["pipeline_version"] == PIPELINE_VERSION
    assert (manifest["width"], manifest["height"], manifest["frames"]) == (1000, 500, 1)
    assert manifest["original"]["sha256"] == conversion.source.sha256
    assert manifest["original"]["content_type"] == "image/jpeg"
    assert [(v["size"], v["width"], v["key"], v["bytes"]) for v in manifest["variants"]] == [
        (v.size, v.width, k, len(v.data)) for v, k in zip(conversion.variants, keys, strict=True)
    ]
    assert manifest_keys(manifest) == {orig, *keys}

    got = describe(manifest, "https://cdn.example.com")
    assert got["srcset"] == ", ".join(
        f"https://cdn.example.com/{k} {v.width}w"
        for v, k in zip(conversion.variants, keys, strict=True)
    )
    assert got["src"] == f"https://cdn.example.com/{keys[-1]}"
    assert got["placeholder"] == conversion.placeholder.to_dict()


def test_build_manifest_refuses_keys_that_do_not_match_the_variants(
    conversion: Conversion,
) -> None:
    """One key per variant: a short list would silently drop conversions."""
    with pytest.raises(ValueError):
        build_manifest(MEDIA_ID, "photo", "k.jpg", conversion, ["only-one"], "f")
