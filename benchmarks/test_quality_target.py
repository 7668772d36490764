"""Quality targeting against fixed qualities (issue 11): bytes, SSIMULACRA2 per width
and CPU per image over the corpus, and the issue's Done-when at target 70.

Every WebP is scored with imgsvc's own SSIMULACRA2 (``imgsvc.pipeline.quality``)
against the very image that was encoded (imgsvc's decode and resize cascade), as the
target itself is defined and as ``docs/quality.md``'s research was measured; sharp's
q80 output, when sharp is installed, against the same image: its score then also
counts the difference of its resize. CPU is ``time.process_time`` of this process
around ``convert()`` (threads included), so the two cores' other tenants inflate it
less than wall time; sharp's is the Node process's own (``process.cpuUsage``). The
bar's CPU ratio (``verdict``) is its own pass: fixed 80 and target 70 converted in
turn ``CPU_ROUNDS`` times per photo, each photo's least CPU of each kept (as
``timeit`` keeps its least), because one round of one conversion swings by +-5% with
the other tenants of the machine, which is the whole margin of a 1.3x bar.

    .venv/bin/python -m pytest benchmarks/test_quality_target.py --benchmark-only -s
    .venv/bin/python -m benchmarks.test_quality_target      # the table alone

``IMGSVC_BENCH_QUICK=1``: the first three photos only.
"""

from __future__ import annotations

import io
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from PIL import Image

from imgsvc.pipeline import PipelineConfig, _run_steps, _untimed, convert
from imgsvc.pipeline.plan import plan_variants
from imgsvc.pipeline.receive import open_image
from imgsvc.pipeline.resize import downscale
from imgsvc.settings import Settings

from .common import QUICK, Source

FIXED = (70, 75, 80, 85)
TARGETS = (65.0, 70.0, 75.0)
#: Issue 11's Done-when, at target 70.
BAR_TARGET, BAR_MIN_SCORE, BAR_BYTES, BAR_CPU = 70.0, 68.5, 1.02, 1.3
CPU_ROUNDS = 3


@dataclass
class Row:
    label: str
    bytes: int = 0
    cpu: list[float] = field(default_factory=list)
    #: width bucket (480, 768, 1280, "largest" as 1920) -> scores
    scores: dict[int, list[float]] = field(default_factory=dict)
    qualities: list[int] = field(default_factory=list)
    #: the bar's pass: per photo, the least CPU s of ``CPU_ROUNDS`` conversions
    least_cpu: list[float] = field(default_factory=list)


def _settings(label: str) -> Settings:
    kind, value = label.split(" ")
    if kind == "fixed":
        return Settings.load({}, webp_quality=int(value))
    return Settings.load({}, quality_target=float(value))


def _encoded_images(data: bytes, config: PipelineConfig) -> dict[int, Any]:
    """width -> the quality module's Reference of the image the cascade encodes."""
    from imgsvc.pipeline.quality import Reference

    im, source = open_image(data, config.limits)
    plan = plan_variants(source.width, source.height, config.output.sizes, config.output.max_side)
    try:
        [current], _ = _run_steps(im, source, (plan[-1].width, plan[-1].height), config, _untimed)
        out = {}
        for step in reversed(plan):
            if current.size != (step.width, step.height):
                current = downscale(current, (step.width, step.height))
            out[step.width] = Reference(current)
    finally:
        im.close()  # after: an image at its own width is the decoded source itself
    return out


def _bucket(width: int, widths: list[int]) -> int:
    """The largest width of a source counts as 1920 (Dune's 1680, say)."""
    return 1920 if width == max(widths) else width


#: sharp's conversion of one photo: its outputs by width, and the Node process's CPU s.
SharpRun = Callable[[str, list[int]], tuple[dict[int, bytes], float]]


def run(sources: list[tuple[str, bytes]], sharp: SharpRun | None) -> list[Row]:
    labels = [f"fixed {q}" for q in FIXED] + [f"target {t:g}" for t in TARGETS]
    rows = {label: Row(label) for label in labels}
    if sharp is not None:
        rows["sharp q80"] = Row("sharp q80")
    for name, data in sources:
        references = _encoded_images(data, PipelineConfig.from_settings(Settings.load({})))
        widths = sorted(references)
        for label in labels:
            config = PipelineConfig.from_settings(_settings(label))
            cpu = time.process_time()
            variants = convert(data, config).variants
            rows[label].cpu.append(time.process_time() - cpu)
            outputs = {v.width: v.data for v in variants if v.format == "webp"}
            rows[label].qualities += [v.quality for v in variants]
            _score(rows[label], outputs, references, widths)
        if sharp is not None:
            outputs, cpu_s = sharp(name, widths)
            rows["sharp q80"].cpu.append(cpu_s)  # the Node process's own CPU time
            _score(rows["sharp q80"], outputs, references, widths)
        _least_cpu(data, [rows["fixed 80"], rows[f"target {BAR_TARGET:g}"]])
    return list(rows.values())


