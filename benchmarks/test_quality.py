"""Quality per byte: SSIMULACRA2 and bytes of every output (issue 5's target reads 1280 px).

The reference is what a careful offline tool would make: the full decode,
upright, in sRGB, resized once with LANCZOS to the output's own size. Scoring
each engine's WebP against it measures both the resize (shrink-on-load, box
reduction, cascades) and the encoder; bytes are counted over all widths, since a
srcset costs all of them.

SSIMULACRA2 comes from the PyPI package ``ssimulacra2`` (a numpy/scipy port of
libjxl's tool; its scores track the C++ ones closely but not to the decimal, so
only differences within this run mean anything).
"""

from __future__ import annotations

import io
from functools import cache
from typing import Any

import pytest
from PIL import Image, ImageCms, ImageOps

from .common import ENGINES, Source
from .engines import PY_ENGINES, Output
from .report import Results

WIDTH = 1280
_SRGB = ImageCms.createProfile("sRGB")


@cache
def _reference(path: str, size: tuple[int, int]) -> bytes:
    """The reference as a lossless PNG (fast to write: compress_level 1)."""
    with Image.open(path) as im:
        icc = im.info.get("icc_profile")
        full = ImageOps.exif_transpose(im).convert("RGB")
    if icc:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" not in ImageCms.getProfileDescription(profile).lower().replace(" ", ""):
            full = ImageCms.profileToProfile(full, profile, _SRGB, outputMode="RGB") or full
    buf = io.BytesIO()
    full.resize(size, Image.Resampling.LANCZOS).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def _score(source: Source, webp: bytes) -> float:
    from ssimulacra2 import compute_ssimulacra2

    with Image.open(io.BytesIO(webp)) as out:
        size = out.size
    reference = _reference(str(source.path), size)
    return float(compute_ssimulacra2(io.BytesIO(reference), io.BytesIO(webp)))


def _outputs(request: pytest.FixtureRequest, engine: str, source: Source) -> Output:
    if engine == "sharp":
        return request.getfixturevalue("sharp").convert(source.path, source.widths)  # type: ignore[no-any-return]
    return PY_ENGINES[engine](source.data, source.widths)


@pytest.mark.parametrize("engine", ENGINES)
def test_quality_per_byte(
    benchmark: Any,
    request: pytest.FixtureRequest,
    bench_results: Results,
    corpus: dict[str, Source],
    py_extras: object,
    engine: str,
) -> None:
    outputs = {name: _outputs(request, engine, s) for name, s in corpus.items()}
    bench_results.outputs[engine] = {
        name: {w: len(b) for w, b in out.items()} for name, out in outputs.items()
    }

    def score_all() -> dict[str, dict[int, float]]:
        return {
            name: {w: _score(corpus[name], webp) for w, webp in out.items()}
            for name, out in outputs.items()
        }

    benchmark.group = "quality: time to score SSIMULACRA2 (not a speed figure)"
    scores = benchmark.pedantic(score_all, rounds=1, iterations=1)
    bench_results.quality_by_width[engine] = scores
    bench_results.quality[engine] = {n: s[WIDTH] for n, s in scores.items() if WIDTH in s}
    at_width = list(bench_results.quality[engine].values())
    benchmark.extra_info["mean_ssimulacra2_1280"] = sum(at_width) / len(at_width)
