"""One distributed run's bookkeeping in Redis: totals, outcomes, failures, attempts.

Celery at-least-once delivery means an image can be handled twice (a redelivery
after a worker was killed, a retried batch), so every count here is idempotent:
an image is *settled* once per run (``HSETNX``) and the counters move only when
that first settlement happens, atomically, in a Lua script.

Attempts are counted per image, not per message: a message redelivered after a
SIGKILL does not increase Celery's retry count, and a poison image that kills its
worker every time would otherwise be redelivered forever. ``begin`` counts an
attempt before the image is touched; ``abandon`` takes it back when the attempt
ended cleanly but must be repeated (storage down). What remains counted is the
attempts that never finished.

Keys (``{ns}`` is the namespace, ``imgsvc`` by default), kept ``TTL`` seconds:
``{ns}:last-run`` and ``{ns}:run:{id}:{meta,settled,counts,failures,attempts,purge}``
(``purge``: the purge list's URLs, a Redis list drained by ``--status --purge-list``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from ..errors import ServiceUnavailable
from .progress import duration
from .work import Outcome

TTL = 30 * 24 * 3600
SHOWN_FAILURES = 20

#: Settle an image once; its purge URLs (ARGV[5..]) are pushed with the first
#: settlement only, in the same atomic step, so a duplicate never adds them twice.
_SETTLE = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[3]) end
redis.call('HDEL', KEYS[4], ARGV[1])
if #ARGV > 4 then
  redis.call('RPUSH', KEYS[5], unpack(ARGV, 5))
  redis.call('EXPIRE', KEYS[5], ARGV[4])
end
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[4]) end
return 1
"""
#: URLs taken from the purge list per round trip when it is drained.
DRAIN_PAGE = 1000


class BrokerUnavailable(ServiceUnavailable):
    code = "broker_unavailable"


@dataclass
class RunStatus:
    run_id: str
    meta: dict[str, str]
    settled: int
    counts: dict[str, int]
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return int(self.meta.get("total", 0))

    @property
    def failed(self) -> int:
        return self.counts.get(Outcome.FAILED, 0)

    @property
    def done(self) -> int:
        return self.settled - self.failed

    @property
    def remaining(self) -> int:
        return max(self.total - self.settled, 0)

    def header(self) -> str:
        meta = self.meta
        started = float(meta.get("started", 0))
        age = duration(time.time() - started) if started else "?"
        state = {"listing": "still listing", "done": "all enqueued"}.get(
            meta.get("enqueue", ""), "enqueue interrupted"
        )
        shards = f", {meta['shards']} shards" if "shards" in meta else ""
        return (
            f"Run {self.run_id}: {meta.get('prefix', '')} ({meta.get('selection', '')}){shards},"
            f" started {age} ago, {state}"
        )

    def lines(self, queued_messages: int) -> list[str]:
        outcomes = ", ".join(
            f"{name} {self.counts[name]}" for name in sorted(self.counts) if name != Outcome.FAILED
        )
        batches = "batch" if queued_messages == 1 else "batches"
        return [
            self.header(),
            f"  {'enqueued':<10} {self.total:>8}",
            f"  {'done':<10} {self.done:>8}   {f'({outcomes})' if outcomes else ''}".rstrip(),
            f"  {'failed':<10} {self.failed:>8}",
            f"  {'remaining':<10} {self.remaining:>8}   ({queued_messages} {batches} queued)",
        ]


