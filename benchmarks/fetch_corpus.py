"""Fetch the benchmark corpus: real photos from Debian's ``mate-backgrounds`` package.

Why this package: it is reachable from every machine of the project (Debian's
archive is one of the registries we may use), it is versioned, and it holds real
photographs from 1680 to 5640 px wide, JPEG and PNG, some with an EXIF
orientation tag or an sRGB ICC profile: the mix an upload service sees. Images are
cached outside git (``~/.cache/imgsvc-bench/corpus``, or ``$IMGSVC_BENCH_CACHE``)
and never committed.

Run by hand (``python benchmarks/fetch_corpus.py``) or implicitly by the
benchmarks when the cache is empty. Needs ``apt-get`` and ``dpkg`` (Debian).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = "mate-backgrounds"
_ROOT = "usr/share/backgrounds/mate"

#: Photographs (not renders), widest first; the first three are the quick-mode corpus:
#: the largest JPEG (the stage breakdown's subject), a mid-size JPEG, a PNG.
PHOTOS: tuple[str, ...] = (
    "abstract/Elephants_5640x3172.jpg",
    "nature/Wood.jpg",
    "desktop/Ubuntu-Mate-Warm-no-logo.png",
    "abstract/Elephants_3840x2160.jpg",
    "nature/TwoWings.jpg",
    "nature/Garden.jpg",
    "nature/LadyBird.jpg",
    "nature/RainDrops.jpg",
    "nature/Storm.jpg",
    "nature/Dune.jpg",
    "desktop/Ubuntu-Mate-Cold-no-logo.png",
)
QUICK_COUNT = 3


def cache_root() -> Path:
    """The bench cache: corpus, generated 50 MP sources, sharp's node_modules, pip extras."""
    env = os.environ.get("IMGSVC_BENCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "imgsvc-bench"


def corpus_dir() -> Path:
    return cache_root() / "corpus"


def corpus_files(quick: bool = False) -> list[Path]:
    """The cached photos in ``PHOTOS`` order, fetching them first if any is missing."""
    directory = corpus_dir()
    wanted = [directory / Path(name).name for name in PHOTOS]
    if not all(p.is_file() for p in wanted):
        fetch(directory)
    return wanted[:QUICK_COUNT] if quick else wanted


def fetch(directory: Path) -> list[Path]:
    """Download the .deb with apt-get, unpack it with dpkg -x, copy the chosen photos.

    Raises ``RuntimeError`` with the tool's own message when apt-get or dpkg fails
    (no Debian, no network to the archive), so that the benchmarks stop with a reason
    instead of measuring an empty corpus.
    """
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is missing: the corpus comes from Debian's {PACKAGE}")
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="imgsvc-corpus-") as tmp:
        work = Path(tmp)
        # apt-get download drops privileges to _apt, which cannot write a root-owned
        # temp dir; it falls back to an unsandboxed download with a warning.
        os.chmod(work, 0o777)
        try:
            _run(["apt-get", "download", "-q", PACKAGE], work)
        except RuntimeError:
            # a fresh machine has no package lists yet: fetch them once, then retry
            _run(["apt-get", "update", "-qq"], work)
            _run(["apt-get", "download", "-q", PACKAGE], work)
        debs = sorted(work.glob(f"{PACKAGE}_*.deb"))
        if not debs:
            raise RuntimeError(f"apt-get download {PACKAGE} produced no .deb")
        _run(["dpkg", "-x", str(debs[-1]), str(work / "x")], work)
        copied = []
        for name in PHOTOS:
            source = work / "x" / _ROOT / name
            if not source.is_file():
                raise RuntimeError(f"{PACKAGE} no longer ships {name}; update PHOTOS")
            target = directory / source.name
            shutil.copyfile(source, target)
            copied.append(target)
    return copied


#: 50-megapixel sources for the peak-memory probe, upscaled from the corpus (cached):
#: kind -> (corpus photo, size, save arguments). The JPEG keeps the elephants' detail;
#: the PNG is the 3:2 bokeh photo, as a camera export to PNG would be.
LARGE_SOURCES: dict[str, tuple[str, tuple[int, int], dict[str, int]]] = {
    "jpeg": ("Elephants_5640x3172.jpg", (9440, 5310), {"quality": 90}),
    "png": ("Ubuntu-Mate-Warm-no-logo.png", (8660, 5774), {"compress_level": 6}),
}


def large_source(kind: str) -> Path:
    """A ~50 MP JPEG or PNG, made once from the corpus and kept in the cache.

    Upscaled with BICUBIC because no photo in the package is that large; the memory
    a decoder needs depends on the pixel count, not on where the pixels came from.
    """
    from PIL import Image

    name, size, params = LARGE_SOURCES[kind]
    target = (
        cache_root()
        / "generated"
        / f"{Path(name).stem}-{size[0]}x{size[1]}.{'jpg' if kind == 'jpeg' else kind}"
    )
    if not target.is_file():
        source = corpus_dir() / name
        if not source.is_file():
            corpus_files()
        target.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(source) as im:
            big = im.convert("RGB").resize(size, Image.Resampling.BICUBIC)
        partial = target.with_suffix(".partial")
        big.save(partial, kind.upper(), **params)
        partial.replace(target)
    return target


def _run(args: list[str], cwd: Path) -> None:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip() or done.stdout}")


def main() -> None:
    files = corpus_files()
    total = sum(p.stat().st_size for p in files)
    print(f"{len(files)} photos, {total / 1e6:.1f} MB in {corpus_dir()}", file=sys.stderr)
    for kind in LARGE_SOURCES:
        path = large_source(kind)
        print(f"50 MP {kind}: {path} ({path.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
