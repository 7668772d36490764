"""libwebp's ``method`` (0-6, Pillow's parameter) per width: bytes at equal
SSIMULACRA2 and encode CPU against method 4, the pipeline's (issue 11; the figures
behind ``formats.WEBP.search_encoder`` and ``docs/quality.md``).

For each corpus photo and each width imgsvc makes, imgsvc's own image (the cascade's,
as the target is defined) is encoded through Pillow (the pipeline's libwebp) at
qualities 65 / 75 / 85 per method, each encode scored with imgsvc's metric; the bytes
at score 70 are interpolated as in ``quality_knobs.py``. CPU is the least
``time.process_time`` of two encodes (the machine's other tenants inflate one).

    .venv/bin/python -m benchmarks.quality_methods
"""

from __future__ import annotations

import io
import time

from PIL import Image

from benchmarks.fetch_corpus import corpus_files
from benchmarks.quality_knobs import QUALITIES, Point, summary
from benchmarks.quality_research.collect import TRIAL, widths_of
from imgsvc.pipeline.quality import Reference, decoded

METHODS = (0, 1, 2, 3, 4)
BASE = 4


def encode(image: Image.Image, quality: int, method: int) -> tuple[bytes, float]:
    best = float("inf")
    for _ in range(2):
        buf = io.BytesIO()
        c0 = time.process_time()
        image.save(buf, "WEBP", quality=quality, method=method)
        best = min(best, time.process_time() - c0)
    return buf.getvalue(), best


def measure() -> dict[int, dict[int, dict[str, list[Point]]]]:
    """width bucket -> method -> photo -> points (the largest width counts as 1920)."""
    out: dict[int, dict[int, dict[str, list[Point]]]] = {}
    for path in corpus_files(quick=False):
        images = {w: im for w, im in widths_of(path.read_bytes()).items() if w != TRIAL}
        for width, image in images.items():
            bucket = 1920 if width == max(images) else width
            reference = Reference(image)
            for method in METHODS:
                points = out.setdefault(bucket, {}).setdefault(method, {})
                for q in QUALITIES:
                    data, cpu = encode(image, q, method)
                    score = reference.score(decoded(data))
                    points.setdefault(path.name, []).append((q, len(data), score, cpu))
    return out


def main() -> None:
    results = measure()
    print("| width | method | bytes at score 70 vs method 4 (range) | CPU per encode vs method 4 |")
    print("| --- | --- | --- | --- |")
    for width, methods in sorted(results.items()):
        base = methods[BASE]
        *_, base_cpu = summary(base, base)
        for method, photos in methods.items():
            ratios, count, cpu = summary(photos, base)
            print(
                f"| {width} | {method} | {ratios}, {count} photos | "
                f"{cpu / base_cpu:.2f}x ({cpu * 1000:.1f} ms) |"
            )


if __name__ == "__main__":
    main()
