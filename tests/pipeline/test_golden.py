"""Golden output digests (after imgproxy's ``testutil/image_hash_cache_matcher.go``).

The SHA-256 of every conversion of a few generated images, keyed by
``PIPELINE_VERSION``, ``PIPELINE_REVISION`` and the Pillow, libwebp and libavif
versions. With the same key, other bytes mean the output changed without a version
bump or a revision (``imgsvc/pipeline/version.py`` says which): stored images would
not be marked outdated, so the test fails. A new key (a bump, a revision, or other
library versions) has no digests yet: the test says so and skips; record them with
``IMGSVC_RECORD_GOLDEN=1 pytest tests/pipeline/test_golden.py`` and commit the file
(before recording a revision, check that only the outputs it declares changed).

AVIF beside WebP is a configuration of its own: each format's bytes must be those of
the format alone (issue 11; ``test_encode.py``), and this pins them too.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, features

from imgsvc.pipeline import PIPELINE_VERSION, Output, PipelineConfig, convert
from imgsvc.pipeline.version import PIPELINE_REVISION
from imgsvc.settings import Settings

from ..support import images, metadata
from .factories import moving_square

GOLDEN = Path(__file__).resolve().parent / "data" / "golden.json"
#: Read at import: the suite's autouse fixture removes every IMGSVC_* variable
#: before a test runs (tests/conftest.py), so asking inside the test never records.
RECORD = bool(os.environ.get("IMGSVC_RECORD_GOLDEN"))

CASES: dict[str, Callable[[], bytes]] = {
    "gradient-jpeg-2000": lambda: images.encode(images.gradient((2000, 1125)), "JPEG"),
    "quadrants-png-1300": lambda: images.encode(images.quadrants((1300, 800)), "PNG"),
    "oriented-jpeg-6": lambda: images.oriented_jpeg(6, upright=(1000, 600)),
    "rgba-edge-png": lambda: images.rgba_hard_edge((1200, 40)),
    "animation-gif": lambda: images.animation("GIF", size=(500, 300)),
    "animation-apng-alpha": moving_square,
    "cmyk-jpeg": lambda: images.cmyk_jpeg(adobe=True, size=(600, 200)),
    # revision 3: the rights XMP in every output
    "credited-jpeg": lambda: metadata.jpeg(
        fields={(2, 80): [b"Jane Doe"], (2, 116): [b"(c) Agency"]},
        packet=metadata.xmp(metadata.simple("photoshop:Credit", "Agency / Pool")),
        exif=metadata.camera_exif(),
    ),
}


def key() -> str:
    return (
        f"pipeline {PIPELINE_VERSION} revision {PIPELINE_REVISION}, Pillow {Image.__version__}, "
        f"libwebp {features.version('webp')}, libavif {features.version('avif')}"
    )


def configs() -> dict[str, PipelineConfig]:
    """WebP alone (the default), AVIF's encoder alone (Settings insist on WebP as
    the srcset format, so that configuration is made directly), and both."""
    webp = PipelineConfig.from_settings(Settings.load({}))
    avif = PipelineConfig(Output(webp.output.sizes, {"avif": 60}), webp.limits)
    both = PipelineConfig.from_settings(Settings.load({}, formats=("avif", "webp")))
    # Crops on the centre: the digests must not depend on OpenCV's or scikit-image's
    # versions, which the key does not hold (the detector has tests of its own).
    crops = PipelineConfig.from_settings(
        Settings.load({}, crops=CROPS, focus_detection="off", formats=("webp", "jpeg"))
    )
    return {"webp": webp, "avif": avif, "avif+webp": both, "crops": crops}


CROPS = [
    {"name": "square", "aspect": "1:1", "widths": [320, 640]},
    {"name": "social", "aspect": "1200:630", "widths": [1200], "formats": ["jpeg"]},
]


def digests(config: PipelineConfig) -> dict[str, str]:
    """Animations only where the configuration has an animatable format (WebP)."""
    out: dict[str, str] = {}
    for name, make in CASES.items():
        if name.startswith("animation") and "webp" not in config.output.formats:
            continue
        conversion = convert(make(), config)
        for v in conversion.variants:
            label = f"{name} {v.format} {v.size} {v.width}x{v.height}"
            out[label] = hashlib.sha256(v.data).hexdigest()
        for crop in conversion.crops:
            for v in crop.variants:
                label = f"{name} crop {crop.name} {v.format} {v.width}x{v.height}"
                out[label] = hashlib.sha256(v.data).hexdigest()
    return out


@pytest.mark.parametrize("label", ["webp", "avif", "avif+webp", "crops"])
def test_output_changes_only_with_a_pipeline_version_bump(label: str) -> None:
    got = digests(configs()[label])
    recorded: dict[str, dict[str, dict[str, str]]] = (
        json.loads(GOLDEN.read_text()) if GOLDEN.is_file() else {}
    )
    if RECORD:
        recorded.setdefault(key(), {})[label] = got
        GOLDEN.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    want = recorded.get(key(), {}).get(label)
    if want is None:
        pytest.skip(f"no golden digests for {key()!r} ({label}); see this module's docstring")
    changed = sorted(k for k in want.keys() | got.keys() if want.get(k) != got.get(k))
    assert not changed, (
        f"output changed at PIPELINE_VERSION {PIPELINE_VERSION} revision {PIPELINE_REVISION}: "
        f"{changed[:5]} (bump the version or add a revision, see imgsvc/pipeline/version.py; "
        "then record the new digests)"
    )
