"""Time the pipeline's stages from outside, by wrapping the Pillow calls it makes.

Why from outside: imgsvc stays free of timing code, and the figures follow the
pipeline as others change it (a new resize step shows up as resize time without
anyone editing this file). Only the outermost traced call of each thread counts,
so ``resize`` calling ``load`` is not counted twice.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageCms, ImageFile

from .report import Stage, StageRun


@dataclass(frozen=True, slots=True)
class Call:
    stage: str
    start: float
    end: float
    cpu: float  # CPU seconds of the calling thread: what neighbours' load does not inflate


class Tracer:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        self._patches: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, attr: str, stage: str) -> None:
        original = getattr(owner, attr)
        tracer = self

        @functools.wraps(original)
        def traced(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(tracer._local, "depth", 0)
            if depth:
                return original(*args, **kwargs)
            tracer._local.depth = 1
            start, cpu = time.perf_counter(), time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                end, cpu = time.perf_counter(), time.thread_time() - cpu
                tracer._local.depth = 0
                with tracer._lock:
                    tracer.calls.append(Call(stage, start, end, cpu))

        self._patches.append((owner, attr, original))
        setattr(owner, attr, traced)

    def restore(self) -> None:
        for owner, attr, original in reversed(self._patches):
            setattr(owner, attr, original)
        self._patches.clear()

    def summary(self, subject: str, start: float, end: float, cpu_total: float) -> StageRun:
        """Busy, wall and CPU time per stage, in pipeline order, plus what no call covered.

        ``cpu_total`` is the process's CPU time over the run (every thread).
        """
        order: list[str] = []
        for call in sorted(self.calls, key=lambda c: c.start):
            if call.stage not in order:
                order.append(call.stage)
        stages = []
        for name in order:
            mine = [c for c in self.calls if c.stage == name]
            busy = sum(c.end - c.start for c in mine)
            cpu = sum(c.cpu for c in mine)
            stages.append(Stage(name, len(mine), busy, _union(mine), cpu))
        covered = _union(self.calls)
        stages.append(Stage("untraced", 0, 0.0, max(0.0, (end - start) - covered), 0.0))
        return StageRun(subject, end - start, stages, cpu_total)


def _union(calls: list[Call]) -> float:
    total, reach = 0.0, float("-inf")
    for c in sorted(calls, key=lambda c: c.start):
        if c.end <= reach:
            continue
        total += c.end - max(c.start, reach)
        reach = c.end
    return total


#: (owner, attribute, stage). Pillow's own methods, whoever calls them.
PILLOW_CALLS: tuple[tuple[Any, str, str], ...] = (
    (Image, "open", "decode"),
    (ImageFile.ImageFile, "load", "decode"),
    (Image.Image, "draft", "decode"),
    (Image.Image, "convert", "mode & colour"),
    (Image.Image, "point", "mode & colour"),
    (ImageCms, "profileToProfile", "mode & colour"),
    (ImageCms, "applyTransform", "mode & colour"),
    (Image.Image, "resize", "resize"),
    (Image.Image, "reduce", "resize"),
    (Image.Image, "thumbnail", "resize"),
    (Image.Image, "transpose", "orient"),
    (Image.Image, "save", "encode"),
)


@contextmanager
def traced(extra: tuple[tuple[Any, str, str], ...] = ()) -> Iterator[Tracer]:
    """Wrap Pillow (and ``extra`` callables, e.g. storage.put) for the duration."""
    tracer = Tracer()
    try:
        # a call nested in a traced one counts as the outer one's stage: the
        # placeholder's tiny resize and encode are "placeholder", not "resize"
        for owner, attr, stage in (*extra, *PILLOW_CALLS):
            tracer.wrap(owner, attr, stage)
        yield tracer
    finally:
        tracer.restore()


def run_traced(
    subject: str, fn: Callable[[], object], extra: tuple[tuple[Any, str, str], ...] = ()
) -> StageRun:
    with traced(extra) as tracer:
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        end, cpu = time.perf_counter(), time.process_time() - cpu
    return tracer.summary(subject, start, end, cpu)
