"""The conversion pipeline: bytes in, encoded variants out.

**The rule of this folder: pure.** Nothing here imports Flask, boto3 or botocore,
opens a file or a socket, or reads ``Settings``: ``convert()`` takes the bytes and a
frozen ``PipelineConfig`` and returns the encoded variants. Storage, HTTP and jobs
live in their own rooms and call in. ``tests/pipeline/test_purity.py`` imports this
package in a fresh interpreter and proves the rule.

The data flows in this order::

    receive   format from the bytes, every limit from the header (receive.py)
    plan      which widths: the no-upscale rule (plan.py), the crops' (framing.py)
    STEPS     for a still, and for every frame of an animation:
                draft -> load -> plain_cmyk -> working_mode      (stage "decode")
                resize -> unpremultiply -> to_srgb -> orient     (stage "resize")
    credit    creator, credit, copyright, caption, source (rights.py)
    focus     the editor's, or faces / attention / centre (framing.py, focus.py)
    encode    each smaller width from the next larger, every format, the rights
              XMP in each (encode.py); then each crop, cut around the focus
    placeholder  a tiny preview from the smallest conversion (placeholder.py)

Each step is a small function that returns the frame untouched when it has nothing
to do, so one list serves stills and animations (see ``frame.py``). A still's steps
are timed under their stage labels; an animation's frames are decoded and resized
one by one, all under ``decode``, as before the steps were a list.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from operator import attrgetter

from PIL import Image

from ..errors import ImageRefused, ImgsvcError, InvalidImage
from . import colour, decode, framing, orient, resize
from .config import Output, PipelineConfig
from .encode import Animation, EncodedVariant, cascade, output_formats, still_formats
from .focus import CENTRE, Focus
from .frame import Frame, Step
from .framing import CroppedSet, Framing
from .placeholder import Placeholder, make_placeholder
from .plan import PlannedVariant, plan_variants
from .receive import SourceInfo, open_image
from .rights import Credit, read_credit, xmp_packet
from .version import PIPELINE_VERSION

__all__ = [
    "PIPELINE_VERSION",
    "STEPS",
    "Conversion",
    "CroppedSet",
    "EncodedVariant",
    "Focus",
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
    #: What the crops were placed around: the editor's, a detected one, or the centre.
    focus: Focus = CENTRE
    crops: tuple[CroppedSet, ...] = ()


#: Times a named stage (``decode``, ``resize``, ``encode``) as a ``with`` block; the
#: service passes its metrics' timer, the pipeline itself knows nothing of metrics.
StageTimer = Callable[[str], AbstractContextManager[None]]


@contextmanager
def _untimed(_stage: str) -> Iterator[None]:
    yield


def convert(
    data: bytes, config: PipelineConfig, stage: StageTimer = _untimed, focus: Focus | None = None
) -> Conversion:
    """Convert one source into every planned width and configured format, and every
    crop around ``focus`` (the editor's; None lets ``framing.choose_focus`` decide).

    Raises the receiver's errors for refused input (``UploadTooLarge``,
    ``UnsupportedFormat``, ``InvalidImage``, ``ImageRefused``) and ``InvalidImage``
    when the pixels themselves turn out to be truncated or corrupt.
    """
    im, source = open_image(data, config.limits)
    output = config.output
    plan = plan_variants(source.width, source.height, output.sizes, output.max_side)
    framings = framing.frame_crops(source.width, source.height, output)
    work = framing.working_size(source.width, source.height, plan[-1], framings)
    try:
        frames, animation = _run_steps(im, source, work, config, stage)
        credit = read_credit(im)  # the opened source, loaded: PNG text may follow the pixels
        xmp = None if output.strip_rights else xmp_packet(credit)
        with stage("focus"):
            chosen = framing.choose_focus(frames[0], focus, config.detect_focus)
        with stage("encode"):
            tops = framing.main_frames(frames, plan[-1])
            variants, smallest = _encode(tops, plan, output, animation, xmp)
            crops = tuple(
                _crop(frames, source, f, chosen, output, animation, xmp) for f in framings
            )
        placeholder = make_placeholder(smallest)
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
    return Conversion(source, variants, placeholder, credit, chosen, crops)


def _crop(
    frames: list[Image.Image],
    source: SourceInfo,
    plan: Framing,
    focus: Focus,
    main: Output,
    animation: Animation | None,
    xmp: bytes | None,
) -> CroppedSet:
    """One crop's conversions. An animation whose crop asks only for formats that
    cannot animate (a JPEG social card of a GIF) gets its first frame, still."""
    output = plan.crop.output(main)
    if animation is not None and not output_formats(output, animation):
        frames, animation = frames[:1], None
    box, tops = framing.cut_frames(frames, (source.width, source.height), plan, focus)
    variants, _ = _encode(tops, plan.plan, output, animation, xmp)
    return CroppedSet(plan.crop.name, plan.crop.aspect, box, variants)


def _encode(
    frames: list[Image.Image],
    plan: list[PlannedVariant],
    output: Output,
    animation: Animation | None,
    xmp: bytes | None,
) -> tuple[list[EncodedVariant], Image.Image]:
    """``cascade``, and for an animation also the formats made as a still of its first
    frame (``encode.still_formats``: a JPEG beside an animated WebP)."""
    variants, smallest = cascade(frames, plan, output, animation, xmp)
    still = still_formats(output, animation)
    if still:
        only = dataclasses.replace(output, formats={f: output.formats[f] for f in still})
        more, _ = cascade(frames[:1], plan, only, None, xmp)
        order = {name: i for i, name in enumerate(output.formats)}
        variants = sorted([*variants, *more], key=lambda v: (order[v.format], v.width))
    return variants, smallest


def _run_steps(
    im: Image.Image,
    source: SourceInfo,
    size: tuple[int, int],
    config: PipelineConfig,
    stage: StageTimer,
) -> tuple[list[Image.Image], Animation | None]:
    """Every frame through ``STEPS``: at the working ``size``, upright, in sRGB."""
    target = orient.as_stored(size, source.orientation)
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
