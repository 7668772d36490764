"""AVIF's speed and tune (issue 11): bytes at equal SSIMULACRA2 and encode CPU.

Pillow's AVIF encoder (libavif with aom here) at 1280 px of each corpus photo (the
cascade's own image), qualities 45 / 60 / 75 per configuration, each encode scored
with imgsvc's metric; bytes at score 70 interpolated as in ``quality_knobs.py``, CPU
is ``time.process_time`` (aom's threads included), and WebP at method 4 (imgsvc's
default) is the reference row for CPU.

    .venv/bin/python -m benchmarks.quality_avif [WIDTH]
"""

from __future__ import annotations

import io
import sys
import time
from typing import Any

from PIL import Image

from benchmarks.fetch_corpus import corpus_files
from benchmarks.quality_knobs import Point, print_table
from benchmarks.quality_research.collect import widths_of
from imgsvc.pipeline.quality import Reference

CONFIGS: dict[str, dict[str, Any]] = {
    "avif speed 6 (Pillow's default)": {"speed": 6},
    "avif speed 8": {"speed": 8},
    "avif speed 10": {"speed": 10},
    "avif speed 6, tune ssim": {"speed": 6, "advanced": {"tune": "ssim"}},
    "avif speed 8, tune ssim": {"speed": 8, "advanced": {"tune": "ssim"}},
}
QUALITIES = (45, 60, 75)
WEBP_QUALITIES = (65, 75, 85)


def _encode(image: Image.Image, fmt: str, **params: Any) -> tuple[bytes, float]:
    buf = io.BytesIO()
    cpu = time.process_time()
    image.save(buf, fmt, **params)
    return buf.getvalue(), time.process_time() - cpu


def main(width: int) -> None:
    results: dict[str, dict[str, list[Point]]] = {"webp method 4": {}, **{c: {} for c in CONFIGS}}
    for path in corpus_files(quick=False):
        images = widths_of(path.read_bytes())
        image = images.get(width, images[max(images)])
        reference = Reference(image)
        runs = [("webp method 4", "WEBP", {"method": 4}, WEBP_QUALITIES)]
        runs += [(name, "AVIF", params, QUALITIES) for name, params in CONFIGS.items()]
        for name, fmt, params, qualities in runs:
            for q in qualities:
                data, cpu = _encode(image, fmt, quality=q, **params)
                with Image.open(io.BytesIO(data)) as decoded:
                    score = reference.score(decoded.convert("RGB"))
                results[name].setdefault(path.name, []).append((q, len(data), score, cpu))
    header = f"| {width} px | bytes at score 70 vs AVIF speed 6 | photos | encode CPU |"
    print_table(results, "avif speed 6 (Pillow's default)", header)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1280)
