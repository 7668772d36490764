"""What one run measured, and the markdown table it becomes.

Every figure is kept raw here and turned into ratios only when rendered, always
against engines measured in the same run: on a shared two-core machine an absolute
figure says more about the neighbours than about the code, a ratio much less so.
Nothing here asserts anything about speed; the Issue 5 targets are reported as
met or missed.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ENGINE_ORDER = ("imgsvc", "naive", "sharp", "pyvips")
LABELS = {
    "imgsvc": "imgsvc pipeline",
    "naive": "naive Pillow (baseline)",
    "sharp": "sharp",
    "pyvips": "pyvips thumbnail",
}


@dataclass(slots=True)
class Bulk:
    engine: str
    config: str
    seconds: float
    images: int
    megapixels: float
    bytes: int
    cpu: float = 0.0  # CPU seconds the engine spent (all its processes and threads)


@dataclass(slots=True)
class Memory:
    engine: str
    kind: str
    peak_mb: float
    seconds: float


@dataclass(slots=True)
class Stage:
    name: str
    calls: int
    busy: float  # seconds summed over calls (threads overlap)
    wall: float  # seconds of the union of the calls' intervals
    cpu: float  # CPU seconds of the calling threads


@dataclass(slots=True)
class StageRun:
    subject: str
    wall: float
    stages: list[Stage]
    cpu: float  # CPU seconds of the whole process (all threads) during the run


@dataclass(slots=True)
class Http:
    storage: str
    clients: int
    requests: int
    errors: int
    seconds: float
    p50: float
    p99: float
    peak_rss_mb: float
    peak_pss_mb: float
    layout: str
    slowdown_p50: float | None = None
    slowdown_p99: float | None = None
    server_cpu: float = 0.0  # CPU seconds of the gunicorn tree during the run
    storage_cpu: float = 0.0  # CPU seconds of the storage server (SeaweedFS) meanwhile


@dataclass(slots=True)
class Results:
    """Filled by the benchmarks as they run; rendered by the terminal summary hook."""

    quick: bool = False
    rounds: dict[str, int] = field(default_factory=dict)  # section -> timed rounds
    #: section -> [wall seconds, CPU seconds other processes used meanwhile]
    load: dict[str, list[float]] = field(default_factory=dict)
    machine: dict[str, str] = field(default_factory=dict)
    tools: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    corpus: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> size, bytes
    #: engine -> image -> seconds of each round (wall, and the engine's CPU time)
    latency: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    latency_cpu: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    bulk: list[Bulk] = field(default_factory=list)
    outputs: dict[str, dict[str, dict[int, int]]] = field(default_factory=dict)  # bytes
    quality: dict[str, dict[str, float]] = field(default_factory=dict)  # SSIMULACRA2 @1280
    #: engine -> image -> width -> SSIMULACRA2
    quality_by_width: dict[str, dict[str, dict[int, float]]] = field(default_factory=dict)
    memory: list[Memory] = field(default_factory=list)
    stages: list[StageRun] = field(default_factory=list)
    http: list[Http] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def empty(self) -> bool:
        return not (self.latency or self.bulk or self.quality or self.memory or self.http)

    # -- derived figures --------------------------------------------------------------

    def best_latency(self, engine: str, image: str) -> float | None:
        samples = self.latency.get(engine, {}).get(image)
        return min(samples) if samples else None

    def latency_total(self, engine: str) -> float | None:
        """One upload at a time over the corpus: the sum of each image's best time.

        Only images every measured engine converted count, so totals compare.
        """
        common = self._common(self.latency)
        per = self.latency.get(engine)
        if not per or not common:
            return None
        return sum(min(per[i]) for i in common)

    def latency_cpu_total(self, engine: str) -> float | None:
        """CPU time of one upload at a time over the corpus (each image's least)."""
        common = self._common(self.latency_cpu)
        per = self.latency_cpu.get(engine)
        if not per or not common:
            return None
        return sum(min(per[i]) for i in common)

    def latency_geomean_ratio(self, engine: str, against: str) -> float | None:
        a, b = self.latency.get(engine), self.latency.get(against)
        if not a or not b:
            return None
        ratios = [min(a[i]) / min(b[i]) for i in a if i in b]
        return math.exp(statistics.fmean(math.log(r) for r in ratios)) if ratios else None

    def bulk_by_config(self) -> dict[tuple[str, str], Bulk]:
        """The best round of each (engine, configuration)."""
        best: dict[tuple[str, str], Bulk] = {}
        for b in self.bulk:
            key = (b.engine, b.config)
            if key not in best or b.seconds < best[key].seconds:
                best[key] = b
        return best

    def best_bulk(self, engine: str) -> Bulk | None:
        mine = [b for (e, _), b in self.bulk_by_config().items() if e == engine]
        return min(mine, key=lambda b: b.seconds) if mine else None

    def best_http(self) -> list[Http]:
        """The fastest round of each (storage, layout, clients)."""
        best: dict[tuple[str, str, int], Http] = {}
        for h in self.http:
            key = (h.storage, h.layout, h.clients)
            rate = h.requests / h.seconds
            if key not in best or rate > best[key].requests / best[key].seconds:
                best[key] = h
        return list(best.values())

    def output_bytes(self, engine: str, width: int | None = None) -> int | None:
        common = self._common(self.outputs)
        per = self.outputs.get(engine)
        if not per or not common:
            return None
        return sum(
            n for image in common for w, n in per[image].items() if width is None or w == width
        )

    def mean_quality(self, engine: str) -> float | None:
        common = self._common(self.quality)
        per = self.quality.get(engine)
        if not per or not common:
            return None
        return statistics.fmean(per[i] for i in common)

    def memory_of(self, engine: str, kind: str) -> float | None:
        found = [m.peak_mb for m in self.memory if m.engine == engine and m.kind == kind]
        return found[0] if found else None

    @staticmethod
    def _common(table: dict[str, dict[str, Any]]) -> list[str]:
        sets = [set(v) for v in table.values() if v]
        if not sets:
            return []
        common = set.intersection(*sets)
        return sorted(common)

    # -- output -----------------------------------------------------------------------

    def write(self, directory: Path = RESULTS_DIR) -> Path:
        """Write latest.md (committed) and latest.json (ignored by git); return the .md.

        A quick run writes quick.md and quick.json instead (both ignored by git): three
        photos and one round must not replace the figures of record.
        """
        directory.mkdir(parents=True, exist_ok=True)
        stem = "quick" if self.quick else "latest"
        (directory / f"{stem}.json").write_text(json.dumps(asdict(self), indent=1, default=str))
        path = directory / f"{stem}.md"
        path.write_text(render(self))
        return path


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def _num(value: float | None, fmt: str, unit: str = "") -> str:
    return "-" if value is None else f"{value:{fmt}}{unit}"


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**met**" if ok else "**missed**")


def _commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=RESULTS_DIR.parent,
            check=False,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "imgsvc", "config"],
            capture_output=True,
            text=True,
            cwd=RESULTS_DIR.parent,
            check=False,
        )
    except OSError:
        return "unknown"
    return done.stdout.strip() + (" (imgsvc/ modified)" if dirty.stdout.strip() else "")


