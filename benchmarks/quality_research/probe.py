"""Does a small mosaic of tiles stand for a whole width? For each photo and width,
the lowest quality reaching each target on the mosaic (``probe`` below, once in
``imgsvc.pipeline.quality``; it failed, see docs/quality.md), against the exhaustive
answer on the full image (``collect.py``'s JSON):
the score the full image reaches at the probe's quality is what matters.

    .venv/bin/python -m benchmarks.quality_research.probe [IN.json]
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

from PIL import Image

from benchmarks.fetch_corpus import corpus_files
from benchmarks.quality_research.analyse import HIGH, LOW, at, load, lowest
from benchmarks.quality_research.collect import CACHE, TARGETS, encode, widths_of
from imgsvc.pipeline.quality import Reference

LAYOUTS = ((128, 4, 2), (64, 8, 4), (96, 6, 3))  # tile side, columns, rows


def probe(image: Image.Image, tile: int, cols: int, rows: int) -> Image.Image:
    """A mosaic of ``cols`` x ``rows`` tiles of ``tile`` px, taken on a regular grid
    across ``image``: a sample of its content at its own resolution, small enough to
    encode and score several times for the price of one encode of the whole."""
    if image.width <= tile * cols and image.height <= tile * rows:
        return image
    mosaic = Image.new(image.mode, (tile * cols, tile * rows))
    for row in range(rows):
        for col in range(cols):
            x = round((image.width - tile) * (col + 0.5) / cols) if cols > 1 else 0
            y = round((image.height - tile) * (row + 0.5) / rows) if rows > 1 else 0
            x, y = max(0, x), max(0, y)
            mosaic.paste(image.crop((x, y, x + tile, y + tile)), (col * tile, row * tile))
    return mosaic


def probe_curve(image: Image.Image, tile: int, cols: int, rows: int) -> dict[int, float]:
    mosaic = probe(image, tile, cols, rows)
    reference = Reference(mosaic)
    out = {}
    for q in range(LOW, HIGH + 1):
        with Image.open(io.BytesIO(encode(mosaic, q))) as decoded:
            out[q] = reference.score(decoded.convert("RGB"))
    return out


def main(path: Path) -> None:
    data = load(path)
    errors: dict[tuple[int, int, int], list[tuple[str, int, float, float, int, int]]] = {}
    cpu = time.process_time()
    for photo in corpus_files(quick=False):
        images = widths_of(photo.read_bytes())
        for width, image in sorted(images.items()):
            if width <= 480:
                continue
            for layout in LAYOUTS:
                curve = probe_curve(image, *layout)
                for target in TARGETS:
                    q = next((q for q in range(LOW, HIGH + 1) if curve[q] >= target), HIGH)
                    full = data[photo.name][width]
                    errors.setdefault(layout, []).append(
                        (photo.name, width, target, at(full, q), q, lowest(full, target))
                    )
    print(f"CPU {time.process_time() - cpu:.0f} s")
    for layout, rows in errors.items():
        for target in TARGETS:
            sel = [r for r in rows if r[2] == target]
            reached = [r[3] - target for r in sel]
            qerr = [r[4] - r[5] for r in sel]
            print(
                f"tiles {layout}: target {target:g}: full-image score at the probe's quality "
                f"minus target: min {min(reached):+.1f} mean {sum(reached) / len(reached):+.1f}"
                f" max {max(reached):+.1f}; quality error {min(qerr):+d}..{max(qerr):+d}"
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else CACHE)
