"""Sources the pipeline's encoder tests and golden digests share (beside
``tests/support/images.py``, which holds the factories of the whole suite)."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFilter

from ..support import images

SQUARE = (200, 30, 40, 255)
#: The moving square's box (left, top, right, bottom) in each frame of ``moving_square``.
SQUARE_BOXES = [(50 + 150 * i, 200, 150 + 150 * i, 300) for i in range(3)]


def moving_square(size: tuple[int, int] = (500, 500)) -> bytes:
    """A 3-frame APNG, transparent but for an opaque square that moves right.

    Hard-edged on purpose: every rectangle libwebp's animation encoder keeps is fully
    opaque at the source's own width, which is what lost the alpha (issue 11).
    """
    frames = []
    for box in SQUARE_BOXES:
        frame = Image.new("RGBA", size, (0, 0, 0, 0))
        frame.paste(SQUARE, box)
        frames.append(frame)
    buf = io.BytesIO()
    frames[0].save(buf, "PNG", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def photo(size: tuple[int, int] = (2560, 1440)) -> bytes:
    """A JPEG with texture as well as smooth areas, so that each encoder takes long
    enough at every width for two of them to overlap in the cascade's threads."""
    im = images.gradient(size)
    draw = ImageDraw.Draw(im)
    for i in range(0, size[0], 37):
        draw.line((i, 0, size[0] - i, size[1]), fill=(i % 256, 90, 200 - i % 200), width=3)
    noise = Image.effect_noise(size, 40).convert("RGB")
    im = Image.blend(im, noise, 0.25).filter(ImageFilter.SMOOTH)
    return images.encode(im, "JPEG", quality=90)
