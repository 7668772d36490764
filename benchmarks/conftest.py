"""Shared fixtures of the benchmarks, and the report printed at the end of the run.

The figures of one run are collected in a ``Results`` object kept in pytest's
config stash; ``pytest_terminal_summary`` renders it as the markdown table, prints
it and writes ``benchmarks/results/latest.md``. Benchmark modules of other
authors (``test_bulk.py``) need none of this: a run that recorded nothing into
``Results`` leaves latest.md alone.

``IMGSVC_BENCH_QUICK=1``: three photos and one timed round, for a check in minutes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .common import QUICK, Source
from .engines import Converter, Sharp, plan
from .fetch_corpus import corpus_files
from .noise import ForeignLoad
from .report import Results, render
from .tools import Missing, ensure_py_extras, ensure_sharp, machine

RESULTS_KEY = pytest.StashKey[Results]()
LOAD_KEY = pytest.StashKey[ForeignLoad]()
#: My modules run in this order: HTTP last, since it is compared with the bulk figure
#: and shares its SeaweedFS with the stage breakdown. Other modules keep their place after.
MODULE_ORDER: tuple[str, ...] = (
    "test_latency",
    "test_throughput",
    "test_quality",
    "test_memory",
    "test_stages",
    "test_http",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        module = _module(item)
        return MODULE_ORDER.index(module) if module in MODULE_ORDER else len(MODULE_ORDER)

    items.sort(key=rank)  # stable: order within a module is kept


def _module(item: pytest.Item) -> str:
    """The test module's own name (``test_latency``), or "" for a non-Python item."""
    module = getattr(item, "module", None)
    return module.__name__.rsplit(".", 1)[-1] if module is not None else ""


def results_of(config: pytest.Config) -> Results:
    if RESULTS_KEY not in config.stash:
        config.stash[RESULTS_KEY] = Results(quick=QUICK)
    return config.stash[RESULTS_KEY]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Charge the CPU other processes used during this test to its section."""
    module = _module(item)
    if module not in MODULE_ORDER:
        yield
        return
    config = item.config
    if LOAD_KEY not in config.stash:
        config.stash[LOAD_KEY] = ForeignLoad()
        config.stash[LOAD_KEY].start()
    sampler = config.stash[LOAD_KEY]
    t0, cpu0 = sampler.now()
    yield
    t1, cpu1 = sampler.now()
    section = results_of(config).load.setdefault(module.removeprefix("test_"), [0.0, 0.0])
    section[0] += t1 - t0
    section[1] += cpu1 - cpu0


def pytest_unconfigure(config: pytest.Config) -> None:
    sampler = config.stash.get(LOAD_KEY, None)
    if sampler is not None:
        sampler.stop()


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's own tables: the last word
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    results = config.stash.get(RESULTS_KEY, None)
    if results is None or results.empty():
        return
    path = results.write()
    terminalreporter.write_sep("=", f"imgsvc benchmarks (written to {path})")
    terminalreporter.write_line(render(results))


@pytest.fixture(scope="session")
def bench_results(request: pytest.FixtureRequest) -> Results:
    results = results_of(request.config)
    if not results.machine:
        results.machine = machine()
    return results


@pytest.fixture(scope="session")
def corpus(bench_results: Results) -> dict[str, Source]:
    """The photos by file name, fetched into the cache on first use."""
    from PIL import Image

    files = corpus_files(quick=QUICK)
    sources = {}
    for path in files:
        data = path.read_bytes()
        with Image.open(path) as im:
            fmt = im.format or "?"
        widths = plan(data)
        sources[path.name] = Source(path, path.name, data, widths, *_upright(data), fmt)
        bench_results.corpus[path.name] = {
            "width": sources[path.name].width,
            "height": sources[path.name].height,
            "format": fmt,
            "bytes": len(data),
            "megapixels": sources[path.name].width * sources[path.name].height / 1e6,
        }
    return sources


def _upright(data: bytes) -> tuple[int, int]:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        w, h = im.size
        return (h, w) if im.getexif().get(0x0112, 1) in (5, 6, 7, 8) else (w, h)


@pytest.fixture(scope="session")
def py_extras(bench_results: Results) -> Path:
    """ssimulacra2 and pyvips, pip-installed into the bench cache."""
    found = ensure_py_extras()
    if isinstance(found, Missing):
        bench_results.note(f"ssimulacra2/pyvips unavailable: {found.reason}")
        pytest.skip(found.reason)
    import pyvips
    import ssimulacra2

    bench_results.tools["pyvips / libvips"] = (
        f"{pyvips.__version__} / {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"
    )
    bench_results.tools["ssimulacra2 (PyPI)"] = ssimulacra2.__version__
    return found


@pytest.fixture(scope="session")
def sharp(bench_results: Results) -> Iterator[Sharp]:
    """The long-lived sharp process, npm-installed into the bench cache on first use."""
    package = ensure_sharp()
    if isinstance(package, Missing):
        bench_results.note(f"sharp not measured: {package.reason}")
        pytest.skip(package.reason)
    driver = Sharp(package)
    try:
        info = driver.info()
        versions = info["versions"]
        bench_results.tools["sharp"] = (
            f"{versions['sharp']} (libvips {versions['vips']}, libwebp {versions.get('webp')}, "
            f"mozjpeg {versions.get('mozjpeg', '?')}); concurrency {info['concurrency']} "
            f"libvips thread(s) per image, libuv pool {info['uv_threadpool_size']}, "
            f"SIMD {info['simd']}"
        )
        yield driver
    finally:
        driver.close()


@pytest.fixture(scope="session")
def sharp_package() -> Path:
    package = ensure_sharp()
    if isinstance(package, Missing):
        pytest.skip(package.reason)
    return package


@pytest.fixture
def converter(request: pytest.FixtureRequest, engine: str) -> Converter:
    """The ``engine``'s converter (skipped when the engine is unavailable)."""
    if engine == "sharp":
        return Converter(engine, request.getfixturevalue("sharp"))
    if engine == "pyvips":
        request.getfixturevalue("py_extras")
    return Converter(engine, None)


@pytest.fixture(scope="session")
def seaweed(bench_results: Results) -> Iterator[Any]:
    """A SeaweedFS S3 server (tests/seaweed.py) with a bucket ``bench``; stopped at the end."""
    try:
        from tests.support.seaweed import SeaweedS3, weed_binary

        weed_binary()
    except (ImportError, RuntimeError) as exc:
        bench_results.note(f"S3 not measured: {exc}")
        pytest.skip(f"SeaweedFS unavailable: {exc}")
    with tempfile.TemporaryDirectory(prefix="imgsvc-bench-weed-") as tmp:
        server = SeaweedS3(Path(tmp))
        try:
            server.start()
            server.create_bucket("bench", public_read=False)
            yield server
        finally:
            server.stop()
