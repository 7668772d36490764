"""EXIF orientation: the pipeline works on the image as stored and turns it upright
last, after the resize, where the transpose touches the fewest pixels."""

from __future__ import annotations

from PIL import Image

from .frame import Frame

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
#: Orientations that swap width and height.
SWAPS_SIDES = frozenset({5, 6, 7, 8})


def upright(im: Image.Image, orientation: int) -> Image.Image:
    """``im`` turned as EXIF ``orientation`` (1-8) says; itself for 1 or a bad value."""
    method = _TRANSPOSE.get(orientation)
    return im.transpose(method) if method is not None else im


def as_stored(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """An upright ``(width, height)`` as the pixels are stored, before turning."""
    return (size[1], size[0]) if orientation in SWAPS_SIDES else size


def orient_step(frame: Frame) -> Frame:
    """The step: the frame upright."""
    if frame.source.orientation == 1:
        return frame
    return frame.with_image(upright(frame.image, frame.source.orientation))