def _least_cpu(data: bytes, rows: list[Row]) -> None:
    """The bar's CPU pass for one photo: the rows' settings converted in turn."""
    configs = [PipelineConfig.from_settings(_settings(r.label)) for r in rows]
    least = [math.inf] * len(rows)
    for _ in range(CPU_ROUNDS):
        for i, config in enumerate(configs):
            cpu = time.process_time()
            convert(data, config)
            least[i] = min(least[i], time.process_time() - cpu)
    for row, cpu_s in zip(rows, least, strict=True):
        row.least_cpu.append(cpu_s)


def _score(row: Row, outputs: dict[int, bytes], refs: dict[int, Any], widths: list[int]) -> None:
    for width, data in outputs.items():
        row.bytes += len(data)
        with Image.open(io.BytesIO(data)) as decoded:
            score = refs[width].score(decoded.convert("RGB"))
        row.scores.setdefault(_bucket(width, widths), []).append(score)


def table(rows: list[Row]) -> str:
    base = next(r for r in rows if r.label == "fixed 80")
    buckets = sorted({b for r in rows for b in r.scores})
    head = " | ".join(f"{b} mean / min" for b in buckets)
    lines = [
        f"| setting | bytes | vs fixed 80 | {head} | CPU s per image | vs fixed 80 | qualities |",
        "| --- " * (6 + len(buckets)) + "|",
    ]
    for r in rows:
        cells = " | ".join(
            f"{statistics.fmean(r.scores[b]):.1f} / {min(r.scores[b]):.1f}" for b in buckets
        )
        cpu = statistics.fmean(r.cpu)
        quals = f"{min(r.qualities)}..{max(r.qualities)}" if r.qualities else "80"
        lines.append(
            f"| {r.label} | {r.bytes:,} | {r.bytes / base.bytes:.3f} | {cells} | "
            f"{cpu:.2f} | {cpu / statistics.fmean(base.cpu):.2f}x | {quals} |"
        )
    return "\n".join(lines)


def verdict(rows: list[Row]) -> dict[str, Any]:
    base = next(r for r in rows if r.label == "fixed 80")
    row = next(r for r in rows if r.label == f"target {BAR_TARGET:g}")
    low = min(min(s) for s in row.scores.values())
    size = row.bytes / base.bytes
    cpu = sum(row.least_cpu) / sum(base.least_cpu)
    return {
        "min_score": round(low, 2),
        "min_score_ok": low >= BAR_MIN_SCORE,
        "bytes_vs_fixed_80": round(size, 3),
        "bytes_ok": size <= BAR_BYTES,
        "cpu_vs_fixed_80": round(cpu, 3),
        "cpu_rounds": CPU_ROUNDS,
        "cpu_ok": cpu <= BAR_CPU,
    }


def _corpus() -> list[tuple[str, bytes]]:
    from .fetch_corpus import corpus_files

    return [(p.name, p.read_bytes()) for p in corpus_files(quick=QUICK)]


def test_quality_target(
    benchmark: Any, request: pytest.FixtureRequest, corpus: dict[str, Source]
) -> None:
    try:
        engine = request.getfixturevalue("sharp")
        paths = {name: s.path for name, s in corpus.items()}

        def sharp(name: str, widths: list[int]) -> tuple[dict[int, bytes], float]:
            outputs = engine.convert(paths[name], tuple(widths))
            return outputs, float(engine.cpu)
    except pytest.skip.Exception:
        sharp = None  # type: ignore[assignment]
    pytest.importorskip("imgsvc.pipeline.quality")
    sources = [(name, s.data) for name, s in corpus.items()]
    benchmark.group = "quality target: the whole table (not a speed figure)"
    rows = benchmark.pedantic(run, args=(sources, sharp), rounds=1, iterations=1)
    print("\n" + table(rows))
    benchmark.extra_info.update(verdict(rows))
    print(verdict(rows))


if __name__ == "__main__":
    result = run(_corpus(), None)
    print(table(result))
    print(verdict(result))
