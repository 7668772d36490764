"""Quality targeting's search: the lowest encoder quality whose encode reaches a
SSIMULACRA2 score, cheap enough to run on every upload (issue 11).

**Searched widths** (up to ``SEARCHED_UP_TO`` px, and always the narrowest) are
encoded, decoded and scored against their own image (``quality.Reference``) until a
trial lands within ``ACCEPT`` points above the target, or the bracket closes on one
quality step. The first search starts from a guess for the target (``FIXED_SCORE``),
each next one from the quality the width before it needed. Their trials (and so
their stored encode) use the format's ``search_encoder`` parameters (WebP: method 2,
0.4x method 4's CPU for 5% more bytes at an equal score, ``formats.py``).

**Wider widths are predicted, then measured**: a trial at 1280 or 1920 px (encode,
decode, metric) costs about 90 and 220 ms of CPU where a whole fixed-quality
conversion costs about 470, so a search there (several trials) is out of reach.
The predicted quality is encoded and scored once (``verify``; the predicted widths
side by side), so every variant records the score it reached; one that misses the
target by more than ``SLACK`` is searched from there, so no variant lands further
below the target than that. The prediction, for ``x`` octaves beyond the last
searched width:

- ``steady = q_last + PER_OCTAVE * x``: most photos need a few quality steps more
  per octave of width;
- ``falling = q_last + (drop * x - surplus) / slope``: the score the last width lost
  against the one before at the same quality (the first trial of its search is at
  that quality, so the drop costs nothing), extrapolated per octave, and bought back
  at the last width's own score-per-quality slope. Smooth gradients (wallpapers, a
  clear sky) lose 5.5-6.6 points between 480 and 768 px where photos lose under 3:
  WebP bands them at the wide widths until its quality is high;
- ``q = max(steady, min(falling, GRADIENT_CAP))``: the extrapolated drop overshoots
  on gradients (banding stops suddenly near quality 85), hence the cap.

The fit over the benchmark corpus, its error against the exhaustive search and why
this predictor and no other: ``docs/quality.md`` (``benchmarks/quality_predictor.py``
reruns it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from PIL import Image

from .quality import MIN_SIDE, Reference, decoded

#: Widths up to this are searched; wider ones are predicted from them.
SEARCHED_UP_TO = 800
#: A trial scoring within this many points above the target is taken without
#: proving that the quality below misses (saves about one trial per width).
ACCEPT = 1.5
#: A predicted width scoring this far below the target (issue 11's bar: 68.5 at a
#: target of 70) is searched instead; one closer is taken as it is.
SLACK = 1.5
#: The steady predictor's quality steps per octave of width (fitted over the corpus).
PER_OCTAVE = 3.0
#: The falling predictor's cap, and the least score-per-quality slope it divides by.
GRADIENT_CAP = 84
MIN_SLOPE = 0.35
#: Score per quality step assumed until two trials give the image's own (the secant's
#: first step), and the score the format's fixed quality is taken to reach at 480 px:
#: the first search starts at ``fixed + (target - FIXED_SCORE) / _SLOPE``. WebP 80
#: averages 76.0 there over the corpus; 74 and 0.35 were tuned for the fewest trials
#: (2.5 + 2.0 per photo at target 70 against 3.6 + 3.3 with 76 and 0.6: docs/quality.md).
_SLOPE = 0.35
FIXED_SCORE = 74.0

#: One trial: quality -> (score, encoded bytes).
Trial = Callable[[int], tuple[float, bytes]]


@dataclass(frozen=True, slots=True)
class Target:
    """A SSIMULACRA2 score to reach, and the encoder qualities allowed to reach it."""

    score: float
    low: int
    high: int

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high <= 100:
            raise ValueError(f"quality bounds {self.low}..{self.high} are not within 0..100")

    def clamp(self, quality: float) -> int:
        return min(max(round(quality), self.low), self.high)


@dataclass(frozen=True, slots=True)
class Choice:
    quality: int
    #: The SSIMULACRA2 score of ``data``; None only where the metric is undefined (a
    #: side under ``quality.MIN_SIDE``: such a width keeps the fixed quality).
    score: float | None
    data: bytes
    #: Every quality tried and its score.
    tried: dict[int, float] = field(default_factory=dict)

    @property
    def trials(self) -> int:
        """Encodes made for this width."""
        return max(len(self.tried), 1)


def choose(
    image: Image.Image,
    encode: Callable[[int], bytes],
    target: Target,
    start: int = 80,
    accept: float = 0.0,
) -> Choice:
    """The lowest quality in ``target.low..high`` whose encode of ``image`` scores at
    least ``target.score`` (``search``), each trial scored against ``image``.

    Assumes the score grows with the quality, as it does for WebP and AVIF up to
    noise of a few hundredths; ``encode`` must be deterministic. Raises what
    ``encode`` raises.
    """
    return search(scorer(image, encode), target, start, accept)


def scorer(image: Image.Image, encode: Callable[[int], bytes]) -> Trial:
    """A trial of ``image``: its encode at a quality, and that encode's score."""
    reference = Reference(image)

    def trial(q: int) -> tuple[float, bytes]:
        data = encode(q)
        return reference.score(decoded(data)), data

    return trial


