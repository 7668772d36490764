"""Peak memory: a fresh process converting one 50-megapixel JPEG or PNG.

Why a subprocess: peak RSS only grows within a process, so one conversion per
process is the only way to read the figure of that conversion alone, measured
the same way for Python and Node. ``idle`` imports the pipeline and reads the
file without converting: the floor every Python engine stands on. The peak is
the child's own VmHWM: the kernel's ``ru_maxrss`` would carry the big pytest
parent's high-water mark.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .engines import plan, sharp_once_command
from .fetch_corpus import large_source
from .report import Memory, Results
from .tools import child_env

KINDS = ("jpeg", "png")
PROBES = ("idle", "imgsvc", "naive", "sharp", "pyvips")
REPO = Path(__file__).resolve().parent.parent


def peak_rss(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``argv`` to its end; return (its peak RSS in MB, conversion seconds).

    The child reports its own VmHWM (see ``engines.peak_kb``). Raises on failure.
    """
    done = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[:4]} exited {done.returncode}: {done.stderr[-800:]}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return answer["peak_kb"] / 1024, float(answer["seconds"])


@pytest.mark.parametrize("probe", PROBES)
@pytest.mark.parametrize("kind", KINDS)
def test_peak_memory(
    benchmark: Any, request: pytest.FixtureRequest, bench_results: Results, kind: str, probe: str
) -> None:
    source = large_source(kind)
    if probe == "sharp":
        argv, env = sharp_once_command(
            request.getfixturevalue("sharp_package"), source, plan(source.read_bytes())
        )
    else:
        if probe == "pyvips":
            request.getfixturevalue("py_extras")
        argv = [sys.executable, "-m", "benchmarks.engines", "once", probe, str(source)]
        env = child_env()
    benchmark.group = f"peak memory: 50 MP {kind} (time includes process start)"
    peak, seconds = benchmark.pedantic(peak_rss, args=(argv, env), rounds=1, iterations=1)
    benchmark.extra_info["peak_rss_mb"] = peak
    bench_results.memory.append(Memory(probe, kind, peak, seconds))
