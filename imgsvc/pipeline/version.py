"""The version of the pipeline's output, in a module of its own so that the
configuration (which derives the fingerprint from it) and the steps can both import
it without importing each other.

**The rule: a change of output never leaves a stored set looking current, and
outdates no set it did not change.** ``imgsvc reconvert --only-outdated`` re-converts
what this module calls outdated; on a library of millions that is days of work, so
the mark must be as narrow as the change, and never narrower.

- A change that alters the output of every, or of an unknowable share of, stored
  sets bumps ``PIPELINE_VERSION``. It is part of every fingerprint: every stored set
  becomes outdated. A bump also empties ``REVISIONS`` (they count within a version;
  ``tests/pipeline/test_config.py`` fails on a revision of an older version).
- A change that alters only the output of some configurations, or of some sources
  that a manifest tells apart, adds a ``Revision`` below instead, with a test that
  pins which fingerprints moved and which stored sets turned outdated:

  - ``configs``: the configurations whose output changed, judged by their recipe
    (``Output.recipe()`` without its revisions: ``formats``, ``sizes``, ``target``...).
    Their recipe lists the revision, so their fingerprint moves and every set made
    with them is outdated; other configurations keep their fingerprint.
  - ``stored``: the stored sets, judged by their manifest, whose output changed.
    Every manifest records the revision it was made at (``pipeline_revision``; none
    means 0); one made before a revision whose ``stored`` holds is outdated. Say
    what the predicate cannot tell apart: it may take in more sets than changed
    (an opaque animation with a transparent one), never fewer.

``tests/pipeline/test_golden.py`` keys its digests by version and revision, so output
that changes without either fails there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: Bumped whenever a change of code alters the output beyond what a ``Revision`` can
#: describe; part of the fingerprint, so a bump marks every stored set outdated.
PIPELINE_VERSION = 3


@dataclass(frozen=True, slots=True)
class Revision:
    """One change of output within ``version`` that outdates only some stored sets."""

    version: int
    number: int
    change: str
    configs: Callable[[Mapping[str, Any]], bool] | None = None
    stored: Callable[[Mapping[str, Any]], bool] | None = None


def _several_formats(recipe: Mapping[str, Any]) -> bool:
    return len(recipe["formats"]) > 1


def _animated(manifest: Mapping[str, Any]) -> bool:
    frames = manifest.get("frames", 1)
    return not isinstance(frames, int) or frames > 1  # malformed: re-converting mends it


def _credited(manifest: Mapping[str, Any]) -> bool:
    credit = manifest.get("credit")
    if not isinstance(credit, Mapping):
        return True  # made before the credit was recorded: it may have had one
    return any(credit.get(k) for k in ("creator", "credit", "copyright"))


def _quality_target(recipe: Mapping[str, Any]) -> bool:
    return "target" in recipe


REVISIONS: tuple[Revision, ...] = (
    Revision(
        3,
        1,
        "Each encoder job saves an image object of its own: with formats avif and webp, "
        "WebPs had come out at AVIF's quality (issue 11). Configurations of one format "
        "gave the same bytes before.",
        configs=_several_formats,
    ),
    Revision(
        3,
        2,
        "An animated WebP that shows transparency sets the file's alpha flag: hard-edged "
        "frames at the source's own width had come out opaque, black where the source is "
        "transparent (issue 11). A manifest does not say whether the source had alpha, "
        "so every animation made before is outdated (the opaque ones re-convert to the "
        "same bytes).",
        stored=_animated,
    ),
    Revision(
        3,
        3,
        "Outputs carry an XMP packet with the source's creator, credit and copyright "
        "(keep_rights_metadata, issue 12); a source without them gives the same bytes. "
        "Sets recorded with such a credit are outdated, and so is every set made before "
        "manifests recorded the credit (they cannot tell; most re-convert to the same bytes).",
        stored=_credited,
    ),
    Revision(
        3,
        4,
        "Quality targeting searches only the widths up to 800 px and predicts the wider "
        "ones from them, accepting a trial within 1.5 points above the target (issue 11's "
        "CPU bar): targeted outputs come out at other qualities. Configurations without "
        "a quality target are untouched.",
        configs=_quality_target,
    ),
    Revision(
        3,
        5,
        "Quality targeting measures the widths it predicts (every targeted variant records "
        "the SSIMULACRA2 it reached) and searches one that misses the target by more than "
        "1.5 points; the metric computes libjxl's last level under 256 px a side (scores of "
        "such images had been off by up to 80 points) and scores a JPEG against its "
        "flattened image; its faster arithmetic moves other scores by up to 0.006, which can "
        "move a search by one quality step (issue 11). Configurations without a quality "
        "target are untouched.",
        configs=_quality_target,
    ),
    Revision(
        3,
        6,
        "Quality targeting encodes the widths it searches (480 and 768 px by default) with "
        "libwebp's method 2, about 0.4x the CPU of method 4 per trial, and predicts the "
        "wider ones from those (refitted); the metric decodes WebP with libwebp directly "
        "(the same pixels). Targeted outputs come out at other bytes and qualities, AVIF's "
        "wide widths too (they share the predictor; issue 11's CPU bar). Configurations "
        "without a quality target are untouched.",
        configs=_quality_target,
    ),
)

#: The revision every conversion is made at now; manifests record it.
PIPELINE_REVISION = max((r.number for r in REVISIONS), default=0)


def config_revisions(recipe: Mapping[str, Any]) -> list[int]:
    """The revisions that changed the output of the configuration of this recipe;
    the recipe lists them (none leaves it, and the fingerprint, as it was)."""
    return [r.number for r in REVISIONS if r.configs is not None and r.configs(recipe)]


def changed_since_stored(manifest: Mapping[str, Any]) -> bool:
    """Whether a revision made after ``manifest`` changed the output of its set.

    Only for a manifest whose fingerprint is current (so of this ``PIPELINE_VERSION``);
    ``pipeline_revision`` absent means a set made before revisions were recorded.
    """
    made = manifest.get("pipeline_revision", 0)
    made = made if isinstance(made, int) else 0
    return any(r.number > made and r.stored is not None and r.stored(manifest) for r in REVISIONS)