def render(r: Results) -> str:
    """The whole report as markdown: targets first, then the figures behind them."""
    out: list[str] = []
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    mode = "quick (IMGSVC_BENCH_QUICK=1)" if r.quick else "full"
    megapixels = sum(c["megapixels"] for c in r.corpus.values())
    megabytes = sum(c["bytes"] for c in r.corpus.values()) / 1e6
    rounds = ", ".join(f"{k} {v}" for k, v in r.rounds.items()) or "-"
    out += [
        "# imgsvc benchmarks: latest run",
        "",
        f"Run {when}, commit {_commit()}, {mode} mode, timed rounds: {rounds}. "
        f"Corpus: {len(r.corpus)} photos from Debian's mate-backgrounds, "
        f"{megapixels:.0f} MP, {megabytes:.1f} MB. Made by `make bench` (benchmarks/).",
        "",
        "Every figure comes from this one run; ratios compare engines measured side by "
        "side (`xnaive`: against the naive Pillow baseline, `xsharp`: against sharp). "
        "Times are the best of the rounds, interleaved across engines: on a shared machine "
        "noise only adds. Lower is better for time, bytes and memory; higher for "
        "SSIMULACRA2.",
        "",
    ]
    out += _load(r)
    out += _targets(r)
    out += _side_by_side(r)
    out += _per_image(r)
    out += _stages(r)
    out += _http(r)
    out += ["## Machine", "", "| | |", "| --- | --- |"]
    out += [f"| {k} | {v} |" for k, v in (r.machine | r.tools).items()]
    out.append("")
    if r.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in r.notes] + [""]
    return "\n".join(out)


