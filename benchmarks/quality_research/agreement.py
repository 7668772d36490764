"""How ``imgsvc.pipeline.quality`` agrees with libjxl's ``ssimulacra2`` tool, what it
costs, and whether a score computed on downscaled data stands for the full one.

The reference binary is not part of imgsvc: build libjxl's ``tools/ssimulacra2``
(or its standalone copy) locally and pass its path. Each photo of the corpus is
encoded at 480 px (qualities 55 and 80) and 1280 px (65 and 90): 44 pairs.

    .venv/bin/python -m benchmarks.quality_research.agreement /path/to/ssimulacra2
"""

from __future__ import annotations

import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.fetch_corpus import corpus_files
from benchmarks.quality_research.collect import encode, widths_of
from imgsvc.pipeline.quality import ssimulacra2

PAIRS = {480: (55, 80), 1280: (65, 90)}


def reference_score(tool: str, a: Path, b: Path) -> tuple[float, float]:
    """The C++ tool's score and the CPU seconds of its process (decode included)."""
    before = _children_cpu()
    out = subprocess.run([tool, str(a), str(b)], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1]), _children_cpu() - before


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def halved(image: Image.Image) -> Image.Image:
    """A 2x box reduction: the reduction SSIMULACRA2 makes between its scales
    (in gamma space here, as a service would downscale)."""
    return image.reduce(2)


def main(tool: str) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in corpus_files(quick=False):
            images = widths_of(path.read_bytes())
            for width, qualities in PAIRS.items():
                ref = images[width]
                ref_png = Path(tmp) / "ref.png"
                ref.save(ref_png, compress_level=1)
                for q in qualities:
                    decoded = Image.open(io.BytesIO(encode(ref, q))).convert("RGB")
                    dist_png = Path(tmp) / "dist.png"
                    decoded.save(dist_png, compress_level=1)
                    c0 = time.process_time()
                    ours = ssimulacra2(ref, decoded)
                    ours_cpu = time.process_time() - c0
                    theirs, theirs_cpu = reference_score(tool, ref_png, dist_png)
                    half = ssimulacra2(halved(ref), halved(decoded))
                    rows.append((path.name, width, q, ours, theirs, ours_cpu, theirs_cpu, half))
                    print(
                        f"{path.name} {width} q{q}: ours {ours:.3f} libjxl {theirs:.3f} "
                        f"half-size {half:.3f}",
                        flush=True,
                    )
    ours_all = np.array([r[3] for r in rows])
    theirs_all = np.array([r[4] for r in rows])
    diff = ours_all - theirs_all
    print(
        f"\n{len(rows)} pairs: Pearson {np.corrcoef(ours_all, theirs_all)[0, 1]:.5f}, "
        f"mean diff {diff.mean():+.3f}, mean |diff| {np.abs(diff).mean():.3f}, "
        f"max |diff| {np.abs(diff).max():.3f}"
    )
    for width in PAIRS:
        sel = [r for r in rows if r[1] == width]
        d = np.array([r[3] - r[4] for r in sel])
        cpu = statistics.median(r[5] for r in sel)
        ref_cpu = statistics.median(r[6] for r in sel)
        half = np.array([r[7] - r[3] for r in sel])
        print(
            f"{width} px: max |diff| {np.abs(d).max():.3f}; CPU per score ours {cpu:.3f} s, "
            f"libjxl tool {ref_cpu:.3f} s (incl. PNG decode); half-size score minus full: "
            f"mean {half.mean():+.2f}, range {half.min():+.2f}..{half.max():+.2f}"
        )


if __name__ == "__main__":
    main(sys.argv[1])