class Ledger:
    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self.client = client
        self.ns = namespace
        self._settle = client.register_script(_SETTLE)

    @classmethod
    def connect(cls, url: str, namespace: str) -> Ledger:
        return cls(redis.Redis.from_url(url, socket_connect_timeout=5), namespace)

    def _key(self, run_id: str, part: str) -> str:
        return f"{self.ns}:run:{run_id}:{part}"

    def call(self, fn: Any, *args: Any) -> Any:
        """Translate redis-py's errors at the edge, as storage does with botocore's."""
        try:
            return fn(*args)
        except redis.RedisError as exc:
            raise BrokerUnavailable(f"Redis unavailable: {exc}") from exc

    # -- the enqueuer -------------------------------------------------------------------

    def start(self, prefix: str, selection: str, fingerprint: str, **extra: str | int) -> str:
        """A new run, the last one from now on; ``extra`` goes to its metadata."""
        run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        meta: dict[str, str | int] = {
            "prefix": prefix,
            "selection": selection,
            "fingerprint": fingerprint,
            "started": f"{time.time():.0f}",
            "total": 0,
            "enqueue": "listing",
            **extra,
        }
        pipe = self.client.pipeline()
        # redis's stubs want an invariant key type that a dict[str, ...] never matches
        pipe.hset(self._key(run_id, "meta"), mapping=meta)  # type: ignore[arg-type]
        pipe.expire(self._key(run_id, "meta"), TTL)
        pipe.set(f"{self.ns}:last-run", run_id, ex=TTL)
        self.call(pipe.execute)
        return run_id

    def add_total(self, run_id: str, count: int) -> None:
        self.call(self.client.hincrby, self._key(run_id, "meta"), "total", count)

    def finish(self, run_id: str, state: str) -> None:
        """``state``: ``done`` when the listing ended, ``interrupted`` otherwise."""
        self.call(self.client.hset, self._key(run_id, "meta"), "enqueue", state)

    def last_run(self) -> str | None:
        value = self.call(self.client.get, f"{self.ns}:last-run")
        return value.decode() if value else None

    def queue_length(self, queue: str = "reconvert") -> int:
        """Messages waiting in the Celery queue (kombu prefixes its keys with ``{ns}:``)."""
        return int(self.call(self.client.llen, f"{self.ns}:{queue}"))

    # -- the workers --------------------------------------------------------------------

    def is_settled(self, run_id: str, media_id: str) -> bool:
        return bool(self.call(self.client.hexists, self._key(run_id, "settled"), media_id))

    def begin(self, run_id: str, media_id: str) -> int:
        """Count an attempt at the image; returns how many there have been, this one included."""
        key = self._key(run_id, "attempts")
        pipe = self.client.pipeline()
        pipe.hincrby(key, media_id, 1)
        pipe.expire(key, TTL)
        return int(self.call(pipe.execute)[0])

    def abandon(self, run_id: str, media_id: str) -> None:
        """Take back an attempt that ended cleanly but must be repeated later."""
        self.call(self.client.hincrby, self._key(run_id, "attempts"), media_id, -1)

    def settle(
        self,
        run_id: str,
        media_id: str,
        outcome: Outcome,
        reason: str = "",
        urls: tuple[str, ...] = (),
    ) -> bool:
        """Record the image's outcome (and the URLs its change made stale) once;
        False if it was already settled."""
        parts = ("settled", "counts", "failures", "attempts", "purge")
        keys = [self._key(run_id, p) for p in parts]
        args = [media_id, str(outcome), reason, TTL, *urls]
        return bool(self.call(self._settle, keys, args))

    # -- the purge list -----------------------------------------------------------------

    def drain_purge(self, run_id: str, sink: Callable[[list[str]], None]) -> int:
        """Hand the run's purge URLs to ``sink`` page by page, oldest first, and remove
        each page only once ``sink`` has returned: a drain that dies part-way leaves
        the rest (at worst a page written twice, never one lost). Returns the count."""
        key, drained = self._key(run_id, "purge"), 0
        while page := self.call(self.client.lrange, key, 0, DRAIN_PAGE - 1):
            sink([url.decode() for url in page])
            self.call(self.client.ltrim, key, len(page), -1)
            drained += len(page)
        return drained

    # -- the operator -------------------------------------------------------------------

    def status(self, run_id: str) -> RunStatus:
        pipe = self.client.pipeline()
        pipe.hgetall(self._key(run_id, "meta"))
        pipe.hlen(self._key(run_id, "settled"))
        pipe.hgetall(self._key(run_id, "counts"))
        meta, settled, counts = self.call(pipe.execute)
        failures: list[tuple[str, str]] = []
        cursor = "0"
        while len(failures) < SHOWN_FAILURES:
            cursor, page = self.call(
                self.client.hscan, self._key(run_id, "failures"), cursor, None, SHOWN_FAILURES
            )
            failures.extend((k.decode(), v.decode()) for k, v in page.items())
            if int(cursor) == 0:
                break
        return RunStatus(
            run_id,
            {k.decode(): v.decode() for k, v in meta.items()},
            int(settled),
            {k.decode(): int(v) for k, v in counts.items()},
            sorted(failures)[:SHOWN_FAILURES],
        )
