"""What the editorial features cost (issue 12), as ratios against the main set alone,
measured in the same run over the corpus: CPU per image of ``convert()``

- ``main``: today's default (no crops, no detection): the baseline;
- ``detect``: the same plus focus detection (``focus_detection = "on"``): what a
  description's focus costs without crops;
- ``crops, editor focus``: config/editorial.toml's three crops around a given focus
  (no detection): what the crops themselves cost;
- ``crops, detected``: the same with detection (``auto``): a newsroom's default.

and, per photo, what the detector answered (source, box) and its own time.

    .venv/bin/python -m pytest benchmarks/test_focus.py -s -p no:cacheprovider

``IMGSVC_BENCH_QUICK=1``: the first three photos only.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from PIL import Image

from imgsvc.pipeline import Focus, PipelineConfig, convert
from imgsvc.pipeline.focus import detect
from imgsvc.settings import Settings

from .common import QUICK
from .fetch_corpus import corpus_files

EDITORIAL = Path(__file__).resolve().parents[1] / "config" / "editorial.toml"
ROUNDS = 1 if QUICK else 2


def _cpu(data: bytes, config: PipelineConfig, focus: Focus | None = None) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        convert(data, config, focus=focus)
        best = min(best, time.process_time() - started)
    return best


def test_what_focus_and_crops_cost() -> None:
    configs = {
        "main": PipelineConfig.from_settings(Settings.load({})),
        "detect": PipelineConfig.from_settings(Settings.load({}, focus_detection="on")),
        "crops, editor focus": PipelineConfig.from_settings(
            Settings.load({}, config_file=EDITORIAL, focus_detection="off")
        ),
        "crops, detected": PipelineConfig.from_settings(Settings.load({}, config_file=EDITORIAL)),
    }
    cpu: dict[str, list[float]] = {label: [] for label in configs}
    lines = []
    for path in corpus_files(QUICK):
        data = path.read_bytes()
        for label, config in configs.items():
            focus = Focus(0.5, 0.4) if label == "crops, editor focus" else None
            cpu[label].append(_cpu(data, config, focus))
        with Image.open(path) as im:
            im.draft("RGB", (1920, 1920))
            upright = im.convert("RGB")
            upright.thumbnail((1920, 1920))
        started = time.process_time()
        found = detect(upright)
        took = time.process_time() - started
        lines.append(
            f"| {path.name} | {found.source} | {found.x:.2f},{found.y:.2f},{found.w:.2f},"
            f"{found.h:.2f} | {took * 1000:.0f} |"
        )
    base = statistics.fmean(cpu["main"])
    print("\n| configuration | CPU per image, s (mean) | vs main |")
    print("| --- | --- | --- |")
    for label, times in cpu.items():
        mean = statistics.fmean(times)
        print(f"| {label} | {mean:.3f} | {mean / base:.2f}x |")
    print("\n| photo | detected | box x,y,w,h | detect CPU, ms |")
    print("| --- | --- | --- | --- |")
    print("\n".join(lines))
    assert all(t > 0 for times in cpu.values() for t in times)
