"""encode: each conversion is the one its format alone would make (issue 11)."""

from __future__ import annotations

import io
from types import MappingProxyType

import pytest
from PIL import Image, ImageSequence

from imgsvc.pipeline import PipelineConfig, convert, encode
from imgsvc.pipeline.config import Output
from imgsvc.settings import Settings

from .factories import SQUARE, SQUARE_BOXES, moving_square, photo


def config(formats: dict[str, int]) -> PipelineConfig:
    base = PipelineConfig.from_settings(Settings.load({}))
    return PipelineConfig(Output(base.output.sizes, MappingProxyType(formats)), base.limits)


def by_format(data: bytes, cfg: PipelineConfig) -> dict[str, dict[int, bytes]]:
    out: dict[str, dict[int, bytes]] = {}
    for v in convert(data, cfg).variants:
        out.setdefault(v.format, {})[v.width] = v.data
    return out


def test_one_format_never_changes_anothers_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """The AVIF and the WebP job of a width run at once; Pillow keeps ``save``'s
    parameters on the image object, so a shared image gave the WebP AVIF's quality
    (and the AVIF WebP's). Two threads even on one core: the encoders release the GIL."""
    monkeypatch.setattr(encode, "THREADS", 2)
    data = photo()
    alone = {
        "webp": by_format(data, config({"webp": 80}))["webp"],
        "avif": by_format(data, config({"avif": 60}))["avif"],
    }
    for _ in range(3):
        assert by_format(data, config({"avif": 60, "webp": 80})) == alone


def test_an_animation_keeps_its_alpha_at_every_width() -> None:
    """At the source's width nothing is resampled, so every rectangle libwebp's
    animation encoder keeps is opaque, and libwebp's muxer then left the file's alpha
    flag unset: decoders showed black where the source is transparent."""
    variants = convert(moving_square(), PipelineConfig.from_settings(Settings.load({}))).variants
    assert [v.width for v in variants] == [480, 500]
    for v in variants:
        im = Image.open(io.BytesIO(v.data))
        assert im.mode == "RGBA", v.width
        scale = v.width / 500
        for frame, box in zip(ImageSequence.Iterator(im), SQUARE_BOXES, strict=True):
            rgba = frame.convert("RGBA")
            left, top, right, bottom = (round(c * scale) for c in box)
            centre = ((left + right) // 2, (top + bottom) // 2)
            assert rgba.getpixel((5, 5)) == (0, 0, 0, 0), v.width
            assert rgba.getpixel((right + 10, centre[1]))[3] == 0, v.width
            pixel = rgba.getpixel(centre)
            assert isinstance(pixel, tuple)
            assert pixel[3] == 255, v.width
            assert all(abs(a - b) <= 12 for a, b in zip(pixel[:3], SQUARE[:3], strict=True))
        assert im.n_frames == 3
