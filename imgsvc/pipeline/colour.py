"""Colour: whatever the source's profile, outputs are 8-bit sRGB (with alpha if any).

Outputs carry no ICC profile, so browsers read them as sRGB; converting here is
what keeps a Display P3 or Adobe RGB photo from looking washed out, and a CMYK
one from looking inverted or garish.
"""

from __future__ import annotations

import io

from PIL import Image, ImageCms

from .frame import Frame

_SRGB = ImageCms.createProfile("sRGB")
_INTENT = ImageCms.Intent.RELATIVE_COLORIMETRIC
_FLAGS = ImageCms.Flags.BLACKPOINTCOMPENSATION


def to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """Return ``im`` as RGB or RGBA in sRGB.

    ``icc`` is the source's embedded profile. A profile that is already sRGB, or
    that LittleCMS cannot parse, leaves the values as they are (a broken profile
    must not sink an upload); alpha passes through untouched.
    """
    alpha = im.getchannel("A") if im.mode in ("RGBA", "LA") else None
    colour = im.convert("RGB") if alpha is not None else im
    if icc and not _is_srgb(icc):
        colour = _transform(colour, icc) or colour
    if colour.mode != "RGB":
        colour = colour.convert("RGB")
    if alpha is not None:
        colour.putalpha(alpha)
    return colour


def to_srgb_step(frame: Frame) -> Frame:
    """The step: the frame in sRGB (a no-op in effect for untagged RGB)."""
    return frame.with_image(to_srgb(frame.image, frame.icc))


def _is_srgb(icc: bytes) -> bool:
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = ImageCms.getProfileDescription(profile)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return True  # unreadable: treated as untagged, i.e. sRGB
    return "srgb" in description.lower().replace(" ", "")


def _transform(im: Image.Image, icc: bytes) -> Image.Image | None:
    if im.mode not in ("RGB", "CMYK", "L"):
        return None
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        out = ImageCms.profileToProfile(
            im, source, _SRGB, renderingIntent=_INTENT, outputMode="RGB", flags=_FLAGS
        )
    except (ImageCms.PyCMSError, OSError, ValueError):
        return None
    return out
