"""Mixed hostile load against ``imgsvc serve``, shared by tests/test_load.py (short,
asserted) and benchmarks/test_load_http.py (60 s, figures reported).

Clients post a weighted mix of valid photos, oversized bodies, decompression bombs,
refused formats and garbage; optionally S3 is stopped and started again part-way.
Every answer is checked against the contract, worker memory is sampled from /proc,
and afterwards the bucket must hold exactly the complete sets that got a 201.
Traffic goes to 127.0.0.1 only; loops are bounded in time.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from . import images
from .http import multipart
from .seaweed import SeaweedS3

#: What each kind of upload may get back: documented statuses and codes only.
EXPECTED: dict[str, set[tuple[int, str]]] = {
    "photo": {(201, "created")},
    "oversized": {(413, "too_large")},
    "bomb": {(422, "too_many_pixels")},
    "tiff": {(415, "unsupported_format")},
    "garbage": {(400, "invalid_image")},
    "truncated": {(400, "invalid_image")},
}
#: Any upload may also be turned away for a while, with Retry-After.
RETRYABLE = {(503, "storage_unavailable"), (503, "saturated"), (429, "saturated")}
#: Seconds the clients go on once S3 is back, to show uploads succeed again.
AFTER_RECOVERY = 3.0
WEIGHTS = {"photo": 10, "oversized": 2, "bomb": 1, "tiff": 1, "garbage": 2, "truncated": 1}


def photo(width: int, height: int, fmt: str = "JPEG", seed: int = 0) -> bytes:
    """A photo-like image: smooth gradients plus noise, so encoders do real work."""
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    base = images.gradient((width, height))
    im = Image.blend(base, noise, 0.25 + seed % 3 * 0.05)
    buf = io.BytesIO()
    im.save(buf, fmt, quality=88) if fmt == "JPEG" else im.save(buf, fmt)
    return buf.getvalue()


def payloads(max_upload_bytes: int) -> dict[str, list[bytes]]:
    rng = random.Random(6)
    jpeg = photo(2400, 1600)
    return {
        "photo": [jpeg, photo(1600, 1067, seed=1), photo(900, 1200, "PNG", seed=2)],
        "oversized": [rng.randbytes(max_upload_bytes + 200_000)],
        "bomb": [images.png_bomb(30000, 30000)],
        "tiff": [images.tiff()],
        "garbage": [rng.randbytes(5000), b"<html>hello</html>" * 50],
        "truncated": [jpeg[: len(jpeg) // 3]],
    }


@dataclass
class Answer:
    kind: str
    status: int
    code: str
    seconds: float
    retry_after: str | None
    description: dict[str, Any] | None = None
    finished: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        outcome = (self.status, self.code)
        if outcome in RETRYABLE:
            return bool(self.retry_after) and int(self.retry_after) > 0
        return outcome in EXPECTED[self.kind]


def upload(base: str, kind: str, data: bytes) -> Answer:
    body, ctype = multipart(data, f"{kind}.jpg")
    host = base.removeprefix("http://")
    started = time.monotonic()
    conn = http.client.HTTPConnection(host, timeout=120)
    try:
        # A 413 is sent before the body is read; read it as curl would.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.request("POST", "/v1/images", body, {"Content-Type": ctype})
        response = conn.getresponse()
        raw = response.read()
        retry_after = response.headers.get("Retry-After")
    finally:
        conn.close()
    seconds = time.monotonic() - started
    parsed = json.loads(raw)
    if response.status == 201:
        return Answer(kind, 201, "created", seconds, retry_after, parsed)
    return Answer(kind, response.status, parsed["error"]["code"], seconds, retry_after)


@dataclass
class Outage:
    """Stop S3 at ``after`` seconds into the run for ``lasting`` seconds; poll /readyz.

    SeaweedFS takes ~10 s to stop and ~12 s to start again, so the storage is away for
    longer than ``lasting``; the clients go on until it is back and a little after.
    """

    server: SeaweedS3
    after: float
    lasting: float
    readyz_down: list[int] = field(default_factory=list)
    stopped_at: float | None = None
    recovered_at: float | None = None
    finished_at: float | None = None

    @property
    def recovered(self) -> bool:
        return self.recovered_at is not None


def run_load(
    base: str,
    seconds: float,
    clients: int = 8,
    outage: Outage | None = None,
    max_upload_bytes: int = 8 * 1024 * 1024,
) -> list[Answer]:
    """``clients`` loops posting the weighted mix until ``seconds`` have passed."""
    mix = payloads(max_upload_bytes)
    kinds = list(WEIGHTS)
    deadline = time.monotonic() + seconds
    answers: list[Answer] = []
    lock = threading.Lock()

    def going_on() -> bool:
        now = time.monotonic()
        if outage is None:
            return now < deadline
        if outage.finished_at is None:
            return True
        return now < max(deadline, outage.finished_at + AFTER_RECOVERY)

    def client(seed: int) -> None:
        rng = random.Random(seed)
        while going_on():
            kind = rng.choices(kinds, [WEIGHTS[k] for k in kinds])[0]
            answer = upload(base, kind, rng.choice(mix[kind]))
            with lock:
                answers.append(answer)

    with ThreadPoolExecutor(clients + 1) as pool:
        futures = [pool.submit(client, seed) for seed in range(clients)]
        if outage:
            futures.append(pool.submit(_outage, base, outage))
        for future in futures:
            future.result()
    return answers


def _outage(base: str, outage: Outage) -> None:
    try:
        time.sleep(outage.after)
        outage.stopped_at = time.monotonic()
        outage.server.stop()
        down_until = time.monotonic() + outage.lasting
        while time.monotonic() < down_until:
            outage.readyz_down.append(status_of(f"{base}/readyz"))
            time.sleep(0.5)
        outage.server.start()
        started = time.monotonic()
        while time.monotonic() - started < 60:
            if status_of(f"{base}/readyz") == 200:
                outage.recovered_at = time.monotonic()
                return
            time.sleep(0.25)
    finally:
        outage.finished_at = time.monotonic()


def status_of(url: str) -> int:
    host, _, path = url.removeprefix("http://").partition("/")
    conn = http.client.HTTPConnection(host, timeout=30)
    try:
        conn.request("GET", "/" + path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def expected_keys(answers: list[Answer]) -> set[str]:
    """Every object the 201 answers vouch for: originals, conversions, manifests."""
    keys: set[str] = set()
    for answer in answers:
        if answer.description:
            d = answer.description
            keys.add(d["original"]["key"])
            keys.update(v["key"] for v in d["variants"])
            keys.add(d["original"]["key"].rsplit("/", 1)[0] + "/manifest.json")
    return keys


def incomplete_sets(server: SeaweedS3, bucket: str, answers: list[Answer]) -> list[str]:
    """Images answered 201 whose objects are missing or of another size than described."""
    client = server.client()
    problems = []
    for answer in answers:
        if not answer.description:
            continue
        d = answer.description
        for obj in [d["original"], *d["variants"]]:
            size = client.head_object(Bucket=bucket, Key=obj["key"])["ContentLength"]
            if size != obj["bytes"]:
                problems.append(f"{obj['key']}: {size} bytes, described {obj['bytes']}")
    return problems


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


class WorkerMemory(threading.Thread):
    """Peak RSS of each gunicorn worker serving ``port`` (VmHWM from /proc, sampled)."""

    def __init__(self, port: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.interval = interval
        self.peak: dict[int, int] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def sample(self) -> None:
        for pid in self.workers():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    self.peak[pid] = max(self.peak.get(pid, 0), int(line.split()[1]) * 1024)

    def workers(self) -> list[int]:
        """Processes running ``imgsvc serve --port PORT`` whose parent runs it too."""
        serving: dict[int, int] = {}
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                args = (proc / "cmdline").read_bytes().split(b"\0")
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if b"serve" in args and str(self.port).encode() in args:
                serving[int(proc.name)] = ppid
        return [pid for pid, ppid in serving.items() if ppid in serving]

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.sample()


def summary(answers: list[Answer], memory: WorkerMemory, seconds: float) -> dict[str, Any]:
    """Figures for a report: counts by status and code, latencies, memory."""
    created = [a.seconds for a in answers if a.status == 201]
    every = sorted(a.seconds for a in answers)

    def pct(values: list[float], q: float) -> float:
        values = sorted(values)
        return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0

    return {
        "requests": len(answers),
        "per_second": round(len(answers) / seconds, 1),
        "created_per_second": round(len(created) / seconds, 2),
        "outcomes": dict(Counter(f"{a.status} {a.code}" for a in answers).most_common()),
        "p50_s": round(statistics.median(every), 3) if every else None,
        "p99_s": round(pct(every, 0.99), 3),
        "created_p50_s": round(statistics.median(created), 3) if created else None,
        "created_p99_s": round(pct(created, 0.99), 3),
        "worker_peak_rss_mib": {pid: round(rss / 2**20) for pid, rss in memory.peak.items()},
    }
