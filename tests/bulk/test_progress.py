"""bulk.progress: a bar on a terminal, plain lines with the same figures in a log."""

from __future__ import annotations

import io
import re

import pytest

from imgsvc.bulk.progress import LineProgress, duration, make_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0, "0s"), (42.4, "42s"), (59.6, "1m00s"), (185, "3m05s"), (3599.6, "1h00m"), (7620, "2h07m")],
)
def test_duration_is_short_enough_for_a_progress_line(seconds: float, expected: str) -> None:
    assert duration(seconds) == expected


def test_off_a_terminal_progress_is_plain_lines() -> None:
    """A bar redrawn with carriage returns would be noise in a log file."""
    assert isinstance(make_progress("reconvert", io.StringIO()), LineProgress)


def test_a_line_has_count_percentage_rate_failures_and_time_left() -> None:
    stream = io.StringIO()
    progress = LineProgress("reconvert", stream, interval=3600)
    progress.set_total(4)
    progress.advance()
    progress.advance(failed=True)
    progress.advance()
    assert stream.getvalue() == ""  # the interval has not passed: nothing printed yet
    progress.close()
    line = stream.getvalue()
    pattern = r"reconvert: 3/4 images \(75%\), [\d.]+/s, 1 failed, about \w+ left\n"
    assert re.fullmatch(pattern, line), line


def test_an_unknown_total_gives_a_count_and_no_estimate() -> None:
    """The listing streams: the total is unknown until a counting pass has finished."""
    stream = io.StringIO()
    progress = LineProgress("scan", stream, interval=3600)
    progress.advance()
    progress.advance()
    progress.close()
    assert re.fullmatch(r"scan: 2 images, [\d.]+/s\n", stream.getvalue()), stream.getvalue()


def test_a_finished_run_has_no_time_left() -> None:
    stream = io.StringIO()
    progress = LineProgress("reconvert", stream, interval=3600)
    progress.set_total(1)
    progress.advance()
    progress.close()
    assert re.fullmatch(r"reconvert: 1/1 images \(100%\), [\d.]+/s\n", stream.getvalue())


def test_a_line_is_printed_once_per_interval() -> None:
    stream = io.StringIO()
    progress = LineProgress("reconvert", stream, interval=0)
    for _ in range(3):
        progress.advance()
    assert [line.split(",")[0] for line in stream.getvalue().splitlines()] == [
        "reconvert: 1 images",
        "reconvert: 2 images",
        "reconvert: 3 images",
    ]


def test_notes_are_printed_as_they_come() -> None:
    stream = io.StringIO()
    make_progress("reconvert", stream).note("abc: invalid_image: truncated")
    assert stream.getvalue() == "abc: invalid_image: truncated\n"


def test_on_a_terminal_the_bar_counts_and_notes_failures() -> None:
    stream = Terminal()
    progress = make_progress("reconvert", stream)
    assert not isinstance(progress, LineProgress)
    progress.set_total(2)
    progress.advance()
    progress.note("abc: invalid_image: truncated")
    progress.advance(failed=True)
    progress.close()
    out = stream.getvalue()
    assert "abc: invalid_image: truncated\n" in out
    assert "2/2" in out and "failed=1" in out


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def left(line: str) -> float:
    """The seconds of ``about XmYYs left`` in a progress line."""
    match = re.search(r"about (?:(\d+)m)?(\d+)s left", line)
    assert match, line
    return int(match.group(1) or 0) * 60 + int(match.group(2))


def test_after_a_slow_start_the_eta_follows_the_current_rate() -> None:
    """10 images in the first 100 s, then 100/s: the cumulative rate (about 30/s after
    a minute) would promise ~5 minutes; the recent one says what is really left."""
    clock = FakeClock()
    progress = LineProgress("reconvert", io.StringIO(), interval=3600, clock=clock)
    progress.set_total(10_000, estimated=True)
    for _ in range(10):
        clock.now += 10
        progress.advance()
    for _ in range(6000):  # 60 s at 100 images/s
        clock.now += 0.01
        progress.advance()
    line = progress.line()
    assert "6010/~10000 images (60%)" in line
    rate = re.search(r", ([\d.]+)/s", line)
    assert rate and float(rate.group(1)) == pytest.approx(100, rel=0.03), line
    assert left(line) == pytest.approx((10_000 - 6010) / 100, abs=2)
    assert "about 5m" not in line


def test_an_estimated_total_is_marked_and_an_exact_one_is_not() -> None:
    progress = LineProgress("reconvert", io.StringIO(), interval=3600)
    progress.advance()
    progress.set_total(40, estimated=True)
    assert "1/~40 images" in progress.line()
    progress.set_total(3)
    assert "1/3 images" in progress.line()
    progress.set_total(0, estimated=True)  # an estimate below the count reads as the count
    assert "1/~1 images" in progress.line()


def test_the_bar_marks_an_estimated_total() -> None:
    stream = Terminal()
    progress = make_progress("reconvert", stream)
    progress.set_total(500, estimated=True)
    progress.advance()
    progress.close()
    assert "1/~500" in stream.getvalue()
