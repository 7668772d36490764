"""One upload's latency: each engine converts one photo, nothing else running.

The order is image-major (every engine on one photo, then the next photo) so
that a burst of load from a neighbour on the shared machine hits all engines of
the same photo alike instead of one engine's whole series.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .common import ENGINES, IMAGES, ROUNDS, Source
from .report import Results


@pytest.mark.parametrize(
    ("image", "engine"),
    [(image, engine) for image in IMAGES for engine in ENGINES],
)
def test_one_upload(
    benchmark: Any,
    bench_results: Results,
    corpus: dict[str, Source],
    image: str,
    engine: str,
    converter: Callable[[Source], Any],
) -> None:
    source = corpus[image]
    benchmark.group = f"one upload: {image}"
    benchmark.extra_info["engine"] = engine
    benchmark.pedantic(converter, args=(source,), rounds=ROUNDS, warmup_rounds=1, iterations=1)
    if benchmark.stats is not None:
        bench_results.latency.setdefault(engine, {})[image] = benchmark.stats.stats.min
