"""The competitors and the measuring tools, installed into the bench cache on first use.

Why a cache and not the project's dependencies: sharp is a Node package, and the
quality metric (``ssimulacra2``, with numpy and scipy) and ``pyvips`` are needed by
nobody but the benchmarks. They go under the bench cache, beside the corpus, so
that ``make bench`` works on a fresh machine without touching the service's venv.
Every installer returns ``None`` with a reason instead of raising, so that a
missing competitor skips its columns, never the whole run.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .fetch_corpus import cache_root

SHARP_VERSION = "0.35.5"
#: ``--no-deps`` for the first group: ssimulacra2 would otherwise pull a second Pillow.
PY_EXTRAS_NO_DEPS = ("ssimulacra2==0.3.0", "pyvips==3.2.0", "pyvips-binary==8.18.7")
PY_EXTRAS = ("numpy", "scipy", "cffi")


@dataclass(frozen=True, slots=True)
class Missing:
    """Why a tool is unavailable; shown in the skip message and in the report."""

    reason: str


def node_dir() -> Path:
    return cache_root() / "node"


def ensure_sharp() -> Path | Missing:
    """Install sharp with npm into the cache; return the package's directory."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return Missing("node/npm not found: install Node >= 18 to compare against sharp")
    directory = node_dir()
    package = directory / "node_modules" / "sharp"
    if (package / "package.json").is_file():
        installed = json.loads((package / "package.json").read_text())["version"]
        if installed == SHARP_VERSION:
            return package
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / "package.json"
    if not manifest.exists():
        manifest.write_text('{"private": true, "name": "imgsvc-bench-sharp"}\n')
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", f"sharp@{SHARP_VERSION}"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return Missing(f"npm install sharp failed: {done.stderr.strip()[-500:]}")
    return package


def pydeps_dir() -> Path:
    return cache_root() / "pydeps"


def ensure_py_extras() -> Path | Missing:
    """pip-install the metric and pyvips into the cache and put it on ``sys.path``.

    The directory is appended, never prepended, so the venv's Pillow is the one
    every engine uses.
    """
    target = pydeps_dir()
    marker = target / ".installed"
    wanted = " ".join(PY_EXTRAS_NO_DEPS + PY_EXTRAS)
    if not (marker.is_file() and marker.read_text() == wanted):
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--upgrade", "--target"]
        for extra in (["--no-deps", *PY_EXTRAS_NO_DEPS], list(PY_EXTRAS)):
            done = subprocess.run(
                [*pip, str(target), *extra], capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                return Missing(f"pip install {' '.join(extra)} failed: {done.stderr[-500:]}")
        marker.write_text(wanted)
    if str(target) not in sys.path:
        sys.path.append(str(target))
    return target


def child_env() -> dict[str, str]:
    """Environment for Python subprocesses: this repo and the cached extras importable."""
    repo = str(Path(__file__).resolve().parent.parent)
    paths = [repo, os.environ.get("PYTHONPATH", ""), str(pydeps_dir())]
    return os.environ | {"PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def machine() -> dict[str, str]:
    """What the figures were measured on: they mean little without it."""
    from PIL import __version__ as pillow_version
    from PIL import features

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    node = shutil.which("node")
    node_version = (
        subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
        if node
        else "absent"
    )
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "memory": _memory(),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Pillow": pillow_version,
        "libwebp (Pillow)": str(features.version("webp")),
        "libjpeg-turbo (Pillow)": str(features.version("libjpeg_turbo")),
        "zlib (Pillow)": str(features.version("zlib")),
        "Node": node_version,
    }


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"
