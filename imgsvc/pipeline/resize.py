"""Resizing for the pipeline: LANCZOS throughout, the first pass split across cores.

Pure functions on Pillow images. The first resize (source to the largest width) is
the costly one and runs alone, so it is split in bands; each smaller width is then
derived from the next larger one (``downscale``), which is cheap.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

from .frame import Frame

#: One thread per core for the encodes and the first resize: each job keeps a core
#: busy (Pillow releases the GIL), so more threads only make the widest encode,
#: which bounds an upload's latency, share its core.
THREADS = max(1, min(4, os.cpu_count() or 1))
#: Box-reduce before LANCZOS only past this ratio; Pillow's docs measure >= 3 as
#: indistinguishable from a full LANCZOS pass.
REDUCING_GAP = 3.0


def first_pass(frame: Frame) -> Frame:
    """The step: the frame at the largest planned size (as stored, not yet upright)."""
    return frame.with_image(resize_first(frame.image, frame.target))


def resize_first(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``im.resize(size, LANCZOS, reducing_gap=3)``, the LANCZOS pass split across cores.

    The first resize is the only step of a still that runs alone (nothing to encode
    yet), so it runs in horizontal bands, one per core. Pillow's resample reads past
    a band's box for its kernel, so the bands join without a seam: the result is the
    single call's, byte for byte on most sizes, else within one level where the float
    rounding of a band's box moves a kernel weight (``tests/pipeline/test_resize.py``).
    Returns ``im`` itself when it already has ``size``.
    """
    if im.size == size:
        return im
    if im.mode in ("LA", "RGBA"):  # not premultiplied: let Pillow do it (it never is here)
        return im.resize(size, Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
    factor = (
        max(1, int(im.width / size[0] / REDUCING_GAP)),
        max(1, int(im.height / size[1] / REDUCING_GAP)),
    )
    box = (0.0, 0.0, float(im.width), float(im.height))
    if factor != (1, 1):  # what resize(reducing_gap=...) does first, on the whole image
        im = im.reduce(factor)
        box = (0.0, 0.0, box[2] / factor[0], box[3] / factor[1])
    bands = min(THREADS, size[1] // 64)
    if bands < 2:
        return im.resize(size, Image.Resampling.LANCZOS, box=box)
    width, height = size
    edges = [round(height * i / bands) for i in range(bands + 1)]
    scale = box[3] / height

    def band(i: int) -> Image.Image:
        top, bottom = edges[i], edges[i + 1]
        source = (box[0], top * scale, box[2], bottom * scale)
        return im.resize((width, bottom - top), Image.Resampling.LANCZOS, box=source)

    with ThreadPoolExecutor(max_workers=bands) as pool:
        parts = list(pool.map(band, range(bands)))
    out = Image.new(im.mode, size)
    for top, part in zip(edges, parts, strict=False):
        out.paste(part, (0, top))
    return out


def downscale(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    """One LANCZOS step to a smaller width; straight alpha is premultiplied for it,
    so that transparent pixels' colours do not bleed into the edges."""
    if im.mode == "RGBA":
        return im.convert("RGBa").resize(size, Image.Resampling.LANCZOS).convert("RGBA")
    return im.resize(size, Image.Resampling.LANCZOS)


def cut(
    im: Image.Image, box: tuple[float, float, float, float], size: tuple[int, int]
) -> Image.Image:
    """The region ``box`` (left, top, right, bottom, in pixels of ``im``, fractions
    allowed) at ``size``, in one LANCZOS pass that reads past the box for its kernel,
    so a crop's edge is as sharp as the middle; straight alpha premultiplied for it,
    as in ``downscale``."""
    if im.mode == "RGBA":
        premultiplied = im.convert("RGBa")
        return premultiplied.resize(size, Image.Resampling.LANCZOS, box=box).convert("RGBA")
    return im.resize(size, Image.Resampling.LANCZOS, box=box)