def _load(r: Results) -> list[str]:
    if not r.load:
        return []
    parts = []
    for section, (wall, foreign) in r.load.items():
        share = foreign / (wall * (os.cpu_count() or 1)) if wall else 0.0
        parts.append(f"{section} {share:.0%}")
    return [
        "Other processes' share of the machine's CPU while each section ran (their "
        "load slows every engine alike, but widens the spread): " + ", ".join(parts) + ".",
        "",
    ]


def _targets(r: Results) -> list[str]:
    rows = [
        "## Issue 5 targets",
        "",
        "| target | measured | ratio | verdict |",
        "| --- | --- | --- | --- |",
    ]
    bi, bs = r.best_bulk("imgsvc"), r.best_bulk("sharp")
    if bi and bs:
        ratio = bi.seconds / bs.seconds
        rows.append(
            f"| bulk wall time <= 0.5x sharp's | imgsvc {bi.seconds:.2f} s ({bi.config}) vs "
            f"sharp {bs.seconds:.2f} s; CPU {bi.cpu:.2f} s vs {bs.cpu:.2f} s "
            f"({_ratio(bi.cpu, bs.cpu)}) | {ratio:.2f}x | {_verdict(ratio <= 0.5)} |"
        )
    else:
        rows.append("| bulk wall time <= 0.5x sharp's | - | - | not measured |")
    li, ls = r.latency_total("imgsvc"), r.latency_total("sharp")
    if li and ls:
        geo = r.latency_geomean_ratio("imgsvc", "sharp")
        rows.append(
            f"| one upload's latency <= 0.75x sharp's | imgsvc {li * 1000:.0f} ms vs sharp "
            f"{ls * 1000:.0f} ms (corpus, one at a time); per-image geomean "
            f"{_num(geo, '.2f', 'x')}; CPU "
            f"{_ratio(r.latency_cpu_total('imgsvc'), r.latency_cpu_total('sharp'))} | "
            f"{li / ls:.2f}x | {_verdict(li / ls <= 0.75)} |"
        )
    else:
        rows.append("| one upload's latency <= 0.75x sharp's | - | - | not measured |")
    qi, qs = r.mean_quality("imgsvc"), r.mean_quality("sharp")
    if qi is not None and qs is not None:
        rows.append(
            f"| mean SSIMULACRA2 at 1280 >= sharp's | imgsvc {qi:.2f} vs sharp {qs:.2f} | "
            f"{qi - qs:+.2f} | {_verdict(qi >= qs)} |"
        )
    else:
        rows.append("| mean SSIMULACRA2 at 1280 >= sharp's | - | - | not measured |")
    oi, os_ = r.output_bytes("imgsvc"), r.output_bytes("sharp")
    if oi and os_:
        rows.append(
            f"| total bytes <= 1.02x sharp's | imgsvc {oi / 1e6:.3f} MB vs sharp "
            f"{os_ / 1e6:.3f} MB (all widths) | {oi / os_:.3f}x | {_verdict(oi / os_ <= 1.02)} |"
        )
    else:
        rows.append("| total bytes <= 1.02x sharp's | - | - | not measured |")
    own = r.best_bulk("imgsvc")
    for h in sorted(r.best_http(), key=lambda h: (h.storage, h.layout)):
        if h.clients != 8:
            continue
        if own:
            rate, base = h.requests / h.seconds, own.images / own.seconds
            rows.append(
                f"| HTTP, 8 clients, {h.storage} storage: >= 90% of the pipeline's throughput | "
                f"{rate:.2f} vs {base:.2f} images/s | {rate / base:.2f}x | "
                f"{_verdict(rate / base >= 0.9)} |"
            )
        rows.append(
            f"| HTTP, 8 clients, {h.storage} storage: p99 <= 3x median | "
            f"p99 {h.p99 * 1000:.0f} ms, p50 {h.p50 * 1000:.0f} ms ({h.requests} requests) | "
            f"{h.p99 / h.p50:.2f}x | "
            f"{_verdict(h.p99 / h.p50 <= 3)} |"
        )
    if not any(h.clients == 8 for h in r.http):
        rows.append("| HTTP with 8 clients | - | - | not measured |")
    for kind, limit in (("jpeg", 250), ("png", 500)):
        mb = r.memory_of("imgsvc", kind)
        sharp = r.memory_of("sharp", kind)
        rows.append(
            f"| peak RSS < {limit} MB, 50 MP {kind.upper()} | imgsvc {_num(mb, '.0f', ' MB')} "
            f"(sharp {_num(sharp, '.0f', ' MB')}) | {_num(mb / limit if mb else None, '.2f', 'x')}"
            f" of the limit | {_verdict(None if mb is None else mb < limit)} |"
        )
    return [*rows, ""]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _side_by_side(r: Results) -> list[str]:
    rows = [
        "## Side by side",
        "",
        "Speed. One upload: the corpus converted one image at a time (sum of per-image best "
        "times). Bulk: the whole corpus at each engine's best measured concurrency. CPU: "
        "the seconds of CPU the engine itself spent (all its threads and processes), "
        "which the neighbours' load barely moves: a cross-check of the wall-time ratios.",
        "",
        "| engine | one upload | xnaive | xsharp | its CPU | xsharp | bulk | xnaive | xsharp "
        "| its CPU | xsharp |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    engines = [e for e in ENGINE_ORDER if _measured(r, e)]
    nb, sb = r.best_bulk("naive"), r.best_bulk("sharp")
    for e in engines:
        lat, cpu = r.latency_total(e), r.latency_cpu_total(e)
        bulk = r.best_bulk(e)
        bs = bulk.seconds if bulk else None
        rows.append(
            _row(
                [
                    LABELS[e],
                    _num(lat * 1000 if lat else None, ".0f", " ms"),
                    _ratio(lat, r.latency_total("naive")),
                    _ratio(lat, r.latency_total("sharp")),
                    _num(cpu * 1000 if cpu else None, ".0f", " ms"),
                    _ratio(cpu, r.latency_cpu_total("sharp")),
                    f"{bs:.2f} s ({bulk.config})" if bulk else "-",
                    _ratio(bs, nb.seconds if nb else None),
                    _ratio(bs, sb.seconds if sb else None),
                    _num(bulk.cpu if bulk else None, ".2f", " s"),
                    _ratio(bulk.cpu if bulk else None, sb.cpu if sb else None),
                ]
            )
        )
    extra = [b for b in r.bulk_by_config().values() if b is not r.best_bulk(b.engine)]
    if extra:
        rows += ["", "Other bulk configurations measured:", ""]
        for b in sorted(extra, key=lambda b: (b.engine, b.seconds)):
            rows.append(
                f"- {LABELS[b.engine]}, {b.config}: {b.seconds:.2f} s, CPU {b.cpu:.2f} s "
                f"({_ratio(b.seconds, nb.seconds if nb else None)} naive)"
            )
    rows += [
        "",
        "Output and memory. Bytes: every width of the corpus. SSIMULACRA2: mean over the "
        "corpus of the 1280 px output against the LANCZOS reference. Peak RSS: a fresh "
        "process converting one 50 MP source.",
        "",
        "| engine | bytes | xnaive | xsharp | SSIMULACRA2 @1280 | bytes @1280 | "
        "RSS 50 MP JPEG | xnaive | xsharp | RSS 50 MP PNG | xnaive | xsharp |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for e in engines:
        ob, b1280 = r.output_bytes(e), r.output_bytes(e, 1280)
        mj, mp = r.memory_of(e, "jpeg"), r.memory_of(e, "png")
        rows.append(
            _row(
                [
                    LABELS[e],
                    _num(ob / 1e6 if ob else None, ".3f", " MB"),
                    _ratio(ob, r.output_bytes("naive")),
                    _ratio(ob, r.output_bytes("sharp")),
                    _num(r.mean_quality(e), ".2f"),
                    _num(b1280 / 1e3 if b1280 else None, ".0f", " kB"),
                    _num(mj, ".0f", " MB"),
                    _ratio(mj, r.memory_of("naive", "jpeg")),
                    _ratio(mj, r.memory_of("sharp", "jpeg")),
                    _num(mp, ".0f", " MB"),
                    _ratio(mp, r.memory_of("naive", "png")),
                    _ratio(mp, r.memory_of("sharp", "png")),
                ]
            )
        )
    rows += _per_width(r, engines)
    idle = [m for m in r.memory if m.engine == "idle"]
    if idle:
        floor = ", ".join(f"{m.kind.upper()} {m.peak_mb:.0f} MB" for m in idle)
        rows += ["", f"A Python process that imports the pipeline and reads the file: {floor}."]
    return [*rows, ""]


def _per_width(r: Results, engines: list[str]) -> list[str]:
    """Mean SSIMULACRA2 and total bytes at each width, over the photos every engine made."""
    scored = [e for e in engines if r.quality_by_width.get(e)]
    if not scored:
        return []
    images = set.intersection(*(set(r.quality_by_width[e]) for e in scored))
    widths = sorted({w for e in scored for i in images for w in r.quality_by_width[e][i]})
    rows = [
        "",
        "Per width: mean SSIMULACRA2 / total kB over the photos that have the width "
        "(1680 is the one photo narrower than 1920).",
        "",
        "| engine | " + " | ".join(f"{w} px" for w in widths) + " |",
        "| --- |" + " ---: |" * len(widths),
    ]
    for e in scored:
        cells = []
        for w in widths:
            have = [i for i in sorted(images) if w in r.quality_by_width[e][i]]
            mean = statistics.fmean(r.quality_by_width[e][i][w] for i in have) if have else None
            kb = sum(r.outputs.get(e, {}).get(i, {}).get(w, 0) for i in have) / 1e3
            cells.append(f"{_num(mean, '.2f')} / {kb:.0f}")
        rows.append(_row([LABELS[e], *cells]))
    return rows


def _measured(r: Results, engine: str) -> bool:
    return bool(
        r.latency.get(engine)
        or r.outputs.get(engine)
        or r.best_bulk(engine)
        or r.quality.get(engine)
        or r.memory_of(engine, "jpeg")
    )


def _per_image(r: Results) -> list[str]:
    if not r.latency:
        return []
    engines = [e for e in ENGINE_ORDER if r.latency.get(e)]
    head = "| image | size | " + " | ".join(f"{e} ms" for e in engines)
    head += " | imgsvc xnaive | imgsvc xsharp | SSIMULACRA2 imgsvc / sharp |"
    rows = [
        "## Per image: one upload's latency (best of the rounds)",
        "",
        head,
        "|" + " --- |" * (len(engines) + 5),
    ]
    for image, info in r.corpus.items():
        times = [r.best_latency(e, image) for e in engines]
        mine = r.best_latency("imgsvc", image)
        qi = r.quality.get("imgsvc", {}).get(image)
        qs = r.quality.get("sharp", {}).get(image)
        rows.append(
            f"| {image} | {info['width']}x{info['height']} {info['format']} | "
            + " | ".join(_num(t * 1000 if t else None, ".0f") for t in times)
            + f" | {_ratio(mine, r.best_latency('naive', image))}"
            + f" | {_ratio(mine, r.best_latency('sharp', image))}"
            + f" | {_num(qi, '.1f')} / {_num(qs, '.1f')} |"
        )
    return [*rows, ""]


def _stages(r: Results) -> list[str]:
    if not r.stages:
        return []
    rows = [
        "## Stage breakdown",
        "",
        "Pillow's calls timed from outside (imgsvc unchanged): `busy` adds every call's "
        "time, `wall` is the union of their intervals, so stages that run in threads "
        "(encode, store) have busy > wall; `CPU` is the calling threads' CPU time, "
        "which the neighbours' load does not inflate. `untraced` is wall time no traced "
        "call covered (Python glue, header parsing, waiting on a future). Best round.",
        "",
    ]
    for run in r.stages:
        rows += [
            f"**{run.subject}**: {run.wall * 1000:.0f} ms wall, {run.cpu * 1000:.0f} ms CPU",
            "",
            "| stage | calls | busy ms | wall ms | CPU ms | share of wall | share of CPU |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for s in run.stages:
            rows.append(
                f"| {s.name} | {s.calls} | {s.busy * 1000:.0f} | {s.wall * 1000:.0f} | "
                f"{s.cpu * 1000:.0f} | {s.wall / run.wall:.0%} | "
                f"{s.cpu / run.cpu if run.cpu else 0:.0%} |"
            )
        rows.append("")
    return rows


def _pipeline_cpu(r: Results) -> str:
    own = r.best_bulk("imgsvc")
    return f"{own.cpu / own.images * 1000:.0f} ms" if own and own.cpu else "not measured"


def _http(r: Results) -> list[str]:
    if not r.http:
        return []
    own = r.best_bulk("imgsvc")
    rows = [
        "## HTTP under load",
        "",
        "`imgsvc serve` (gunicorn, the repo's config) on loopback; each client uploads "
        "corpus photos one after another (multipart POST /v1/images); 8 clients go "
        "through the corpus several times, best of the rounds. Slowdown: an upload's "
        "latency over the same photo's latency with one client (the queueing, without "
        "the photos' own spread). CPU per image: the gunicorn tree's, and the storage "
        "server's (SeaweedFS runs on the same two cores here; a deployment's S3 does "
        "not), to compare with the pipeline's own CPU per image in bulk "
        f"({_pipeline_cpu(r)}). Memory: the gunicorn process tree, sampled every "
        "50 ms (RSS sums count shared pages once per process; PSS does not).",
        "",
        "| storage | layout | clients | requests | errors | images/s | x pipeline bulk "
        "| p50 ms | p99 ms | p99/p50 | slowdown p50 / p99 | CPU per image: imgsvc + storage "
        "| peak RSS sum | peak PSS sum |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: |",
    ]
    for h in sorted(r.best_http(), key=lambda h: (h.storage, h.layout, h.clients)):
        rate = h.requests / h.seconds
        base = own.images / own.seconds if own else None
        rows.append(
            f"| {h.storage} | {h.layout} | {h.clients} | {h.requests} | {h.errors} | "
            f"{rate:.2f} | {_ratio(rate, base)} | {h.p50 * 1000:.0f} | "
            f"{h.p99 * 1000:.0f} | {h.p99 / h.p50:.2f} | {_num(h.slowdown_p50, '.2f', 'x')} / "
            f"{_num(h.slowdown_p99, '.2f', 'x')} | {h.server_cpu / h.requests * 1000:.0f} + "
            f"{h.storage_cpu / h.requests * 1000:.0f} ms | {h.peak_rss_mb:.0f} MB | "
            f"{h.peak_pss_mb:.0f} MB |"
        )
    return [*rows, ""]
