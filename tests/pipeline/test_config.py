"""PipelineConfig: the fingerprint is derived from every output field, never hand-listed,
and today's settings keep the fingerprint stored manifests carry."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from imgsvc import ImageService, Settings
from imgsvc.pipeline import PIPELINE_VERSION, Output, PipelineConfig
from imgsvc.storage import FileStorage

DATA = Path(__file__).resolve().parent / "data"
BECLOUD = Path(__file__).resolve().parents[2] / "config" / "becloud.toml"

#: Fingerprints computed by the code before the pipeline became a package (commit
#: 81d47a9, description.fingerprint). A refactor must not change them: every stored
#: image would turn "outdated" and a bulk run would re-convert a whole library.
BEFORE = [
    ({}, "9cbe8f84a1806074"),
    ({"formats": ("avif", "webp")}, "8ba620052e7bcd09"),
    ({"webp_quality": 70}, "c6d54116d333ef58"),
]


@pytest.mark.parametrize(("overrides", "fingerprint"), BEFORE)
def test_fingerprints_of_todays_settings_are_unchanged(
    overrides: dict[str, object], fingerprint: str
) -> None:
    assert PipelineConfig.from_settings(Settings.load({}, **overrides)).fingerprint == fingerprint


def test_a_manifest_written_before_the_refactor_is_still_current(tmp_path: Path) -> None:
    manifest = json.loads((DATA / "manifest-v3-before-layout.json").read_text())
    for settings in (
        Settings.load({}, file_root=tmp_path),
        Settings.load({}, config_file=BECLOUD, file_root=tmp_path),
    ):
        service = ImageService(settings, FileStorage(tmp_path))
        try:
            assert service.is_current(manifest)
        finally:
            service.close()


def test_every_output_field_is_in_the_recipe() -> None:
    output = PipelineConfig.from_settings(Settings.load({})).output
    recipe = output.recipe()
    assert recipe["pipeline"] == PIPELINE_VERSION
    assert set(recipe) == {"pipeline"} | {f.name for f in dataclasses.fields(Output)}


def test_each_output_setting_moves_the_fingerprint() -> None:
    base = PipelineConfig.from_settings(Settings.load({})).output
    changed = [
        dataclasses.replace(base, sizes=base.sizes[:2]),
        dataclasses.replace(base, formats={"webp": 81}),
        dataclasses.replace(base, webp_method=6),
    ]
    prints = {base.fingerprint(), *(o.fingerprint() for o in changed)}
    assert len(prints) == 1 + len(changed)


def test_limits_do_not_outdate_a_library() -> None:
    small = PipelineConfig.from_settings(Settings.load({}, max_pixels=1000, max_frames=2))
    assert small.fingerprint == PipelineConfig.from_settings(Settings.load({})).fingerprint


def test_an_unset_optional_field_keeps_the_fingerprint() -> None:
    """A future optional output setting (a quality target, say) added with the default
    None leaves every stored fingerprint valid until it is set."""

    @dataclasses.dataclass(frozen=True)
    class Extended(Output):
        target: float | None = None

    base = PipelineConfig.from_settings(Settings.load({})).output
    extended = Extended(base.sizes, base.formats, base.webp_method)
    assert extended.fingerprint() == base.fingerprint()
    assert dataclasses.replace(extended, target=70.0).fingerprint() != base.fingerprint()
