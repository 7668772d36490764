"""The engines compared side by side, each doing the same job on the same bytes.

The job is an upload's: decode, auto-orient, make the widths imgsvc plans
(480/768/1280/1920, never upscaled, the source's own width when it is narrower
than 1920), WebP quality 80 at effort/method 4, no metadata in any output.

- ``imgsvc``: ``imgsvc.pipeline.convert(data, PipelineConfig)``, the code under test.
- ``naive``: what a Pillow user writes first (the baseline every figure is a ratio
  against): decode in full, ``exif_transpose``, RGB, and for each width a LANCZOS
  resize from the full decode.
- ``pyvips``: ``thumbnail_buffer`` per width (shrink on load), optional.
- ``sharp``: a long-lived Node process (``sharp_runner.js``), the competitor
  issue 5 names.

Run as ``python -m benchmarks.engines once ENGINE PATH`` to convert one file in a
fresh process: the peak-memory probe measures that process.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from imgsvc.pipeline.plan import plan_variants
from imgsvc.settings import DEFAULT_SIZES, Settings

from .common import Source

QUALITY = 80
WEBP_METHOD = 4
HERE = Path(__file__).resolve().parent

#: width -> encoded WebP
Output = dict[int, bytes]
ConvertFn = Callable[[bytes, Sequence[int]], Output]


def plan(data: bytes) -> tuple[int, ...]:
    """The widths imgsvc makes for this source (upright): every engine gets the same list."""
    with Image.open(io.BytesIO(data)) as im:
        width, height = im.size
        orientation = im.getexif().get(0x0112, 1)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return tuple(v.width for v in plan_variants(width, height, DEFAULT_SIZES))


@cache
def imgsvc_settings() -> Settings:
    """The built-in defaults (quality 80, the four sizes); no IMGSVC_* from the caller."""
    return Settings.load({})


def imgsvc_convert(data: bytes, widths: Sequence[int]) -> Output:
    """imgsvc plans its own widths; ``widths`` is what the others are asked to make."""
    from imgsvc.pipeline import PipelineConfig, convert

    conversion = convert(data, PipelineConfig.from_settings(imgsvc_settings()))
    return {v.width: v.data for v in conversion.variants if v.format == "webp"}


def naive_convert(data: bytes, widths: Sequence[int]) -> Output:
    """The baseline: full decode, then every width from the full decode with LANCZOS.

    Pillow's WebP encoder writes ICC/EXIF/XMP only when passed as save arguments, so
    this output carries no metadata either.
    """
    im = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    out: Output = {}
    for width in widths:
        height = max(1, round(width * im.height / im.width))
        buf = io.BytesIO()
        small = im.resize((width, height), Image.Resampling.LANCZOS)
        small.save(buf, "WEBP", quality=QUALITY, method=WEBP_METHOD)
        out[width] = buf.getvalue()
    return out


def pyvips_convert(data: bytes, widths: Sequence[int]) -> Output:
    """libvips' own recipe: ``thumbnail`` per width (shrink on load, auto-rotate, sRGB)."""
    import pyvips

    out: Output = {}
    for width in widths:
        thumb = pyvips.Image.thumbnail_buffer(data, width, height=100_000, size="down")
        out[width] = thumb.webpsave_buffer(Q=QUALITY, effort=WEBP_METHOD, keep="none")
    return out


PY_ENGINES: dict[str, ConvertFn] = {
    "imgsvc": imgsvc_convert,
    "naive": naive_convert,
    "pyvips": pyvips_convert,
}


# -- bulk: a warm process pool with the corpus preloaded in every worker ------------

_WORKER: dict[str, Any] = {}


def _init_worker(engine: str, paths: list[str]) -> None:
    _WORKER["convert"] = PY_ENGINES[engine]
    _WORKER["data"] = {p: Path(p).read_bytes() for p in paths}
    _WORKER["widths"] = {p: plan(d) for p, d in _WORKER["data"].items()}


def _work(path: str) -> tuple[int, float]:
    cpu = time.process_time()
    out = _WORKER["convert"](_WORKER["data"][path], _WORKER["widths"][path])
    return sum(len(b) for b in out.values()), time.process_time() - cpu


