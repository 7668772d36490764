"""The target search (``imgsvc.pipeline.targeting``): searched narrow widths, predicted
wide ones, on small generated images. Every assertion decodes and scores, or checks
that the bytes returned are the encode of the quality claimed."""

from __future__ import annotations

import io
import math

import pytest
from PIL import Image

from imgsvc.pipeline import PipelineConfig, convert
from imgsvc.pipeline.plan import Size
from imgsvc.settings import Settings

from .test_quality import _decoded, _detailed, _flat, _webp

quality = pytest.importorskip("imgsvc.pipeline.quality")
targeting = pytest.importorskip("imgsvc.pipeline.targeting")


@pytest.mark.parametrize(("make", "score"), [(_detailed, 33.0), (_flat, 76.0)])
def test_choose_finds_the_lowest_quality_reaching_the_target(make, score: float) -> None:
    im = make()
    target = targeting.Target(score, 10, 95)
    choice = targeting.choose(im, lambda q: _webp(im, q), target)
    assert target.low <= choice.quality <= target.high
    assert choice.score >= score
    assert choice.data == _webp(im, choice.quality)
    if choice.quality > target.low:
        below = quality.ssimulacra2(im, _decoded(_webp(im, choice.quality - 1)))
        assert below < score
    assert choice.trials <= 7


def test_a_trial_within_the_margin_ends_the_search() -> None:
    im = _detailed()
    target = targeting.Target(33.0, 10, 95)
    exact = targeting.choose(im, lambda q: _webp(im, q), target)
    quick = targeting.choose(im, lambda q: _webp(im, q), target, accept=3.0)
    assert target.score <= quick.score <= target.score + 3.0
    assert quick.score == quality.ssimulacra2(im, _decoded(quick.data))
    assert quick.trials <= exact.trials
    assert quick.quality >= exact.quality


def test_detailed_and_flat_images_need_different_qualities() -> None:
    target = targeting.Target(33.0, 10, 95)
    detailed, flat = _detailed(), _flat()
    hard = targeting.choose(detailed, lambda q: _webp(detailed, q), target)
    easy = targeting.choose(flat, lambda q: _webp(flat, q), target)
    assert easy.quality < hard.quality


def test_choose_stays_within_bounds() -> None:
    im = _detailed()
    unreachable = targeting.choose(im, lambda q: _webp(im, q), targeting.Target(99.5, 40, 60))
    assert unreachable.quality == 60
    assert unreachable.score < 99.5
    easy = targeting.choose(im, lambda q: _webp(im, q), targeting.Target(1.0, 40, 60))
    assert easy.quality == 40


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError):
        targeting.Target(70.0, 90, 50)


def test_a_steady_photo_gains_a_few_steps_per_octave() -> None:
    before = targeting.Choice(60, 70.5, b"", {60: 70.5})
    last = targeting.Choice(60, 70.3, b"", {60: 70.3})
    for width in (1280, 1920):
        steady = 60 + targeting.PER_OCTAVE * math.log2(width / 768)
        assert targeting.predict([480, 768], [before, last], width, 70.0) == steady
    assert targeting.predict([480], [before], 960, 70.0) == 60 + targeting.PER_OCTAVE


def test_a_score_falling_with_the_width_buys_quality_back_up_to_the_cap() -> None:
    """A gradient: 6.6 points lost between 480 and 768 at quality 55."""
    before = targeting.Choice(55, 70.2, b"", {55: 70.2})
    last = targeting.Choice(78, 70.1, b"", {55: 63.6, 70: 67.2, 78: 70.1})
    steady = 78 + targeting.PER_OCTAVE * math.log2(1280 / 768)
    assert targeting.predict([480, 768], [before, last], 1280, 70.0) == max(
        steady, targeting.GRADIENT_CAP
    )
    milder = targeting.Choice(62, 70.4, b"", {55: 67.0, 62: 70.4})  # lost 3.2 at 55
    mild = targeting.predict([480, 768], [before, milder], 1920, 70.0)
    assert 62 + targeting.PER_OCTAVE * math.log2(1920 / 768) < mild < targeting.GRADIENT_CAP


def test_wide_widths_are_predicted_encoded_once_and_not_scored() -> None:
    images = [_detailed((w, w * 5 // 8)) for w in (256, 512, 1024)]
    encodes: list[tuple[int, int]] = []

    def encode(index: int, q: int) -> bytes:
        encodes.append((index, q))
        return _webp(images[index], q)

    target = targeting.Target(40.0, 30, 95)
    low, mid, wide = targeting.choose_widths(images, encode, target, 80)
    assert low.score is not None and low.score >= 40.0
    assert mid.score is not None and mid.score >= 40.0
    expected = target.clamp(targeting.predict([256, 512], [low, mid], 1024, 40.0))
    assert (wide.quality, wide.score, wide.trials) == (expected, None, 1)
    assert [e for e in encodes if e[0] == 2] == [(2, expected)]
    assert wide.data == _webp(images[2], expected)
    assert wide.quality >= mid.quality


def test_a_predicted_width_in_the_pipeline_has_quality_and_no_score() -> None:
    sizes = (Size("sm", 256), Size("md", 384), Size("lg", 1000))
    settings = Settings.load({}, sizes=sizes, quality_target=50.0, quality_min=30)
    buf = io.BytesIO()
    _detailed((1000, 625)).save(buf, "PNG")
    variants = convert(buf.getvalue(), PipelineConfig.from_settings(settings)).variants
    assert [v.width for v in variants] == [256, 384, 1000]
    sm, md, lg = variants
    assert sm.score is not None and md.score is not None and lg.score is None
    steady = min(max(round(md.quality + targeting.PER_OCTAVE * math.log2(1000 / 384)), 30), 95)
    assert steady <= lg.quality <= max(steady, targeting.GRADIENT_CAP)
    with Image.open(io.BytesIO(lg.data)) as decoded:
        assert decoded.size == (1000, 625)


#: Fingerprints of targeted configurations before revision 4 (the cheap search).
TARGETED_BEFORE = [
    ({"quality_target": 70.0}, "8e8ada50648b0a6f"),
    ({"quality_target": 70.0, "formats": ("avif", "webp")}, "52f56cd121cd2968"),
]


@pytest.mark.parametrize(("overrides", "before"), TARGETED_BEFORE)
def test_revision_4_moves_targeted_fingerprints_only(
    overrides: dict[str, object], before: str
) -> None:
    config = PipelineConfig.from_settings(Settings.load({}, **overrides))
    assert 4 in config.output.recipe()["revisions"]
    assert config.fingerprint != before
    default = PipelineConfig.from_settings(Settings.load({}))
    assert default.fingerprint == "9cbe8f84a1806074"
    assert "revisions" not in default.output.recipe()
    several = PipelineConfig.from_settings(Settings.load({}, formats=("avif", "webp")))
    assert several.output.recipe()["revisions"] == [1]
