"""A sharded run's bookkeeping in Redis: which segments of which shards are planned.

A shard (the ids under one prefix of leading hex digits) is listed in *segments*:
a task lists from its cursor for a bounded time, then publishes a task for the
rest. A segment is identified by its shard and starting cursor and is completed
once (``HSETNX``): its plan counts reach the run's totals in the same atomic step,
so a redelivered segment (its worker was killed) never counts twice. Whether the
next segment's task was published is recorded apart (``sent``): a segment
redelivered after it completed publishes its continuation only if that never
happened. A segment's images are settled one by one (``Ledger.settle``) as they
are converted, so redoing a segment redoes no image.

Keys (beside the ``Ledger``'s): ``{ns}:run:{id}:{segments,sent,plan,cursors}``;
``cursors`` holds, per shard, the last media id planned (or ``done``), from which
``--status`` estimates how much of the id space is behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .idspace import IdSpace
from .ledger import TTL, Ledger, RunStatus
from .scan import Plan

DONE = "done"

#: A segment: the shard's id prefix and the cursor it starts after ("" at the start).
Segment = tuple[str, str]

_COMPLETE = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
for i = 8, #ARGV, 2 do redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('HINCRBY', KEYS[3], 'total', ARGV[6])
if ARGV[2] == '' then redis.call('HINCRBY', KEYS[3], 'shards_done', 1) end
if ARGV[7] ~= '' then redis.call('HINCRBY', KEYS[3], 'shards_failed', 1) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[4], ARGV[3], ARGV[4]) end
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
return 1
"""


@dataclass
class ShardProgress:
    """How far the planning of a sharded run has come."""

    shards: int
    done: int
    failed: int
    plan: dict[str, int] = field(default_factory=dict)
    #: The share of the id space planned, from each shard's cursor.
    listed: float = 0.0

    def lines(self, status: RunStatus, queued_messages: int) -> list[str]:
        """What ``--status`` prints for a sharded run, estimates marked ``~``."""
        images, to_do = self.plan.get("images", 0), self.plan.get("to_do", 0)
        finished = self.done == self.shards
        shown = f"{self.done} of {self.shards} shards listed"
        if self.failed:
            shown += f", {self.failed} failed (below)"
        rows = [f"  {'planned':<10} {f'{100 * self.listed:.0f}%':>8}   ({shown})"]
        if finished or self.listed <= 0 or images < 50:
            rows.append(f"  {'examined':<10} {images:>8}")
            remaining = str(max(to_do - status.settled, 0))
        else:
            about = round(images / self.listed)
            rows.append(f"  {'examined':<10} {images:>8}   (of ~{about}, estimated)")
            remaining = f"~{max(round(to_do / self.listed) - status.settled, 0)}"
        outcomes = ", ".join(
            f"{name} {status.counts[name]}" for name in sorted(status.counts) if name != "failed"
        )
        rows += [
            f"  {'to do':<10} {to_do:>8}   (found so far)".rstrip(),
            f"  {'done':<10} {status.done:>8}   {f'({outcomes})' if outcomes else ''}".rstrip(),
            f"  {'failed':<10} {status.failed:>8}",
            f"  {'remaining':<10} {remaining:>8}   ({queued_messages} tasks queued)",
        ]
        return [status.header(), *rows]


class ShardBook:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._complete = ledger.client.register_script(_COMPLETE)

    def _key(self, run_id: str, part: str) -> str:
        return f"{self.ledger.ns}:run:{run_id}:{part}"

    def completed(self, run_id: str, segment: Segment) -> str | None:
        """The cursor a completed segment handed on ("" at the shard's end); None if
        the segment was never completed."""
        key = self._key(run_id, "segments")
        value = self.ledger.call(self.ledger.client.hget, key, "|".join(segment))
        return None if value is None else value.decode()

    def complete(
        self,
        run_id: str,
        segment: Segment,
        next_cursor: str,
        position: str,
        plan: Plan,
        failed: str = "",
    ) -> bool:
        """Record the segment once: its plan counts, where its shard now is
        (``position``: the last id planned, ``done``, or "" to keep it) and the cursor
        of the rest ("": none). False if it had been completed before."""
        id_prefix, _ = segment
        counts = {
            "images": plan.images,
            "to_do": plan.to_do,
            "stray": plan.stray,
            **{str(state): n for state, n in plan.states.items()},
        }
        keys = [self._key(run_id, p) for p in ("segments", "plan", "meta", "cursors")]
        args: list[str | int] = ["|".join(segment), next_cursor, id_prefix, position, TTL]
        args += [plan.to_do, failed]
        for name, value in counts.items():
            args += [name, value]
        return bool(self.ledger.call(self._complete, keys, args))

    def fail_shard(self, run_id: str, id_prefix: str, why: str) -> None:
        """Show why a shard could not be planned among the run's failures."""
        key = self._key(run_id, "failures")
        self.ledger.call(self.ledger.client.hset, key, f"shard {id_prefix or '(all)'}", why)

    def is_sent(self, run_id: str, segment: Segment) -> bool:
        key = self._key(run_id, "sent")
        return bool(self.ledger.call(self.ledger.client.hexists, key, "|".join(segment)))

    def mark_sent(self, run_id: str, segment: Segment) -> None:
        pipe = self.ledger.client.pipeline()
        pipe.hset(self._key(run_id, "sent"), "|".join(segment), 1)
        pipe.expire(self._key(run_id, "sent"), TTL)
        self.ledger.call(pipe.execute)

    def progress(self, run_id: str, shards: int) -> ShardProgress:
        pipe = self.ledger.client.pipeline()
        pipe.hgetall(self._key(run_id, "plan"))
        pipe.hgetall(self._key(run_id, "cursors"))
        pipe.hmget(self._key(run_id, "meta"), "shards_done", "shards_failed")
        plan, cursors, (done, failed) = self.ledger.call(pipe.execute)
        listed = 0.0
        for id_prefix, position in cursors.items():
            last = position.decode()
            listed += 1.0 if last == DONE else IdSpace(id_prefix.decode()).fraction(last)
        return ShardProgress(
            shards,
            int(done or 0),
            int(failed or 0),
            {k.decode(): int(v) for k, v in plan.items()},
            listed / shards if shards else 0.0,
        )
