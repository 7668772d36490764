"""libwebp's knobs beyond Pillow's parameters (issue 11): bytes at equal SSIMULACRA2.

Pillow passes only quality, method and a few flags to libwebp, so this drives Debian's
``cwebp`` (``apt-get install webp``; libwebp 1.2.4 there, Pillow bundles 1.6.0: compare
rows with each other, not with the pipeline). For each corpus photo, imgsvc's own
image at one width (the cascade's, as the target is defined) is encoded at method 4,
qualities 65 / 75 / 85, per configuration; each encode is scored with imgsvc's metric,
and the bytes at score 70 are interpolated (log bytes, linear in score) where the three
qualities bracket 70. Wall time per encode includes starting ``cwebp``.

    .venv/bin/python -m benchmarks.quality_knobs [WIDTH]     # default 1280
"""

from __future__ import annotations

import io
import itertools
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image

from benchmarks.fetch_corpus import corpus_files
from benchmarks.quality_research.collect import widths_of
from imgsvc.pipeline.quality import Reference

CONFIGS: dict[str, list[str]] = {
    "default (sns 50, f 60)": [],
    "sharp_yuv": ["-sharp_yuv"],
    "sns 80": ["-sns", "80"],
    "sns 25": ["-sns", "25"],
    "f 30": ["-f", "30"],
    "f 80": ["-f", "80"],
    "af (autofilter)": ["-af"],
}
QUALITIES = (65, 75, 85)
Point = tuple[int, int, float, float]  # quality, bytes, score, wall s


def at_score(points: list[Point], goal: float = 70.0) -> float | None:
    ordered = sorted(points, key=lambda p: p[2])
    for (_, b0, s0, _), (_, b1, s1, _) in itertools.pairwise(ordered):
        if s0 <= goal <= s1 and s1 > s0:
            t = (goal - s0) / (s1 - s0)
            return math.exp(math.log(b0) * (1 - t) + math.log(b1) * t)
    return None


def measure(width: int, folder: Path) -> dict[str, dict[str, list[Point]]]:
    results: dict[str, dict[str, list[Point]]] = {c: {} for c in CONFIGS}
    for path in corpus_files(quick=False):
        images = widths_of(path.read_bytes())
        image = images.get(width, images[max(images)])
        source = folder / f"{path.stem}.png"
        image.save(source, compress_level=1)
        reference = Reference(image)
        for name, args in CONFIGS.items():
            for q in QUALITIES:
                t0 = time.perf_counter()
                command = ["cwebp", "-quiet", "-m", "4", "-q", str(q), *args, str(source)]
                out = subprocess.run([*command, "-o", "-"], capture_output=True, check=True).stdout
                wall = time.perf_counter() - t0
                with Image.open(io.BytesIO(out)) as decoded:
                    score = reference.score(decoded.convert("RGB"))
                results[name].setdefault(path.name, []).append((q, len(out), score, wall))
    return results


def main(width: int) -> None:
    if shutil.which("cwebp") is None:
        sys.exit("cwebp not found: apt-get install webp")
    with tempfile.TemporaryDirectory() as folder:
        results = measure(width, Path(folder))
    header = f"| {width} px, cwebp -m 4 | bytes at score 70 vs default | photos | encode wall |"
    print_table(results, "default (sns 50, f 60)", header)


def summary(photos: dict[str, list[Point]], base: dict[str, list[Point]]) -> tuple[str, int, float]:
    """The geometric mean (and range) of the bytes at score 70 against ``base``'s over
    the photos whose encodes bracket 70 in both, their count, and the mean time per
    encode."""
    ratios = [
        a / b
        for photo, points in photos.items()
        if (a := at_score(points)) and (b := at_score(base[photo]))
    ]
    spent = statistics.fmean(p[3] for points in photos.values() for p in points)
    mean = statistics.geometric_mean(ratios)
    return f"{mean:.3f} ({min(ratios):.3f}..{max(ratios):.3f})", len(ratios), spent


def print_table(results: dict[str, Any], base_name: str, header: str) -> None:
    """One row per configuration: the geometric mean (and range) over the photos of its
    bytes at score 70 against ``base_name``'s, and its mean time per encode."""
    base = results[base_name]
    print(header)
    print("| --- | --- | --- | --- |")
    for name, photos in results.items():
        ratios, count, spent = summary(photos, base)
        print(f"| {name} | {ratios} | {count} | {spent * 1000:.0f} ms |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1280)
