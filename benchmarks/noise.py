"""How busy the rest of the machine was while we measured.

Why: the benchmarks share two cores with whatever else runs (other people's test
suites, CI). Ratios measured side by side survive a moderate load, but a reader
of the report should know how much CPU other processes took during each section.
A thread samples /proc once a second and adds up the CPU time of every process
that is not this one or one of its descendants.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_by_pid() -> tuple[dict[int, float], dict[int, int]]:
    """CPU seconds used so far and parent pid, for every process."""
    cpu: dict[int, float] = {}
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parent[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime
    return cpu, parent


def _descendants(root: int, parent: dict[int, int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo.extend(children.get(pid, []))
    return found


class ForeignLoad(threading.Thread):
    """Cumulative CPU seconds of processes outside this process tree."""

    def __init__(self, interval: float = 1.0) -> None:
        super().__init__(daemon=True, name="foreign-load")
        self.interval = interval
        self.seconds = 0.0
        self._seen: dict[int, float] = {}
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self._sample(first=True)

    def _sample(self, first: bool = False) -> None:
        cpu, parent = _cpu_by_pid()
        mine = _descendants(os.getpid(), parent)
        added = 0.0
        for pid, used in cpu.items():
            if pid in mine:
                continue
            before = self._seen.get(pid)
            # a process born since the last sample: all its time is new
            added += used - before if before is not None else (0.0 if first else used)
            self._seen[pid] = used
        self._seen = {pid: used for pid, used in self._seen.items() if pid in cpu}
        with self._lock:
            self.seconds += max(0.0, added)

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self._sample()

    def now(self) -> tuple[float, float]:
        """(monotonic time, foreign CPU seconds so far)."""
        with self._lock:
            return time.monotonic(), self.seconds

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
