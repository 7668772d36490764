"""What flows through the steps: one frame (a still is an animation of one), and the
step record itself.

Every step is a small function ``Frame -> Frame`` that starts with a guard returning
the frame untouched when it has nothing to do (imgproxy's pipeline does the same), so
the one list in ``imgsvc.pipeline.STEPS`` serves stills and every frame of an
animation alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from PIL import Image


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What the header says about a source; width and height are upright."""

    format: str
    ext: str
    content_type: str
    width: int
    height: int
    frames: int
    orientation: int
    bytes: int
    sha256: str  # of the source bytes: tells a client's retry from a new photo

    @property
    def animated(self) -> bool:
        return self.frames > 1


@dataclass(frozen=True, slots=True)
class Frame:
    """``image`` on its way; ``target`` is the largest planned size *as stored*
    (before the orientation turns it), ``icc`` the source's embedded profile."""

    image: Image.Image
    source: SourceInfo
    target: tuple[int, int]
    icc: bytes | None
    still: bool

    def with_image(self, image: Image.Image) -> Frame:
        return self if image is self.image else replace(self, image=image)


@dataclass(frozen=True, slots=True)
class Step:
    """A named step; ``stage`` is the metrics label it is timed under."""

    name: str
    stage: str
    run: Callable[[Frame], Frame]
