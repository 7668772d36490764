"""The conversion pipeline: bytes in, encoded variants out.

**The rule of this folder: pure.** Nothing here imports Flask, boto3 or botocore,
opens a file or a socket, or reads ``Settings``: ``convert()`` takes the bytes and a
frozen ``PipelineConfig`` and returns the encoded variants. Storage, HTTP and jobs
live in their own rooms and call in. ``tests/pipeline/test_purity.py`` imports this
package in a fresh interpreter and proves the rule.

The data flows in this order::

    receive   format from the bytes, every limit from the header (receive.py)
    plan      which widths: the no-upscale rule (plan.py)
    STEPS     for a still, and for every frame of an animation:
                draft -> load -> plain_cmyk -> working_mode      (stage "decode")
                resize -> unpremultiply -> to_srgb -> orient     (stage "resize")
    encode    each smaller width from the next larger, every format (encode.py)
    placeholder  a tiny preview from the smallest conversion (placeholder.py)

Each step is a small function that returns the frame untouched when it has nothing
to do, so one list serves stills and animations (see ``frame.py``). A still's steps
are timed under their stage labels; an animation's frames are decoded and resized
one by one, all under ``decode``, as before the steps were a list.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from operator import attrgetter

from PIL import Image

from ..errors import ImageRefused, ImgsvcError, InvalidImage
from . import colour, decode, orient, resize
from .config import Output, PipelineConfig
from .encode import Animation, EncodedVariant, cascade
from .frame import Frame, Step
from .placeholder import Placeholder, make_placeholder
from .plan import PlannedVariant, plan_variants
from .receive import SourceInfo, open_image
from .rights import Credit, read_credit
from .version import PIPELINE_VERSION

__all__ = [
    "PIPELINE_VERSION",
    "STEPS",
    "Conversion",
    "EncodedVariant",
    "Output",
    "PipelineConfig",
    "SourceInfo",
    "convert",
]

#: The steps every frame goes through, in order.
STEPS: tuple[Step, ...] = (
    Step("draft", "decode", decode.draft),
    Step("load", "decode", decode.load),
    Step("plain_cmyk", "decode", decode.plain_cmyk),
    Step("working_mode", "decode", decode.working_mode),
    Step("resize", "resize", resize.first_pass),
    Step("unpremultiply", "resize", decode.unpremultiply),
    Step("to_srgb", "resize", colour.to_srgb_step),
    Step("orient", "resize", orient.orient_step),
)


@dataclass(frozen=True, slots=True)
class Conversion:
    source: SourceInfo
    variants: list[EncodedVariant]
    placeholder: Placeholder
    #: Who made the picture and who owns it, from the source's IPTC IIM and XMP.
    credit: Credit = field(default_factory=Credit)


#: Times a named stage (``decode``, ``resize``, ``encode``) as a ``with`` block; the
#: service passes its metrics' timer, the pipeline itself knows nothing of metrics.
StageTimer = Callable[[str], AbstractContextManager[None]]


@contextmanager
def _untimed(_stage: str) -> Iterator[None]:
    yield


def convert(data: bytes, config: PipelineConfig, stage: StageTimer = _untimed) -> Conversion:
    """Convert one source into every planned width and configured format.

    Raises the receiver's errors for refused input (``UploadTooLarge``,
    ``UnsupportedFormat``, ``InvalidImage``, ``ImageRefused``) and ``InvalidImage``
    when the pixels themselves turn out to be truncated or corrupt.
    """
    im, source = open_image(data, config.limits)
    plan = plan_variants(source.width, source.height, config.output.sizes, config.output.max_side)
    try:
        tops, animation = _run_steps(im, source, plan[-1], config, stage)
        with stage("encode"):
            variants, smallest = cascade(tops, plan, config.output, animation)
        placeholder = make_placeholder(smallest)
        credit = read_credit(im)  # the opened source, loaded: PNG text may follow the pixels
    except ImgsvcError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageRefused(str(exc), code="too_many_pixels") from exc
    except MemoryError as exc:
        raise ImageRefused("the image needs more memory than imgsvc allows") from exc
    except Exception as exc:  # Pillow raises many types for hostile data; all mean "corrupt"
        raise InvalidImage(f"the {source.format.upper()} data cannot be decoded: {exc}") from exc
    finally:
        im.close()
    return Conversion(source, variants, placeholder, credit)


def _run_steps(
    im: Image.Image,
    source: SourceInfo,
    largest: PlannedVariant,
    config: PipelineConfig,
    stage: StageTimer,
) -> tuple[list[Image.Image], Animation | None]:
    """Every frame through ``STEPS``: the largest planned width, upright, in sRGB."""
    target = orient.as_stored((largest.width, largest.height), source.orientation)
    icc = im.info.get("icc_profile")
    if not source.animated:
        frame = Frame(im, source, target, icc, still=True)
        for name, steps in itertools.groupby(STEPS, key=attrgetter("stage")):
            with stage(name):
                frame = _through(frame, steps)
        return [frame.image], None
    tops: list[Image.Image] = []
    durations: list[int] = []
    with stage("decode"):
        for raw in decode.frames_of(im, source, config.limits.max_pixels):
            tops.append(_through(Frame(raw, source, target, icc, still=False), STEPS).image)
            durations.append(decode.duration(raw))
    return tops, Animation(durations, decode.loop_count(im.info.get("loop"), source.format))


def _through(frame: Frame, steps: Iterator[Step] | tuple[Step, ...]) -> Frame:
    for step in steps:
        frame = step.run(frame)
    return frame
