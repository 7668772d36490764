"""``imgsvc serve`` as a real subprocess (gunicorn), for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from .seaweed import free_ports


@contextmanager
def imgsvc_serve(env: Mapping[str, str], log_dir: Path, workers: int = 1) -> Iterator[str]:
    """Start ``imgsvc serve`` on a free port; yield its base URL; stop it afterwards."""
    (port,) = free_ports(1)
    imgsvc = str(Path(sys.executable).with_name("imgsvc"))
    args = [imgsvc, "serve", "--port", str(port), "--workers", str(workers), "--threads", "4"]
    log = (log_dir / f"imgsvc-{port}.log").open("ab")
    proc = subprocess.Popen(
        args,
        env=os.environ | dict(env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"imgsvc serve exited; see {log.name}")
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield base
    finally:
        stop_process_group(proc)


def stop_process_group(proc: subprocess.Popen[bytes], grace: float = 15) -> None:
    """SIGTERM the process and its children (started with ``start_new_session``),
    SIGKILL whatever is left after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
