"""Quality targeting: the SSIMULACRA2 port, and targeting wired into the pipeline, on
small generated images (the search itself: ``test_targeting.py``).

The port's agreement with libjxl's tool over the corpus is measured by
``benchmarks/quality_research/agreement.py`` (docs/quality.md); here, the pinned
scores (``TOOL_SCORES``) are the C++ tool's own on the same pixels, within its gap.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from imgsvc import ImageService, Settings
from imgsvc.pipeline import PipelineConfig, convert
from imgsvc.pipeline.plan import Size
from imgsvc.storage import FileStorage

from .factories import moving_square

quality = pytest.importorskip("imgsvc.pipeline.quality")


def _detailed(size: tuple[int, int] = (256, 160)) -> Image.Image:
    """Small saturated shapes on a gradient: hard for 4:2:0 WebP."""
    rnd = random.Random(7)
    im = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(im)
    for _ in range(300):
        x, y = rnd.randrange(size[0]), rnd.randrange(size[1])
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        draw.rectangle((x, y, x + rnd.randrange(2, 9), y + rnd.randrange(2, 9)), fill=colour)
    return im


def _flat(size: tuple[int, int] = (256, 160)) -> Image.Image:
    """Soft shapes on a plain ground: easy to encode."""
    im = Image.new("RGB", size, (90, 140, 200))
    draw = ImageDraw.Draw(im)
    draw.ellipse((40, 30, 200, 130), fill=(230, 200, 90))
    return im.filter(ImageFilter.GaussianBlur(3))


def _webp(im: Image.Image, q: int) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "WEBP", quality=q, method=4)
    return buf.getvalue()


def _decoded(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


#: libjxl's own tool (ssimulacra2 2.1, cloudinary/ssimulacra2 at 81feacf) on the same
#: pixels, saved as PNG. Under 256 px a side the port used to stop a level before the
#: tool (it checked the half, the tool checks the level it halves): 59.3 for -19.4.
TOOL_SCORES = [
    ("detailed", (256, 160), "blur", 41.922, 0.15),
    ("detailed", (100, 40), "blur", -19.390, 0.15),
    ("detailed", (320, 180), "posterize", 48.761, 0.15),
    # near 100 the final polynomial magnifies the float differences of two levels
    ("flat", (300, 20), "posterize", 96.477, 0.5),
]


@pytest.mark.parametrize(("make", "size", "distortion", "tool", "gap"), TOOL_SCORES)
def test_scores_agree_with_libjxls_tool(
    make: str, size: tuple[int, int], distortion: str, tool: float, gap: float
) -> None:
    im = {"detailed": _detailed, "flat": _flat}[make](size)
    if distortion == "blur":
        distorted = im.filter(ImageFilter.GaussianBlur(0.8))
    else:
        distorted = ImageOps.posterize(im, 4 if make == "detailed" else 3)
    assert quality.ssimulacra2(im, distorted) == pytest.approx(tool, abs=gap)


def test_identical_images_score_100() -> None:
    im = _detailed()
    assert quality.ssimulacra2(im, im) == pytest.approx(100.0)


def test_score_falls_with_the_encoder_quality() -> None:
    im = _detailed()
    scores = [quality.ssimulacra2(im, _decoded(_webp(im, q))) for q in (10, 40, 70, 95)]
    assert scores == sorted(scores)
    assert scores[0] < 40 < 55 < scores[-1]


def test_reference_is_reusable_and_checks_sizes() -> None:
    im = _detailed()
    ref = quality.Reference(im)
    distorted = _decoded(_webp(im, 60))
    assert ref.score(distorted) == quality.ssimulacra2(im, distorted)
    with pytest.raises(ValueError):
        ref.score(distorted.resize((100, 100)))


def test_alpha_is_blended_over_grey() -> None:
    im = _flat().convert("RGBA")
    im.putalpha(128)
    assert quality.ssimulacra2(im, im) == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("fmt", "mode"), [("WEBP", "RGB"), ("WEBP", "RGBA"), ("JPEG", "RGB"), ("PNG", "RGBA")]
)
def test_decoded_pixels_are_pillows(fmt: str, mode: str) -> None:
    """The metric's own WebP decode (libwebp through imagecodecs) gives exactly the
    pixels Pillow decodes, and alpha is blended over grey as the image path does."""
    im = _detailed((197, 131))
    if mode == "RGBA":
        im.putalpha(Image.linear_gradient("L").resize(im.size))
    buf = io.BytesIO()
    im.save(buf, fmt, quality=70)
    pixels = quality.decoded(buf.getvalue())
    with Image.open(io.BytesIO(buf.getvalue())) as pillows:
        assert pixels.shape == (131, 197, 3)
        assert (pixels == quality._pixels(pillows)).all()
    ref = quality.Reference(im)
    assert ref.score(pixels) == ref.score(Image.open(io.BytesIO(buf.getvalue())))


def test_the_pipeline_does_not_import_numpy_or_opencv() -> None:
    """A service without a target never loads the metric's dependencies."""
    code = (
        "import sys, imgsvc.pipeline, imgsvc.service\n"
        "print(sorted(m for m in ('numpy', 'cv2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- targeting wired into the pipeline -------------------------------------------------


def _config(**overrides: object) -> PipelineConfig:
    return PipelineConfig.from_settings(Settings.load({}, sizes=SIZES, **overrides))


#: Two widths small enough for a fast search, wide enough for SSIMULACRA2's six scales.
SIZES = (Size("sm", 256), Size("md", 384))
TARGET = {"quality_target": 60.0, "quality_min": 30, "quality_max": 95}


def _source(make) -> bytes:
    buf = io.BytesIO()
    make((384, 240)).save(buf, "PNG")
    return buf.getvalue()


def test_with_a_target_each_variant_reaches_it_at_its_own_quality() -> None:
    config = _config(**TARGET)
    detailed = convert(_source(_detailed), config).variants
    flat = convert(_source(_flat), config).variants
    for variant in (*detailed, *flat):
        assert 30 <= variant.quality <= 95
        assert variant.score is not None
        assert variant.score >= 60.0 or variant.quality == 95
    assert [v.width for v in detailed] == [256, 384]
    assert all(f.quality < d.quality for f, d in zip(flat, detailed, strict=True))


def test_a_recorded_score_is_the_score_of_the_stored_bytes() -> None:
    config = _config(**TARGET)
    [small, _] = convert(_source(_detailed), config).variants
    reference = Image.open(io.BytesIO(_source(_detailed))).convert("RGB").resize((256, 160))
    expected = quality.ssimulacra2(reference, _decoded(small.data))
    assert small.score == pytest.approx(expected, abs=3.0)  # Pillow's resize, not the cascade's


def test_an_unreachable_target_takes_the_highest_quality() -> None:
    config = _config(quality_target=99.9, quality_min=40, quality_max=60)
    for variant in convert(_source(_detailed), config).variants:
        assert variant.quality == 60
        assert variant.score is not None and variant.score < 99.9


def test_without_a_target_the_fixed_quality_and_no_score() -> None:
    for variant in convert(_source(_flat), _config(webp_quality=77)).variants:
        assert (variant.quality, variant.score) == (77, None)


def test_an_animation_keeps_the_fixed_quality() -> None:
    for variant in convert(moving_square((300, 300)), _config(**TARGET)).variants:
        assert (variant.quality, variant.score) == (80, None)


def test_the_fingerprint_follows_the_target_and_its_bounds() -> None:
    prints = {
        _config().fingerprint,
        _config(**TARGET).fingerprint,
        _config(**{**TARGET, "quality_target": 61.0}).fingerprint,
        _config(**{**TARGET, "quality_min": 31}).fingerprint,
        _config(**{**TARGET, "quality_max": 94}).fingerprint,
    }
    assert len(prints) == 5
    assert _config(quality_min=31, quality_max=94).fingerprint == _config().fingerprint


def test_the_stored_manifest_and_description_carry_quality_and_score(tmp_path: Path) -> None:
    """End to end on file storage: the manifest written and the description served."""
    settings = Settings.load({}, file_root=tmp_path / "media", sizes=SIZES, **TARGET)
    service = ImageService(settings, FileStorage(settings.file_root))
    try:
        made = service.ingest(_source(_detailed), "detailed.png")
        manifest = service.manifest(made["id"])
    finally:
        service.close()
    assert manifest is not None
    stored = json.loads(next(tmp_path.rglob("manifest.json")).read_text())
    assert stored["variants"] == manifest["variants"]
    for variant in stored["variants"]:
        assert 30 <= variant["quality"] <= 95
        assert variant["score"] >= 60.0 or variant["quality"] == 95
    assert [(v["quality"], v["score"]) for v in made["variants"]] == [
        (v["quality"], v["score"]) for v in stored["variants"]
    ]


def test_without_a_target_the_manifest_has_quality_and_no_score(tmp_path: Path) -> None:
    settings = Settings.load({}, file_root=tmp_path / "media", sizes=SIZES)
    service = ImageService(settings, FileStorage(settings.file_root))
    try:
        made = service.ingest(_source(_flat), "flat.png")
    finally:
        service.close()
    assert all(v["quality"] == 80 and "score" not in v for v in made["variants"])


@pytest.mark.parametrize("size", [(203, 157), (64, 9), (130, 128)])
def test_the_strips_do_not_change_the_score(
    size: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Odd sides, a height below one strip, and strips that end on the last row: the
    score of 8-row strips (the blur's reach is 4) equals that of the shipped height."""
    im = _detailed(size)
    distorted = _decoded(_webp(im, 40))
    shipped = quality.ssimulacra2(im, distorted)
    monkeypatch.setattr(quality, "ROWS", 8)
    assert quality.ssimulacra2(im, distorted) == pytest.approx(shipped, abs=1e-4)
    assert shipped < 90


def test_the_metric_works_where_numba_cannot_cache(tmp_path: Path) -> None:
    """A read-only package and no home directory (a locked-down container): numba
    refuses ``cache=True`` there, which made every targeted upload a 400 before."""
    import shutil

    import imgsvc

    package = tmp_path / "site" / "imgsvc"
    shutil.copytree(
        Path(imgsvc.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__")
    )
    (package / "pipeline" / "__pycache__").write_text("")  # nowhere to write beside the code
    (tmp_path / "home").write_text("")  # and no home
    code = (
        "from PIL import Image\n"
        "from imgsvc.pipeline import quality\n"
        "im = Image.effect_noise((64, 48), 40).convert('RGB')\n"
        "print(quality.__file__, quality.ssimulacra2(im, im))\n"
    )
    env = {**os.environ, "HOME": str(tmp_path / "home"), "PYTHONPATH": str(package.parent)}
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run(
        [sys.executable, "-B", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    path, score = out.stdout.split()
    assert path.startswith(str(package)) and float(score) == 100.0
