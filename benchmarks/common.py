"""What every benchmark module shares: the run's mode, the corpus names, the engines."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .fetch_corpus import PHOTOS, QUICK_COUNT

QUICK = os.environ.get("IMGSVC_BENCH_QUICK", "") not in ("", "0")
ROUNDS = 1 if QUICK else 3
#: File names of the corpus, known at collection time (the photos are fetched later).
IMAGES = [Path(p).name for p in (PHOTOS[:QUICK_COUNT] if QUICK else PHOTOS)]
ENGINES = ("imgsvc", "naive", "sharp", "pyvips")


@dataclass(frozen=True, slots=True)
class Source:
    """One corpus photo, read before any clock starts."""

    path: Path
    name: str
    data: bytes
    widths: tuple[int, ...]
    width: int
    height: int
    format: str
