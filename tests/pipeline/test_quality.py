"""Quality targeting: the SSIMULACRA2 port and the chooser, on small generated images.

The port's agreement with libjxl's tool over the corpus is measured by
``benchmarks/quality_research/agreement.py`` (docs/quality.md); here, the pinned
scores below are the C++ tool's own on the same pixels, within its measured gap.
"""

from __future__ import annotations

import io
import random
import subprocess
import sys

import pytest
from PIL import Image, ImageDraw, ImageFilter

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


def test_identical_images_score_100() -> None:
    im = _detailed()
    assert quality.ssimulacra2(im, im) == pytest.approx(100.0)


def test_score_falls_with_the_encoder_quality() -> None:
    im = _detailed()
    scores = [quality.ssimulacra2(im, _decoded(_webp(im, q))) for q in (10, 40, 70, 95)]
    assert scores == sorted(scores)
    assert scores[0] < 20 < 35 < scores[-1]


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


@pytest.mark.parametrize(("make", "score"), [(_detailed, 33.0), (_flat, 76.0)])
def test_choose_finds_the_lowest_quality_reaching_the_target(make, score: float) -> None:
    im = make()
    target = quality.Target(score, 10, 95)
    choice = quality.choose(im, lambda q: _webp(im, q), target)
    assert target.low <= choice.quality <= target.high
    assert choice.score >= score
    assert choice.data == _webp(im, choice.quality)
    if choice.quality > target.low:
        below = quality.ssimulacra2(im, _decoded(_webp(im, choice.quality - 1)))
        assert below < score
    assert choice.trials <= 7


def test_detailed_and_flat_images_need_different_qualities() -> None:
    target = quality.Target(33.0, 10, 95)
    detailed, flat = _detailed(), _flat()
    hard = quality.choose(detailed, lambda q: _webp(detailed, q), target)
    easy = quality.choose(flat, lambda q: _webp(flat, q), target)
    assert easy.quality < hard.quality


def test_choose_stays_within_bounds() -> None:
    im = _detailed()
    unreachable = quality.choose(im, lambda q: _webp(im, q), quality.Target(99.5, 40, 60))
    assert unreachable.quality == 60
    assert unreachable.score < 99.5
    easy = quality.choose(im, lambda q: _webp(im, q), quality.Target(1.0, 40, 60))
    assert easy.quality == 40


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError):
        quality.Target(70.0, 90, 50)


def test_the_pipeline_does_not_import_numpy_or_opencv() -> None:
    """A service without a target never loads the metric's dependencies."""
    code = (
        "import sys, imgsvc.pipeline, imgsvc.service\n"
        "print(sorted(m for m in ('numpy', 'cv2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