def search(trial: Trial, target: Target, start: int, accept: float) -> Choice:
    """A bracketing search (secant steps, then bisection to one quality step) from
    ``start``; a trial scoring within ``[target, target + accept]`` ends it at once.
    ``quality_max``'s trial when no quality reaches the target."""
    seen: dict[int, tuple[float, bytes]] = {}
    bad, good = target.low - 1, target.high + 1  # qualities known to miss / to reach
    q = target.clamp(start)
    while good - bad > 1:
        seen[q] = trial(q)
        if seen[q][0] >= target.score:
            good = q
            if seen[q][0] <= target.score + accept:
                break
        else:
            bad = q
        q = _next(seen, bad, good, q, target.score)
    if good > target.high:
        if target.high not in seen:
            seen[target.high] = trial(target.high)
        good = target.high
    score, data = seen[good]
    return Choice(good, score, data, {k: s for k, (s, _) in seen.items()})


def searched(widths: list[int]) -> int:
    """How many of ``widths`` (narrowest first, all scored) are searched: those up to
    ``SEARCHED_UP_TO``, and always the narrowest; the rest are predicted."""
    return max(1, sum(w <= SEARCHED_UP_TO for w in widths))


def choose_widths(
    images: list[Image.Image],
    encode: Callable[[int, int, bool], bytes],
    target: Target,
    start: int = 80,
) -> list[Choice]:
    """One ``Choice`` per image (the widths of one format, narrowest first);
    ``encode(i, q, s)`` encodes ``images[i]`` at quality ``q``, with the format's
    parameters for a searched width when ``s`` (``formats.Format.search_encoder``).
    The narrowest widths are searched, the wider ones predicted and measured (the
    module's docstring); widths too small for the metric (the narrowest, when any)
    keep ``start`` and the format's own parameters, as without a target."""

    # narrowest first at one aspect ratio: the widths too small are the first ones
    small = sum(min(im.size) < MIN_SIDE for im in images)
    unscored = [Choice(start, None, encode(i, start, False)) for i in range(small)]
    if small == len(images):
        return unscored
    widths = [im.width for im in images[small:]]
    count = searched(widths)

    def trial(index: int) -> Trial:
        i = small + index
        return scorer(images[i], lambda q: encode(i, q, index < count))

    return unscored + plan(widths, trial, target, start)


def plan(
    widths: list[int], trial: Callable[[int], Trial], target: Target, start: int
) -> list[Choice]:
    """``choose_widths`` on any trial (``benchmarks/quality_predictor.py`` runs it on
    measured curves): ``trial(i)`` tries width ``i``."""
    count = searched(widths)
    choices: list[Choice] = []
    q = round(start + (target.score - FIXED_SCORE) / _SLOPE)
    for index in range(count):
        choices.append(search(trial(index), target, q, ACCEPT))
        q = choices[-1].quality
    predicted = [
        (i, target.clamp(predict(widths[:count], choices, widths[i], target.score)))
        for i in range(count, len(widths))
    ]
    # Side by side: they are independent, and the metric and the encoders release the
    # GIL, so an upload's answer waits for the slowest, not for the sum.
    if predicted:
        with ThreadPoolExecutor(max_workers=len(predicted)) as pool:
            choices += pool.map(lambda iq: verify(trial(iq[0]), target, iq[1]), predicted)
    return choices


def verify(trial: Trial, target: Target, q: int) -> Choice:
    """A predicted quality's one trial, taken when it scores at least ``target.score -
    SLACK``; a worse miss is searched like a narrow width, from the prediction."""
    first = trial(q)
    if first[0] >= target.score - SLACK:
        return Choice(q, first[0], first[1], {q: first[0]})
    seen = {q: first}
    return search(lambda k: seen[k] if k in seen else trial(k), target, q, ACCEPT)


def predict(widths: list[int], searched: list[Choice], width: int, goal: float) -> float:
    """The quality predicted for ``width`` from the searched widths' choices (the
    formula in the module's docstring); ``steady`` alone after one searched width."""
    last, x = searched[-1], math.log2(width / widths[-1])
    steady = last.quality + PER_OCTAVE * x
    if len(searched) < 2:
        return steady
    before = searched[-2]
    at_before = last.tried.get(before.quality)
    if at_before is None or before.score is None or last.score is None:
        return steady
    drop = max(before.score - at_before, 0.0) / math.log2(widths[-1] / widths[-2])
    surplus = last.score - goal
    falling = last.quality + (drop * x - surplus) / _slope(last, before)
    return max(steady, min(falling, GRADIENT_CAP))


def _slope(last: Choice, before: Choice) -> float:
    """Score per quality step at the last width: the secant over its widest span of
    trials, else the width before's, floored at ``MIN_SLOPE``."""
    for choice in (last, before):
        others = [k for k in choice.tried if k != choice.quality]
        if others:
            k = max(others, key=lambda k: abs(k - choice.quality))
            slope = (choice.tried[choice.quality] - choice.tried[k]) / (choice.quality - k)
            return max(slope, MIN_SLOPE)
    return max(_SLOPE, MIN_SLOPE)


def _next(seen: dict[int, tuple[float, bytes]], bad: int, good: int, q: int, goal: float) -> int:
    """The next quality to try, strictly between ``bad`` and ``good``."""
    if good - bad <= 1:
        return q
    if bad in seen and good in seen:
        (s0, _), (s1, _) = seen[bad], seen[good]
        guess = bad + (goal - s0) * (good - bad) / max(s1 - s0, 1e-6)
    elif len(seen) >= 2:  # both on one side: the secant through the last two, capped
        (q0, (s0, _)), (q1, (s1, _)) = list(seen.items())[-2:]
        slope = max((s1 - s0) / (q1 - q0), _SLOPE / 4)
        guess = q + max(min((goal - seen[q][0]) / slope, 25), -25)
    else:
        guess = q + (goal - seen[q][0]) / _SLOPE
    return min(max(round(guess), bad + 1), good - 1)
