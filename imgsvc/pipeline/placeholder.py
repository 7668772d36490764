"""A tiny preview and the dominant colour, shown while the real image loads.

Computed from the smallest conversion (already upright, sRGB and small), so it
costs well under a millisecond and never decodes the source again.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

from PIL import Image

PREVIEW_SIDE = 16
PREVIEW_QUALITY = 40


@dataclass(frozen=True, slots=True)
class Placeholder:
    data_uri: str
    color: str

    def to_dict(self) -> dict[str, str]:
        return {"data_uri": self.data_uri, "color": self.color}


def make_placeholder(im: Image.Image) -> Placeholder:
    """A <= 16 px WebP data URI (a few hundred bytes) and the mean colour as ``#rrggbb``.

    Alpha is kept and weighs the mean: a logo on transparency previews as the logo,
    not on the black that lies under its transparent pixels.
    """
    base = im.convert("RGBA") if "A" in im.mode or "transparency" in im.info else im.convert("RGB")
    tiny = base.copy()
    tiny.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.BOX)  # premultiplies RGBA
    buf = io.BytesIO()
    tiny.save(buf, "WEBP", quality=PREVIEW_QUALITY, method=6)
    mean = base.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    r, g, b = mean[:3]  # type: ignore[index]
    uri = "data:image/webp;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return Placeholder(uri, f"#{r:02x}{g:02x}{b:02x}")
