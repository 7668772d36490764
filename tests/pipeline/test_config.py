"""PipelineConfig: the fingerprint is derived from every output field, never hand-listed,
and today's settings keep the fingerprint stored manifests carry."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from imgsvc import ImageService, Settings
from imgsvc.pipeline import PIPELINE_VERSION, Output, PipelineConfig
from imgsvc.pipeline.version import PIPELINE_REVISION, REVISIONS
from imgsvc.storage import FileStorage

from .factories import moving_square

DATA = Path(__file__).resolve().parent / "data"
BECLOUD = Path(__file__).resolve().parents[2] / "config" / "becloud.toml"

#: Fingerprints computed by the code before the pipeline became a package (commit
#: 81d47a9, description.fingerprint). A refactor must not change them: every stored
#: image would turn "outdated" and a bulk run would re-convert a whole library.
BEFORE = [
    ({}, "9cbe8f84a1806074"),
    ({"webp_quality": 70}, "c6d54116d333ef58"),
]
#: Before revision 1 (issue 11) with AVIF beside WebP, the WebPs had AVIF's quality:
#: sets made with this fingerprint hold wrong WebPs and must read as outdated.
AVIF_WEBP_BEFORE = "8ba620052e7bcd09"
AVIF_WEBP_NOW = "ece8780ab68c3a84"


@pytest.mark.parametrize(("overrides", "fingerprint"), BEFORE)
def test_fingerprints_of_todays_settings_are_unchanged(
    overrides: dict[str, object], fingerprint: str
) -> None:
    assert PipelineConfig.from_settings(Settings.load({}, **overrides)).fingerprint == fingerprint


def test_a_revision_moves_the_fingerprint_of_the_configurations_it_changed_only() -> None:
    """Revision 1 changed the WebPs of multi-format configurations and nothing else."""
    for formats in (("avif", "webp"), ("webp", "avif")):
        config = PipelineConfig.from_settings(Settings.load({}, formats=formats))
        assert config.output.recipe()["revisions"] == [1]
        assert config.fingerprint == AVIF_WEBP_NOW != AVIF_WEBP_BEFORE
    assert "revisions" not in PipelineConfig.from_settings(Settings.load({})).output.recipe()


def test_revisions_count_within_this_pipeline_version() -> None:
    """A PIPELINE_VERSION bump outdates every set: it empties the table too."""
    assert [r.number for r in REVISIONS] == list(range(1, len(REVISIONS) + 1))
    assert all(r.version == PIPELINE_VERSION for r in REVISIONS)
    assert all((r.configs is None) != (r.stored is None) for r in REVISIONS)
    assert len(REVISIONS) == PIPELINE_REVISION


NO_CREDIT: dict[str, str] = {}
RIGHTS = {"creator": "Jane Doe"}
CAPTION = {"caption": "A protest in the square"}  # editorial, not carried by outputs


def _manifest(
    frames: int, revision: int | None, fingerprint: str, credit: dict[str, str] | None = NO_CREDIT
) -> dict[str, object]:
    manifest = json.loads((DATA / "manifest-v3-before-layout.json").read_text())
    manifest.update(frames=frames, fingerprint=fingerprint)
    if revision is not None:
        manifest["pipeline_revision"] = revision
    if credit is not None:
        manifest["credit"] = credit
    return manifest


@pytest.mark.parametrize(
    ("frames", "revision", "credit", "current"),
    [
        (1, None, NO_CREDIT, True),  # a still made before revisions were recorded
        (3, None, NO_CREDIT, False),  # an animation before revision 2 (it may have lost alpha)
        (3, 1, NO_CREDIT, False),
        (3, 2, NO_CREDIT, True),
        (1, 2, NO_CREDIT, True),
        # revision 3: outputs carry the rights XMP
        (1, 2, RIGHTS, False),
        (1, 2, CAPTION, True),
        (1, 2, None, False),  # made before the credit was recorded: it may have had one
        (1, 3, RIGHTS, True),
    ],
)
def test_a_stored_revision_outdates_only_the_sets_it_changed(
    tmp_path: Path,
    frames: int,
    revision: int | None,
    credit: dict[str, str] | None,
    current: bool,
) -> None:
    service = ImageService(Settings.load({}, file_root=tmp_path), FileStorage(tmp_path))
    try:
        manifest = _manifest(frames, revision, service.fingerprint, credit)
        assert service.is_current(manifest) is current
        assert not service.is_current(_manifest(frames, PIPELINE_REVISION, "0" * 16))
    finally:
        service.close()


def test_avif_and_webp_sets_made_before_revision_1_are_outdated(tmp_path: Path) -> None:
    settings = Settings.load({}, file_root=tmp_path, formats=("avif", "webp"))
    service = ImageService(settings, FileStorage(tmp_path))
    try:
        assert not service.is_current(_manifest(1, None, AVIF_WEBP_BEFORE))
        assert service.is_current(_manifest(1, PIPELINE_REVISION, AVIF_WEBP_NOW))
    finally:
        service.close()


def test_a_manifest_written_before_the_refactor_keeps_its_fingerprint(tmp_path: Path) -> None:
    """The refactor changed no fingerprint. Such a manifest predates the recorded credit,
    so revision 3 (rights XMP in outputs) outdates it, and only that revision: with a
    credit without rights fields recorded, the same manifest is current."""
    manifest = json.loads((DATA / "manifest-v3-before-layout.json").read_text())
    for settings in (
        Settings.load({}, file_root=tmp_path),
        Settings.load({}, config_file=BECLOUD, file_root=tmp_path),
    ):
        service = ImageService(settings, FileStorage(tmp_path))
        try:
            assert manifest["fingerprint"] == service.fingerprint
            assert not service.is_current(manifest)
            assert service.is_current({**manifest, "credit": {}})
        finally:
            service.close()


def test_every_output_field_is_in_the_recipe() -> None:
    output = PipelineConfig.from_settings(Settings.load({})).output
    recipe = output.recipe()
    assert recipe["pipeline"] == PIPELINE_VERSION
    optional = {f.name for f in dataclasses.fields(Output) if getattr(output, f.name) is None}
    # unset by default: left out of the recipe
    assert optional == {"target", "crops", "strip_rights", "centred"}
    assert set(recipe) == {"pipeline"} | {f.name for f in dataclasses.fields(Output)} - optional


def test_each_output_setting_moves_the_fingerprint() -> None:
    base = PipelineConfig.from_settings(Settings.load({})).output
    changed = [
        dataclasses.replace(base, sizes=base.sizes[:2]),
        dataclasses.replace(base, formats={"webp": 81}),
        dataclasses.replace(base, webp_method=6),
        dataclasses.replace(base, target=(70.0, 50, 95)),
        dataclasses.replace(base, strip_rights=True),
        PipelineConfig.from_settings(Settings.load({}, crops=[SQUARE])).output,
        PipelineConfig.from_settings(Settings.load({}, crops=[{**SQUARE, "aspect": "4:3"}])).output,
        PipelineConfig.from_settings(Settings.load({}, crops=[{**SQUARE, "widths": [480]}])).output,
        PipelineConfig.from_settings(
            Settings.load({}, crops=[SQUARE], focus_detection="off")
        ).output,
    ]
    prints = {base.fingerprint(), *(o.fingerprint() for o in changed)}
    assert len(prints) == 1 + len(changed)


SQUARE = {"name": "square", "aspect": "1:1"}


def test_focus_detection_without_crops_changes_no_fingerprint() -> None:
    """Without crops no byte depends on the focus: looking for one only adds to the
    description, so it cannot outdate a library."""
    default = PipelineConfig.from_settings(Settings.load({}))
    looking = PipelineConfig.from_settings(Settings.load({}, focus_detection="on"))
    assert (default.detect_focus, looking.detect_focus) == (False, True)
    assert looking.fingerprint == default.fingerprint == "9cbe8f84a1806074"
    cropping = PipelineConfig.from_settings(Settings.load({}, crops=[SQUARE]))
    assert cropping.detect_focus


def test_limits_do_not_outdate_a_library() -> None:
    small = PipelineConfig.from_settings(Settings.load({}, max_pixels=1000, max_frames=2))
    assert small.fingerprint == PipelineConfig.from_settings(Settings.load({})).fingerprint


def test_an_unset_optional_field_keeps_the_fingerprint() -> None:
    """A future optional output setting added with the default None leaves every
    stored fingerprint valid until it is set."""

    @dataclasses.dataclass(frozen=True)
    class Extended(Output):
        extra: float | None = None

    base = PipelineConfig.from_settings(Settings.load({})).output
    extended = Extended(base.sizes, base.formats, base.webp_method)
    assert extended.fingerprint() == base.fingerprint()
    assert dataclasses.replace(extended, extra=70.0).fingerprint() != base.fingerprint()


def test_a_set_made_now_is_current(tmp_path: Path) -> None:
    """The manifest records the revision it was made at, so a fresh animation is not
    taken for one made before revision 2."""
    service = ImageService(Settings.load({}, file_root=tmp_path), FileStorage(tmp_path))
    try:
        made = service.ingest(moving_square(), "square.png")
        manifest = service.manifest(made["id"])
        assert (manifest["frames"], manifest["pipeline_revision"]) == (3, PIPELINE_REVISION)
        assert service.is_current(manifest)
    finally:
        service.close()
