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
from imgsvc.pipeline.resize import downscale
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


def _predicted_case(target: float) -> tuple[list[Image.Image], list[tuple[int, int]], list]:
    images = [_detailed((w, w * 5 // 8)) for w in (256, 512, 1024)]
    encodes: list[tuple[int, int]] = []

    def encode(index: int, q: int, searched: bool) -> bytes:
        assert searched == (index < 2)  # 256 and 512 px are searched, 1024 px predicted
        encodes.append((index, q))
        return _webp(images[index], q)

    choices = targeting.choose_widths(images, encode, targeting.Target(target, 30, 95), 80)
    return images, encodes, choices


def test_a_wide_width_is_predicted_then_encoded_and_scored_once() -> None:
    images, encodes, (low, mid, wide) = _predicted_case(40.0)
    assert low.score >= 40.0 and mid.score >= 40.0
    expected = targeting.Target(40.0, 30, 95).clamp(
        targeting.predict([256, 512], [low, mid], 1024, 40.0)
    )
    assert (wide.quality, wide.trials) == (expected, 1)
    assert [e for e in encodes if e[0] == 2] == [(2, expected)]
    assert wide.data == _webp(images[2], expected)
    # the score recorded is the score of the stored bytes, measured, not predicted
    assert wide.score == pytest.approx(quality.ssimulacra2(images[2], _decoded(wide.data)))
    assert wide.score >= 40.0 - targeting.SLACK


def test_a_predicted_width_that_misses_is_searched(monkeypatch: pytest.MonkeyPatch) -> None:
    """A prediction far too low (forced here) is measured, found short by more than
    the slack, and searched up to the lowest quality that reaches the target."""
    monkeypatch.setattr(targeting, "predict", lambda *args: 30.0)
    images, encodes, (_, _, wide) = _predicted_case(55.0)
    assert wide.tried[30] < 55.0 - targeting.SLACK and (2, 30) in encodes
    assert wide.trials > 1 and wide.score >= 55.0
    assert wide.score == pytest.approx(quality.ssimulacra2(images[2], _decoded(wide.data)))
    below = quality.ssimulacra2(images[2], _decoded(_webp(images[2], wide.quality - 1)))
    assert below < 55.0


def test_every_width_in_the_pipeline_has_quality_and_its_measured_score() -> None:
    """Before, the predicted 1000 px width had no score (issue 11: every targeted
    variant carries the SSIMULACRA2 it reached)."""
    sizes = (Size("sm", 256), Size("md", 384), Size("lg", 1000))
    settings = Settings.load({}, sizes=sizes, quality_target=50.0, quality_min=30)
    buf = io.BytesIO()
    source = _detailed((1000, 625))
    source.save(buf, "PNG")
    variants = convert(buf.getvalue(), PipelineConfig.from_settings(settings)).variants
    assert [v.width for v in variants] == [256, 384, 1000]
    sm, md, lg = variants
    steady = min(max(round(md.quality + targeting.PER_OCTAVE * math.log2(1000 / 384)), 30), 95)
    assert steady <= lg.quality <= max(steady, targeting.GRADIENT_CAP)
    with Image.open(io.BytesIO(lg.data)) as decoded:
        assert decoded.size == (1000, 625)
        assert lg.score == pytest.approx(quality.ssimulacra2(source, decoded.convert("RGB")))
    assert sm.score is not None and md.score is not None
    assert sm.score >= 50.0 and md.score >= 50.0 and lg.score >= 50.0 - targeting.SLACK


#: Fingerprints of targeted configurations before revision 4 (the cheap search),
#: before revision 5 (the predicted widths measured) and before revision 6 (the
#: searched widths at method 2).
TARGETED_BEFORE = [
    ({"quality_target": 70.0}, ("8e8ada50648b0a6f", "39e0b2d729885ac2", "6ff43a6bf1474782")),
    (
        {"quality_target": 70.0, "formats": ("avif", "webp")},
        ("52f56cd121cd2968", "39a53f5550e7c2ea", "22ac4977de05456f"),
    ),
]


@pytest.mark.parametrize(("overrides", "before"), TARGETED_BEFORE)
def test_revisions_4_to_6_move_targeted_fingerprints_only(
    overrides: dict[str, object], before: tuple[str, ...]
) -> None:
    config = PipelineConfig.from_settings(Settings.load({}, **overrides))
    assert {4, 5, 6} <= set(config.output.recipe()["revisions"])
    assert config.fingerprint not in before
    default = PipelineConfig.from_settings(Settings.load({}))
    assert default.fingerprint == "9cbe8f84a1806074"
    assert "revisions" not in default.output.recipe()
    several = PipelineConfig.from_settings(Settings.load({}, formats=("avif", "webp")))
    assert several.output.recipe()["revisions"] == [1]


def test_widths_too_small_for_the_metric_keep_the_fixed_quality() -> None:
    """SSIMULACRA2 is undefined under 8 px a side; before, such an upload with a target
    was refused as undecodable (400)."""
    config = PipelineConfig.from_settings(Settings.load({}, quality_target=70.0))
    for size, scored in (((5, 5), []), ((2000, 10), [1920])):
        buf = io.BytesIO()
        Image.effect_noise(size, 50).convert("RGB").save(buf, "PNG")
        variants = convert(buf.getvalue(), config).variants
        for v in variants:
            with Image.open(io.BytesIO(v.data)) as decoded:
                assert decoded.size == (v.width, v.height)
            if v.width in scored:
                assert v.score is not None and min(v.width, v.height) >= quality.MIN_SIDE
            else:
                assert (v.quality, v.score) == (80, None)
        assert [v.width for v in variants if v.score is not None] == scored


def test_a_jpeg_of_a_transparent_source_is_scored_against_its_flattened_image() -> None:
    """The metric puts transparency over grey, the JPEG encoder flattens it onto white:
    scored against the image with alpha, every JPEG missed any target and came out at
    quality_max with a score near -60."""
    im = _detailed((384, 240)).convert("RGBA")
    im.paste((0, 0, 0, 0), (0, 0, 192, 240))  # the left half transparent
    buf = io.BytesIO()
    im.save(buf, "PNG")
    sizes = (Size("sm", 256), Size("md", 384))
    settings = Settings.load(
        {}, sizes=sizes, formats=("webp", "jpeg"), quality_target=50.0, quality_min=30
    )
    variants = convert(buf.getvalue(), PipelineConfig.from_settings(settings)).variants
    jpegs = [v for v in variants if v.format == "jpeg"]
    assert [v.width for v in jpegs] == [256, 384]
    for v in jpegs:
        assert v.quality < 95 and v.score is not None and v.score >= 50.0
        white = Image.new("RGBA", (v.width, v.height), (255, 255, 255, 255))
        flat = Image.alpha_composite(white, im.resize((v.width, v.height), Image.LANCZOS))
        with Image.open(io.BytesIO(v.data)) as decoded:
            assert decoded.getpixel((5, 5)) >= (250, 250, 250)  # white where transparent
            assert v.score == pytest.approx(
                quality.ssimulacra2(flat.convert("RGB"), decoded.convert("RGB")), abs=3.0
            )


def test_searched_widths_are_encoded_with_the_search_parameters() -> None:
    """A targeted set's searched width is method 2's encode at its recorded quality, a
    predicted one method 4's, and without a target every width is method 4's."""
    source = _detailed((1024, 640))
    buf = io.BytesIO()
    source.save(buf, "PNG")
    sizes = (Size("sm", 256), Size("xl", 1024))
    images = {1024: source, 256: downscale(source, (256, 160))}

    def pixels(data: bytes) -> bytes:
        return Image.open(io.BytesIO(data)).convert("RGB").tobytes()

    def encoded(width: int, q: int, method: int) -> bytes:
        out = io.BytesIO()
        images[width].save(out, "WEBP", quality=q, method=method)
        return pixels(out.getvalue())

    for target, methods in ((None, {256: 4, 1024: 4}), (40.0, {256: 2, 1024: 4})):
        settings = Settings.load({}, sizes=sizes, quality_target=target, quality_min=30)
        for v in convert(buf.getvalue(), PipelineConfig.from_settings(settings)).variants:
            other = 6 - methods[v.width]
            assert pixels(v.data) == encoded(v.width, v.quality, methods[v.width])
            assert pixels(v.data) != encoded(v.width, v.quality, other)
