"""``imgsvc serve`` under load: the real gunicorn, real uploads, sampled memory.

Why a subprocess and raw sockets: the figure that matters is what a client of
the deployed service sees, through gunicorn's workers and threads, multipart
parsing and storage writes, none of which an in-process test client exercises.
Traffic goes to 127.0.0.1 only, in a bounded number of requests.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config_layout() -> str:
    """Workers x threads as config/gunicorn.conf.py sets them on this machine."""
    namespace: dict[str, object] = {}
    exec((REPO / "config" / "gunicorn.conf.py").read_text(), namespace)
    return f"{namespace.get('workers')} workers x {namespace.get('threads')} threads"


class Server:
    """One ``imgsvc serve`` process (the gunicorn master) and its workers."""

    def __init__(
        self,
        env: dict[str, str],
        log: Path,
        workers: int | None = None,
        threads: int | None = None,
    ) -> None:
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("IMGSVC_")} | env
        self.log = log
        self.args = [sys.executable, "-m", "imgsvc", "serve", "--port", str(self.port)]
        if workers:
            self.args += ["--workers", str(workers)]
        if threads:
            self.args += ["--threads", str(threads)]
        self.layout = (
            f"{workers} workers x {threads} threads" if workers and threads else config_layout()
        )
        self.proc: subprocess.Popen[bytes] | None = None
        #: The storage server's process (SeaweedFS), whose CPU the report shows apart.
        self.storage_pid: int | None = None

    def start(self, timeout: float = 60) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.args, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"imgsvc serve exited early; see {self.log}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"imgsvc serve did not answer within {timeout}s; see {self.log}")

    def pids(self) -> list[int]:
        """The master and every descendant, from /proc (gunicorn forks its workers)."""
        if self.proc is None:
            return []
        return process_tree(self.proc.pid)

    def stop(self) -> None:
        """SIGTERM to the master (gunicorn's graceful stop), SIGKILL to the tree on timeout."""
        if self.proc is None:
            return
        tree = self.pids()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(35)
            except subprocess.TimeoutExpired:
                for pid in tree:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by ``root`` and its live descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in process_tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


class MemorySampler(threading.Thread):
    """Peak of the summed RSS and PSS of a process tree, sampled every ``interval``."""

    def __init__(self, server: Server, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.interval = interval
        self.peak_rss = 0
        self.peak_pss = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            rss = pss = 0
            for pid in self.server.pids():
                rss_one, pss_one = _memory(pid)
                rss += rss_one
                pss += pss_one
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _memory(pid: int) -> tuple[int, int]:
    try:
        rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
        pss = 0
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        return 0, 0
    return rss, pss


@dataclass(frozen=True, slots=True)
class Upload:
    name: str
    body: bytes
    content_type: str


def multipart(path: Path) -> Upload:
    """The request body a browser sends for ``<input type=file name=file>``."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    body = head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return Upload(path.name, body, f"multipart/form-data; boundary={boundary}")


@dataclass(frozen=True, slots=True)
class LoadResult:
    latencies: list[tuple[str, float]]  # (file name, seconds) of each successful upload
    errors: list[str]
    seconds: float


def run_load(port: int, uploads: Sequence[Upload], clients: int) -> LoadResult:
    """``clients`` threads take uploads from one queue until it is empty.

    Each client keeps its connection open (gunicorn's keep-alive), as a CMS would.
    """
    work: queue.SimpleQueue[Upload] = queue.SimpleQueue()
    for upload in uploads:
        work.put(upload)
    latencies: list[tuple[str, float]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        while True:
            try:
                upload = work.get_nowait()
            except queue.Empty:
                break
            start = time.perf_counter()
            try:
                conn.request(
                    "POST", "/v1/images", upload.body, {"Content-Type": upload.content_type}
                )
                response = conn.getresponse()
                payload = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                status, payload = 0, str(exc).encode()
            elapsed = time.perf_counter() - start
            with lock:
                if status == 201:
                    latencies.append((upload.name, elapsed))
                else:
                    errors.append(f"{upload.name}: {status} {payload[:200]!r}")
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return LoadResult(latencies, errors, time.perf_counter() - start)
