"""The imgsvc command through click's CliRunner: convert, srcset, batch manners."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from imgsvc.cli import cli

from ..support import images

SEED_ID = "b797c7e7-f97e-44af-848a-64a0818214cd"
SEED_NAME = "368de410-6cb2-4516-89cf-b8b9e44746cf.jpg"
# The srcset the news site's bucket has, quoted literally.
SEED_SRCSET = "https://s3-minsk.becloud.by/media-assets/news-by/b797c7e7-f97e-44af-848a-64a0818214cd/conversions/368de410-6cb2-4516-89cf-b8b9e44746cf-sm-___webp_480.webp 480w, https://s3-minsk.becloud.by/media-assets/news-by/b797c7e7-f97e-44af-848a-64a0818214cd/conversions/368de410-6cb2-4516-89cf-b8b9e44746cf-md-___webp_768.webp 768w, https://s3-minsk.becloud.by/media-assets/news-by/b797c7e7-f97e-44af-848a-64a0818214cd/conversions/368de410-6cb2-4516-89cf-b8b9e44746cf-lg-___webp_1280.webp 1280w, https://s3-minsk.becloud.by/media-assets/news-by/b797c7e7-f97e-44af-848a-64a0818214cd/conversions/368de410-6cb2-4516-89cf-b8b9e44746cf-xl-___webp_1920.webp 1920w"  # noqa: E501


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def env(root: Path) -> dict[str, str]:
    return {
        "IMGSVC_PUBLIC_BASE_URL": "https://s3-minsk.becloud.by/media-assets",
        "IMGSVC_KEY_PREFIX": "news-by",
        "IMGSVC_FILE_ROOT": str(root),
    }


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_the_seed_srcset_byte_for_byte(
    runner: CliRunner, env: dict[str, str], root: Path, tmp_path: Path
) -> None:
    photo = write(tmp_path / SEED_NAME, images.encode(images.gradient((2400, 1350)), "JPEG"))
    result = runner.invoke(cli, ["convert", str(photo), "--media-id", SEED_ID], env=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == SEED_SRCSET + "\n"
    assert result.stderr == ""
    prefix = "https://s3-minsk.becloud.by/media-assets/"
    for entry in SEED_SRCSET.split(", "):
        url, width = entry.split(" ")
        stored = root / url.removeprefix(prefix)
        with Image.open(stored) as im:
            assert im.format == "WEBP"
            assert im.size == (int(width.removesuffix("w")), round(int(width[:-1]) * 1350 / 2400))
    assert (root / "news-by" / SEED_ID / SEED_NAME).read_bytes() == photo.read_bytes()
    assert (root / "news-by" / SEED_ID / "manifest.json").is_file()

    again = runner.invoke(cli, ["srcset", SEED_ID], env=env)
    assert (again.exit_code, again.stdout) == (0, SEED_SRCSET + "\n")


def test_convert_json_prints_the_description(
    runner: CliRunner, env: dict[str, str], tmp_path: Path
) -> None:
    photo = write(tmp_path / "pic.png", images.solid((1000, 500), fmt="PNG"))
    result = runner.invoke(cli, ["convert", "--json", str(photo)], env=env)
    assert result.exit_code == 0, result.stderr
    description = json.loads(result.stdout)
    assert (description["width"], description["height"]) == (1000, 500)
    assert [v["width"] for v in description["variants"]] == [480, 768, 1000]
    assert description["original"]["content_type"] == "image/png"


def test_a_batch_goes_on_past_bad_files_and_exits_1(
    runner: CliRunner, env: dict[str, str], tmp_path: Path
) -> None:
    good1 = write(tmp_path / "good1.jpg", images.solid((600, 300)))
    bad = write(tmp_path / "bad.jpg", images.random_bytes())
    tiff = write(tmp_path / "scan.tiff", images.tiff())
    missing = tmp_path / "missing.jpg"
    good2 = write(tmp_path / "good2.png", images.solid((300, 300), fmt="PNG"))
    args = ["convert", *map(str, (good1, bad, tiff, missing, good2))]
    result = runner.invoke(cli, args, env=env)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert "/good1-sm-___webp_480.webp 480w" in lines[0] and lines[0].endswith(" 600w")
    assert lines[1].endswith("/good2-sm-___webp_300.webp 300w")
    errors = result.stderr
    assert f"{bad}: invalid_image" in errors
    assert f"{tiff}: unsupported_format" in errors
    assert f"{missing}: cannot read" in errors
    assert "3 of 5 files failed" in errors
    assert "Traceback" not in errors


def test_a_png_named_jpg_is_stored_as_png(
    runner: CliRunner, env: dict[str, str], root: Path, tmp_path: Path
) -> None:
    photo = write(tmp_path / "disguised.jpg", images.solid((200, 100), fmt="PNG"))
    result = runner.invoke(cli, ["convert", str(photo), "--media-id", SEED_ID], env=env)
    assert result.exit_code == 0, result.stderr
    assert (root / "news-by" / SEED_ID / "disguised.png").is_file()
    assert not (root / "news-by" / SEED_ID / "disguised.jpg").exists()


def test_media_id_names_one_file_only(
    runner: CliRunner, env: dict[str, str], root: Path, tmp_path: Path
) -> None:
    a = write(tmp_path / "a.jpg", images.solid((100, 100)))
    b = write(tmp_path / "b.jpg", images.solid((100, 100)))
    result = runner.invoke(cli, ["convert", str(a), str(b), "--media-id", SEED_ID], env=env)
    assert result.exit_code == 2
    assert "--media-id" in result.stderr
    assert not root.exists() or not any(root.rglob("*.webp"))


def test_a_bad_media_id_is_reported(
    runner: CliRunner, env: dict[str, str], root: Path, tmp_path: Path
) -> None:
    a = write(tmp_path / "a.jpg", images.solid((100, 100)))
    result = runner.invoke(cli, ["convert", str(a), "--media-id", "not-a-uuid"], env=env)
    assert result.exit_code == 1
    assert "invalid_media_id" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("media_id", [SEED_ID, "not-a-uuid"])
def test_srcset_of_an_unknown_image_fails_on_stderr(
    runner: CliRunner, env: dict[str, str], media_id: str
) -> None:
    result = runner.invoke(cli, ["srcset", media_id], env=env)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert media_id in result.stderr


def test_a_wrong_setting_stops_the_command_naming_the_variable(
    runner: CliRunner, env: dict[str, str], tmp_path: Path
) -> None:
    photo = write(tmp_path / "a.jpg", images.solid((100, 100)))
    result = runner.invoke(cli, ["convert", str(photo)], env={**env, "IMGSVC_WEBP_QUALITY": "best"})
    assert result.exit_code != 0
    assert "IMGSVC_WEBP_QUALITY" in result.stderr
    assert result.stdout == ""


def test_the_config_file_is_read(runner: CliRunner, root: Path, tmp_path: Path) -> None:
    config = tmp_path / "imgsvc.toml"
    config.write_text(
        f'file_root = "{root}"\nkey_prefix = "from-toml"\n'
        'public_base_url = "https://cdn.example"\n[[sizes]]\nname = "only"\nwidth = 100\n'
    )
    photo = write(tmp_path / "a.jpg", images.solid((400, 200)))
    result = runner.invoke(cli, ["--config", str(config), "convert", str(photo)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("https://cdn.example/from-toml/")
    assert result.stdout.endswith("/conversions/a-only-___webp_100.webp 100w\n")


@pytest.mark.parametrize(
    ("extra", "exit_code", "says"),
    [
        ({"IMGSVC_BROKER_URL": "redis://127.0.0.1:1/0"}, 3, "Redis unavailable"),
        ({"IMGSVC_CELERY_VISIBILITY_TIMEOUT": "100"}, 2, "IMGSVC_CELERY_VISIBILITY_TIMEOUT"),
    ],
    ids=["redis-away", "bad-celery-knob"],
)
def test_reconvert_status_reports_what_stops_it(
    runner: CliRunner, env: dict[str, str], extra: dict[str, str], exit_code: int, says: str
) -> None:
    """One line and the documented exit code, never a traceback."""
    result = runner.invoke(cli, ["reconvert", "--status"], env={**env, **extra})
    assert result.exit_code == exit_code, result.output
    assert says in result.stderr and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_convert_takes_a_focus_and_focus_moves_the_crops(
    runner: CliRunner, env: dict[str, str], tmp_path: Path
) -> None:
    config = write(tmp_path / "crops.toml", b'[[crops]]\nname = "square"\naspect = "1:1"\n')
    env = {**env, "IMGSVC_CONFIG": str(config)}
    photo = write(tmp_path / "wide.jpg", images.solid((1200, 600)))
    made = runner.invoke(cli, ["convert", "--json", "--focus", "0.9,0.5", str(photo)], env=env)
    assert made.exit_code == 0, made.stderr
    description = json.loads(made.stdout)
    assert description["focus"]["source"] == "editor"
    assert description["crops"]["square"]["box"] == [600, 0, 1200, 600]
    moved = runner.invoke(cli, ["focus", "--json", description["id"], "0.1,0.5"], env=env)
    assert moved.exit_code == 0, moved.stderr
    assert json.loads(moved.stdout)["crops"]["square"]["box"] == [0, 0, 600, 600]
    back = runner.invoke(cli, ["focus", "--json", description["id"], "auto"], env=env)
    assert json.loads(back.stdout)["focus"]["source"] != "editor"


def test_a_bad_focus_is_a_usage_error_before_any_work(
    runner: CliRunner, env: dict[str, str], root: Path, tmp_path: Path
) -> None:
    photo = write(tmp_path / "a.jpg", images.solid((600, 400)))
    result = runner.invoke(cli, ["convert", "--focus", "0.5", str(photo)], env=env)
    assert result.exit_code == 2
    assert "focus takes 2 values" in result.stderr and "Traceback" not in result.stderr
    assert not root.exists() or not any(root.rglob("*.webp"))
    missing = runner.invoke(
        cli, ["focus", "00000000-0000-4000-8000-000000000000", "0.5,0.5"], env=env
    )
    assert missing.exit_code != 0 and "no image" in missing.stderr
