"""bulk.ledger on a real Redis: a run's metadata, idempotent settlements, the shown
failures and the operator's status lines. Each test has its own namespace."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
import redis

from imgsvc.bulk.ledger import SHOWN_FAILURES, TTL, BrokerUnavailable, Ledger
from imgsvc.bulk.work import Outcome
from imgsvc.errors import ServiceUnavailable


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def ledger(redis_url: str, client: redis.Redis) -> Iterator[Ledger]:
    namespace = f"imgsvc-test-{uuid.uuid4().hex[:10]}"
    yield Ledger.connect(redis_url, namespace)
    keys = list(client.scan_iter(f"{namespace}:*"))
    if keys:
        client.delete(*keys)


def test_a_new_namespace_has_no_run_and_an_empty_queue(ledger: Ledger) -> None:
    assert ledger.last_run() is None
    assert ledger.queue_length() == 0


def test_a_run_records_what_was_enqueued_and_expires(ledger: Ledger, client: redis.Redis) -> None:
    """Nothing a run leaves in a shared Redis stays there for ever."""
    run = ledger.start("news-by/", "outdated", "abc123")
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", run)
    assert ledger.last_run() == run
    ledger.add_total(run, 5)
    ledger.add_total(run, 2)
    status = ledger.status(run)
    assert status.total == 7
    assert {k: status.meta[k] for k in ("prefix", "selection", "fingerprint", "enqueue")} == {
        "prefix": "news-by/",
        "selection": "outdated",
        "fingerprint": "abc123",
        "enqueue": "listing",
    }
    ledger.finish(run, "done")
    assert ledger.status(run).meta["enqueue"] == "done"
    for key in (f"{ledger.ns}:last-run", f"{ledger.ns}:run:{run}:meta"):
        assert 0 < client.ttl(key) <= TTL, key


def test_settling_is_once_per_run_and_ends_the_attempt_count(
    ledger: Ledger, client: redis.Redis
) -> None:
    run = ledger.start("news-by/", "all", "abc123")
    assert not ledger.is_settled(run, "a")
    assert ledger.begin(run, "a") == 1
    assert ledger.begin(run, "a") == 2
    assert ledger.settle(run, "a", Outcome.ADOPTED)
    assert ledger.is_settled(run, "a")
    assert client.hget(f"{ledger.ns}:run:{run}:attempts", "a") is None
    assert not ledger.settle(run, "a", Outcome.RECONVERTED)  # a redelivered duplicate
    assert ledger.status(run).counts == {"adopted": 1}
    other = ledger.start("news-by/", "all", "abc123")
    assert not ledger.is_settled(other, "a")  # settled per run, not for ever


def test_status_shows_a_bounded_sorted_list_of_failures(ledger: Ledger) -> None:
    """A run where everything fails must not print thousands of lines."""
    run = ledger.start("news-by/", "all", "abc123")
    for i in range(SHOWN_FAILURES + 5):
        ledger.settle(run, f"id-{i:03d}", Outcome.FAILED, f"invalid_image: {i}")
    status = ledger.status(run)
    assert status.failed == SHOWN_FAILURES + 5
    assert len(status.failures) == SHOWN_FAILURES
    assert status.failures == sorted(status.failures)
    assert all(why == f"invalid_image: {int(mid[3:])}" for mid, why in status.failures)


def test_queue_length_reads_the_namespaced_celery_queue(
    ledger: Ledger, client: redis.Redis
) -> None:
    """Two deployments on one Redis see only their own queue."""
    other = f"imgsvc-test-{uuid.uuid4().hex[:10]}:reconvert"
    client.rpush(f"{ledger.ns}:reconvert", "m1", "m2", "m3")
    client.rpush(other, "m1")
    try:
        assert ledger.queue_length() == 3
    finally:
        client.delete(other)


def test_status_lines_for_the_operator(ledger: Ledger) -> None:
    run = ledger.start("news-by/", "outdated", "abc123")
    ledger.add_total(run, 4)
    ledger.settle(run, "a", Outcome.RECONVERTED)
    ledger.settle(run, "b", Outcome.CURRENT)
    ledger.settle(run, "c", Outcome.FAILED, "invalid_image: garbage")
    lines = ledger.status(run).lines(queued_messages=1)
    assert re.fullmatch(
        rf"Run {run}: news-by/ \(outdated\), started \d+s ago, still listing", lines[0]
    )
    assert lines[1:] == [
        "  enqueued          4",
        "  done              2   (current 1, reconverted 1)",
        "  failed            1",
        "  remaining         1   (1 batch queued)",
    ]
    ledger.finish(run, "interrupted")
    again = ledger.status(run).lines(queued_messages=3)
    assert again[0].endswith("enqueue interrupted") and again[-1].endswith("(3 batches queued)")


def test_an_unreachable_redis_is_a_service_unavailable_error() -> None:
    """A ServiceUnavailable (exit code 3: try again later), not a redis-py traceback."""
    ledger = Ledger.connect("redis://127.0.0.1:1/0", f"imgsvc-test-{uuid.uuid4().hex[:10]}")
    with pytest.raises(BrokerUnavailable) as caught:
        ledger.last_run()
    assert isinstance(caught.value, ServiceUnavailable)
    assert (caught.value.code, caught.value.exit_code) == ("broker_unavailable", 3)
