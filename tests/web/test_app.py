"""The app factory (``imgsvc.web.create_app``): what it does once per process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CODE = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
from imgsvc.web import create_app
create_app()
loaded = "numba" in sys.modules
if loaded:
    from imgsvc.pipeline import quality_kernels as k
    loaded = all(f.signatures for f in (k.mix, k.positive, k.half, k.plane_sums))
print("kernels loaded:", loaded)
"""


@pytest.mark.parametrize("target", ["70", None])
def test_with_a_target_the_metric_is_loaded_before_the_first_upload(
    target: str | None, tmp_path: Path
) -> None:
    """The first targeted upload of a process waited 0.3-1.5 s for numba (loading or
    compiling the metric's loops); with a target the factory loads them, without
    one it does not even import numba."""
    env = {**os.environ, "IMGSVC_STORAGE": "file", "IMGSVC_FILE_ROOT": str(tmp_path)}
    env.pop("IMGSVC_CONFIG", None)
    env.pop("IMGSVC_QUALITY_TARGET", None)
    if target:
        env["IMGSVC_QUALITY_TARGET"] = target
    out = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"kernels loaded: {bool(target)}" in out.stdout
    assert ("SSIMULACRA2 ready in" in out.stdout) == bool(target)