class Pool:
    """``processes`` workers converting the whole corpus, one file per task.

    Spawned (not forked) so that no thread of the harness is copied into a worker;
    each worker reads the corpus before the clock starts, as the sharp process does.
    Only sizes travel back: a bulk job stores its outputs where it made them.
    """

    def __init__(self, engine: str, processes: int, files: Sequence[Path]) -> None:
        self.paths = [str(p) for p in files]
        self.processes = processes
        self.cpu = 0.0  # CPU seconds the workers spent converting in the last run
        self._pool = ProcessPoolExecutor(
            processes,
            mp_context=get_context("spawn"),
            initializer=_init_worker,
            initargs=(engine, self.paths),
        )

    def run(self) -> int:
        """Convert every file once; return the total output bytes."""
        done = list(self._pool.map(_work, self.paths))
        self.cpu = sum(cpu for _, cpu in done)
        return sum(n for n, _ in done)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


# -- sharp ------------------------------------------------------------------------------


class Sharp:
    """The long-lived sharp process; every call is one JSON line each way."""

    def __init__(self, package: Path) -> None:
        env = os.environ | {"IMGSVC_SHARP_PATH": str(package)}
        self.cpu = 0.0  # CPU seconds of the node process in the last convert or bulk
        self._proc = subprocess.Popen(
            ["node", str(HERE / "sharp_runner.js")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )

    def call(self, **msg: Any) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(msg) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"sharp_runner.js exited ({self._proc.poll()})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"sharp: {answer['error']}")
        self.cpu = float(answer.get("cpu_seconds", 0.0))
        return answer

    def info(self) -> dict[str, Any]:
        return self.call(cmd="info")

    def load(self, files: Sequence[Path]) -> None:
        self.call(cmd="load", files=[str(p) for p in files])

    def convert(self, path: Path, widths: Sequence[int]) -> Output:
        """One upload's conversion, outputs returned (for the quality comparison)."""
        answer = self.call(cmd="convert", file=str(path), widths=list(widths), data=True)
        return {int(w): base64.b64decode(b) for w, b in answer["data"].items()}

    def convert_sizes(self, path: Path, widths: Sequence[int]) -> dict[int, int]:
        """One upload's conversion, sizes only: what the latency benchmark times."""
        answer = self.call(cmd="convert", file=str(path), widths=list(widths), data=False)
        return {int(w): n for w, n in answer["bytes"].items()}

    def bulk(self, jobs: Sequence[tuple[Path, Sequence[int]]]) -> int:
        return int(self.call(cmd="bulk", jobs=[[str(p), list(w)] for p, w in jobs])["bytes"])

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


class Converter:
    """One upload's conversion with an engine; ``cpu`` is the CPU time of the last call.

    CPU time is the engine's own (this process for the Python engines, the node
    process for sharp): unlike wall time, other processes' load barely moves it.
    """

    def __init__(self, engine: str, driver: Sharp | None) -> None:
        self.engine = engine
        self.driver = driver
        self.cpu = 0.0

    def __call__(self, source: Source) -> Output | dict[int, int]:
        if self.driver is not None:
            sizes = self.driver.convert_sizes(source.path, source.widths)
            self.cpu = self.driver.cpu
            return sizes
        start = time.process_time()
        out = PY_ENGINES[self.engine](source.data, source.widths)
        self.cpu = time.process_time() - start
        return out


def sharp_once_command(package: Path, path: Path, widths: Sequence[int]) -> tuple[list[str], dict]:
    """The argv and env of a one-shot sharp conversion, for the peak-memory probe."""
    env = os.environ | {"IMGSVC_SHARP_PATH": str(package)}
    argv = ["node", str(HERE / "sharp_runner.js"), "--once", str(path), ",".join(map(str, widths))]
    return argv, env


def _once(engine: str, path: str) -> None:
    """Convert one file and exit: the process whose peak RSS the memory benchmark reads.

    ``idle`` imports the same modules and reads the file without converting: the floor
    that the interpreter and Pillow cost before any pixel.
    """
    import imgsvc.pipeline  # noqa: F401  (every engine pays the same imports)

    data = Path(path).read_bytes()
    started = time.perf_counter()
    total = 0
    if engine != "idle":
        out = PY_ENGINES[engine](data, plan(data))
        total = sum(len(b) for b in out.values())
    elapsed = time.perf_counter() - started
    print(json.dumps({"bytes": total, "seconds": elapsed, "peak_kb": peak_kb()}))


def peak_kb() -> int:
    """This process's peak RSS (VmHWM) in kB.

    Not ``ru_maxrss``: Linux carries the parent's high-water mark through fork and
    execve into it, so a child of a big pytest process would report the parent's.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "once":
        sys.exit("usage: python -m benchmarks.engines once ENGINE PATH")
    _once(sys.argv[2], sys.argv[3])
