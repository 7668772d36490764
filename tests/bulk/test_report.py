"""bulk.report: the plan of a dry run and the summary of a run, one figure per line
so that operators can grep them (``grep '^  outdated'``)."""

from __future__ import annotations

import re
from collections import Counter

from imgsvc.bulk.local import Summary
from imgsvc.bulk.report import plan_lines, summary_lines
from imgsvc.bulk.scan import Action, Finding, Plan, State
from imgsvc.bulk.work import Outcome, Result

IDS = [f"00000000-0000-4000-8000-{i:012d}" for i in range(8)]


def figure(lines: list[str], label: str) -> int:
    text = "\n".join(lines)
    match = re.search(rf"^  {label} +(\d+)", text, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{text}"
    return int(match.group(1))


def make_plan(only_outdated: bool = False, unreadable: bool = False) -> Plan:
    """Two current, two outdated, one missing, two orphans (one adoptable)."""
    findings = [
        Finding(IDS[0], State.CURRENT),
        Finding(IDS[1], State.CURRENT, stray=2),
        Finding(IDS[2], State.OUTDATED, "converted with fingerprint old", Action.RECONVERT),
        Finding(IDS[3], State.OUTDATED, "converted with fingerprint old", Action.RECONVERT),
        Finding(IDS[4], State.MISSING, "1 of 3 conversions missing", Action.RECONVERT),
        Finding(IDS[5], State.ORPHANED, "original without a manifest", Action.ADOPT, "k.jpg"),
        Finding(IDS[6], State.ORPHANED, "conversions without an original"),
    ]
    if unreadable:
        findings.append(Finding(IDS[7], State.UNREADABLE, "storage_unavailable: down"))
    plan = Plan()
    for finding in findings:
        wanted = finding.state is not State.UNREADABLE and finding.wanted(only_outdated)
        plan.add(finding, wanted)
    return plan


def test_the_plan_counts_each_class_and_names_examples() -> None:
    lines = plan_lines(make_plan(), "news-by/", ignored_keys=3, only_outdated=False)
    assert lines[0] == "Plan for news-by/ (dry run: nothing was changed)"
    got = {
        label: figure(lines, label)
        for label in ("images", "up to date", "outdated", "missing conversions", "orphaned")
    }
    assert got == {
        "images": 7,
        "up to date": 2,
        "outdated": 2,
        "missing conversions": 1,
        "orphaned": 2,
    }
    assert figure(lines, "to re-convert") == 4
    assert figure(lines, "ignored keys") == 3
    assert figure(lines, "stray objects") == 2
    text = "\n".join(lines)
    assert f"      {IDS[4]}  1 of 3 conversions missing" in lines
    assert f"      {IDS[6]}  conversions without an original" in lines
    assert IDS[0] not in text  # current images are not worth an example
    assert "unreadable" not in text  # only shown when there are some


def test_the_plan_with_only_outdated_and_an_unreadable_manifest() -> None:
    lines = plan_lines(make_plan(True, unreadable=True), "", ignored_keys=0, only_outdated=True)
    assert lines[0].startswith("Plan for (all keys) ")
    assert figure(lines, "to re-convert") == 2
    assert "(outdated)" in next(line for line in lines if "to re-convert" in line)
    assert figure(lines, "unreadable") == 1
    assert f"      {IDS[7]}  storage_unavailable: down" in lines


def test_the_summary_of_a_finished_run() -> None:
    outcomes = Counter({Outcome.RECONVERTED: 2, Outcome.ADOPTED: 1, Outcome.FAILED: 1})
    failure = Result(IDS[4], Outcome.FAILED, "invalid_image: truncated")
    summary = Summary(make_plan(), outcomes, [failure], elapsed=70)
    lines = summary_lines(summary, only_outdated=False)
    assert lines[0] == "Summary: 7 images examined in 1m10s (0.1 images/s)"
    assert figure(lines, "re-converted") == 2
    assert figure(lines, "adopted") == 1
    assert figure(lines, "up to date") == 2
    assert figure(lines, "left alone") == 1  # the conversions without an original
    assert figure(lines, "failed") == 1
    assert lines[-1] == f"      {IDS[4]}  invalid_image: truncated"
    assert not any("not done" in line for line in lines)


def test_an_interrupted_run_says_what_was_not_done() -> None:
    summary = Summary(make_plan(), Counter({Outcome.RECONVERTED: 1}), interrupted=True)
    lines = summary_lines(summary, only_outdated=False)
    assert lines[0].startswith("Interrupted: what finished is complete")
    assert figure(lines, "not done") == 3


def test_a_run_stopped_at_the_limit_and_a_run_with_nothing_to_do() -> None:
    limited = Summary(make_plan(), Counter({Outcome.RECONVERTED: 1}), limit_reached=True)
    assert summary_lines(limited, only_outdated=False)[0].startswith("Stopped at --limit")
    idle = Plan()
    idle.add(Finding(IDS[0], State.CURRENT), wanted=False)
    lines = summary_lines(Summary(idle, Counter(), elapsed=2), only_outdated=True)
    assert lines[0] == "Nothing to do: 1 images are up to date."
    assert figure(lines, "left alone") == 0
