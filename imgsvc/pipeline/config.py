"""The pipeline's own configuration, made once from ``Settings`` (after imgproxy's
``processing/config.go``): the pipeline never sees tokens, buckets or Celery knobs.

Two parts, because they play different roles:

- ``Output``: everything the bytes of a conversion depend on besides the source and
  the code. The fingerprint that marks a stored set current or outdated is derived
  from *all* of its fields and ``PIPELINE_VERSION``; nobody lists them by hand, so a
  new output setting cannot be left out of it. A field whose value is ``None`` is
  left out of the digest: a new optional setting, unset, keeps every stored
  fingerprint valid.
  Some changes of output since ``PIPELINE_VERSION`` alter the bytes of some
  configurations only (``version.py``'s revisions): the recipe of those lists them,
  the others' recipe stays as it was.
- ``Limits``: what the receiver refuses (bytes, pixels, frames). They decide whether
  an image is converted, never how, so they are not in the fingerprint.
- ``detect_focus``: whether a conversion without an editor's focus looks for one. It
  changes bytes only through the crops, so the fingerprint holds it only there
  (``Output.centred``); without crops it changes the description alone.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..formats import WEBP
from ..formats import max_side as max_side_of
from .plan import Size
from .receive import Limits
from .version import PIPELINE_VERSION, changed_since_stored, config_revisions

if TYPE_CHECKING:
    from ..settings import Settings


@dataclass(frozen=True, slots=True)
class Output:
    """What a conversion's bytes depend on.

    ``formats`` maps each output format, in the configured order, to its encoder
    quality. ``webp_method`` is the registry's WebP ``method``: it sits here, under
    the name stored fingerprints have carried since the first manifest, so that a
    change of it outdates the library like any other output setting.

    ``target``: ``(score, lowest, highest)`` when each still conversion is encoded at
    the lowest quality within ``lowest..highest`` reaching that SSIMULACRA2 score
    (``quality.py``); ``None``, the fixed qualities of ``formats``. One field, left
    out of the recipe when ``None``: a service without a target keeps its fingerprint,
    one with a target has another for each target and each pair of bounds.
    """

    sizes: tuple[Size, ...]
    formats: Mapping[str, int]
    webp_method: int = WEBP.encoder["method"]
    target: tuple[float, int, int] | None = None
    #: The ``[[crops]]`` profiles, resolved; None without any.
    crops: tuple[CropOutput, ...] | None = None
    #: True when outputs carry no rights XMP (``keep_rights_metadata = false``).
    strip_rights: bool | None = None
    #: True when crops are placed on the centre, never on a detected focus.
    centred: bool | None = None

    def quality(self, fmt: str) -> int:
        return self.formats[fmt]

    @property
    def max_side(self) -> int:
        return max_side_of(tuple(self.formats))

    def recipe(self) -> dict[str, Any]:
        """The canonical JSON-able form of every field (``None`` ones left out)."""
        recipe: dict[str, Any] = {"pipeline": PIPELINE_VERSION}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None:
                recipe[field.name] = _canonical(value)
        revisions = config_revisions(recipe)
        if revisions:
            recipe["revisions"] = revisions
        return recipe

    def fingerprint(self) -> str:
        """16 hex digits of the recipe's SHA-256; a manifest with another is outdated."""
        text = json.dumps(self.recipe(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class CropOutput:
    """One crop profile as the pipeline makes it: sizes and format qualities resolved."""

    name: str
    aspect: tuple[int, int]
    sizes: tuple[Size, ...]
    formats: Mapping[str, int]

    def output(self, main: Output) -> Output:
        """The ``Output`` its conversions are encoded with (the main encoder settings)."""
        return Output(self.sizes, self.formats, main.webp_method, main.target)


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    output: Output
    limits: Limits
    detect_focus: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineConfig:
        crops = tuple(
            CropOutput(
                c.name,
                c.aspect,
                c.sizes(settings.sizes),
                MappingProxyType(
                    {f: settings.quality_for(f) for f in c.formats or settings.formats}
                ),
            )
            for c in settings.crops
        )
        detect = settings.focus_detection == "on" or (
            settings.focus_detection == "auto" and bool(crops)
        )
        output = Output(
            sizes=tuple(settings.sizes),
            formats=MappingProxyType({f: settings.quality_for(f) for f in settings.formats}),
            target=_target(settings),
            crops=crops or None,
            strip_rights=None if settings.keep_rights_metadata else True,
            centred=True if crops and not detect else None,
        )
        limits = Limits(settings.max_upload_bytes, settings.max_pixels, settings.max_frames)
        return cls(output, limits, detect)

    @property
    def fingerprint(self) -> str:
        return self.output.fingerprint()

    def is_current(self, manifest: Mapping[str, Any]) -> bool:
        """Whether a stored set is what this configuration makes of its source now:
        made with this fingerprint, and at or after every revision that changed the
        output of such a set (``version.py``)."""
        if manifest.get("fingerprint") != self.fingerprint:
            return False
        return not changed_since_stored(manifest)


def _target(settings: Settings) -> tuple[float, int, int] | None:
    if settings.quality_target is None:
        return None
    return (float(settings.quality_target), settings.quality_min, settings.quality_max)


def _canonical(value: Any) -> Any:
    """Dataclasses as lists of their fields, mappings as dicts, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [_canonical(getattr(value, f.name)) for f in dataclasses.fields(value)]
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_canonical(v) for v in value]
    return value
