"""Where the time of one upload goes: decode, resize, encode, store, for the largest photo.

Instrumented from outside (``stages.py`` wraps Pillow's calls and the storage's
methods while the real code runs), so imgsvc carries no timing code. The naive
baseline is broken down the same way: the difference between the two tables is
what the pipeline's design buys. Each subject runs ``ROUNDS`` times after one
untimed warm-up; the report keeps the round with the shortest wall time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import imgsvc.pipeline
from imgsvc.service import ImageService
from imgsvc.settings import Settings
from imgsvc.storage import create_storage

from .common import ROUNDS, Source
from .engines import imgsvc_settings, naive_convert
from .report import Results, StageRun
from .stages import run_traced

SUBJECTS: tuple[str, ...] = (
    "imgsvc convert()",
    "imgsvc ingest(), file storage",
    "imgsvc ingest(), S3",
    "naive baseline",
)
PLACEHOLDER = ((imgsvc.pipeline, "make_placeholder", "placeholder"),)


def _storage_calls(cls: type) -> tuple[tuple[Any, str, str], ...]:
    return tuple((cls, name, "store") for name in ("put", "get", "exists", "delete"))


@pytest.fixture
def subject(
    request: pytest.FixtureRequest, corpus: dict[str, Source]
) -> Iterator[tuple[Callable[[], object], tuple[tuple[Any, str, str], ...]]]:
    """(the call to time, the extra callables to trace) for the parametrized subject."""
    name: str = request.param
    largest = max(corpus.values(), key=lambda s: s.width * s.height)
    if name == "imgsvc convert()":
        config = imgsvc.pipeline.PipelineConfig.from_settings(imgsvc_settings())
        yield (lambda: imgsvc.pipeline.convert(largest.data, config)), PLACEHOLDER
    elif name == "naive baseline":
        yield (lambda: naive_convert(largest.data, largest.widths)), ()
    else:
        with tempfile.TemporaryDirectory(prefix="imgsvc-bench-stages-") as tmp:
            settings = _service_settings(request, name, Path(tmp))
            storage = create_storage(settings)
            service = ImageService(settings, storage)
            try:
                extra = PLACEHOLDER + _storage_calls(type(storage))
                yield (lambda: service.ingest(largest.data, largest.name)), extra
            finally:
                service.close()


def _service_settings(request: pytest.FixtureRequest, name: str, tmp: Path) -> Settings:
    if name.endswith("file storage"):
        return Settings.load({}, file_root=tmp / "media")
    seaweed = request.getfixturevalue("seaweed")
    from tests.support.seaweed import ACCESS_KEY, SECRET_KEY

    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    return Settings.load({}, storage="s3", s3_bucket="bench", s3_endpoint_url=seaweed.endpoint)


@pytest.mark.parametrize("subject", SUBJECTS, indirect=True, ids=SUBJECTS)
def test_stage_breakdown(
    benchmark: Any,
    request: pytest.FixtureRequest,
    bench_results: Results,
    corpus: dict[str, Source],
    subject: tuple[Callable[[], object], tuple[tuple[Any, str, str], ...]],
) -> None:
    call, extra = subject
    name = request.node.callspec.id
    largest = max(corpus.values(), key=lambda s: s.width * s.height)
    runs: list[StageRun] = []
    call()  # warm-up: first-use costs (imports, S3 connection) are not an upload's
    label = f"{name}: {largest.name} ({largest.width}x{largest.height})"
    benchmark.group = "stages of one upload (largest photo)"
    benchmark.pedantic(
        lambda: runs.append(run_traced(label, call, extra)), rounds=ROUNDS, iterations=1
    )
    bench_results.stages.append(min(runs, key=lambda r: r.wall))
    bench_results.rounds["stages"] = ROUNDS
