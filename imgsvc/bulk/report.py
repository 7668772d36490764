"""What a bulk run tells the operator: the plan of a dry run, the summary of a run.

Plain aligned text, one figure per line, so that it reads well in a terminal and
greps well in a log (``grep '^  outdated'``).
"""

from __future__ import annotations

from collections.abc import Iterable

from .local import Summary
from .progress import duration
from .scan import Plan, State
from .work import Outcome

_STATE_LABELS = {
    State.CURRENT: "up to date",
    State.OUTDATED: "outdated",
    State.MISSING: "missing conversions",
    State.ORPHANED: "orphaned",
    State.UNREADABLE: "unreadable",
}


def _row(label: str, value: object, note: str = "") -> str:
    line = f"  {label:<20} {value:>8}"
    return f"{line}   {note}" if note else line


def plan_lines(plan: Plan, prefix: str, ignored_keys: int, only_outdated: bool) -> list[str]:
    """The plan: how many images of each class, the first few of each, what would be done."""
    what = "outdated" if only_outdated else "outdated, missing conversions, orphaned originals"
    lines = [f"Plan for {prefix or '(all keys)'} (dry run: nothing was changed)"]
    lines.append(_row("images", plan.images))
    for state, label in _STATE_LABELS.items():
        count = plan.states[state]
        if count or state is not State.UNREADABLE:
            lines.append(_row(label, count))
        for finding in plan.examples.get(state, []) if state is not State.CURRENT else []:
            lines.append(f"      {finding.media_id}  {finding.detail}".rstrip())
    lines.append(_row("to re-convert", plan.to_do, f"({what})"))
    lines.append(_row("ignored keys", ignored_keys, "(outside {prefix}/{uuid}/...)"))
    lines.append(_row("stray objects", plan.stray, "(not listed by their manifest; kept)"))
    return lines


def summary_lines(summary: Summary, only_outdated: bool) -> list[str]:
    """The end of a run: what was done, what was left, what failed."""
    plan, outcomes = summary.plan, summary.outcomes
    rate = plan.images / summary.elapsed if summary.elapsed > 0 else 0.0
    lines = []
    if summary.interrupted:
        lines.append("Interrupted: what finished is complete; run again to finish the rest.")
    elif summary.limit_reached:
        lines.append("Stopped at --limit: run again to go on.")
    elif plan.to_do == 0 and summary.failed == 0:
        lines.append(f"Nothing to do: {plan.states[State.CURRENT]} images are up to date.")
    lines.append(
        f"Summary: {plan.images} images examined in {duration(summary.elapsed)}"
        f" ({rate:.1f} images/s)"
    )
    lines.append(_row("re-converted", outcomes[Outcome.RECONVERTED]))
    lines.append(_row("adopted", outcomes[Outcome.ADOPTED], "(orphaned originals converted)"))
    lines.append(_row("up to date", plan.states[State.CURRENT]))
    left = plan.images - plan.to_do - plan.states[State.CURRENT] - plan.states[State.UNREADABLE]
    why = "(not outdated)" if only_outdated else "(nothing to convert from)"
    lines.append(_row("left alone", left, why if left else ""))
    not_done = plan.to_do - sum(outcomes[o] for o in (Outcome.RECONVERTED, Outcome.ADOPTED))
    not_done -= summary.failed - plan.states[State.UNREADABLE]
    if not_done > 0:
        lines.append(_row("not done", not_done, "(interrupted)"))
    lines.append(_row("failed", summary.failed))
    lines.extend(failure_lines((r.media_id, r.reason) for r in summary.failures))
    return lines


def failure_lines(failures: Iterable[tuple[str, str]]) -> list[str]:
    return [f"      {media_id}  {why}" for media_id, why in failures]
