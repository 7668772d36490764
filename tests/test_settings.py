"""settings: defaults < TOML < IMGSVC_* env; every unusable value names its variable."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from imgsvc.errors import ConfigError
from imgsvc.settings import DEFAULT_SIZES, Settings, Size

CONFIG = Path(__file__).resolve().parent.parent / "config"


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "imgsvc.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_documented_ones() -> None:
    s = Settings.load({})
    assert s.storage == "file"
    assert s.file_root == Path("var/media")
    assert s.public_base_url == "/media"
    assert s.key_prefix == "media"
    assert s.sizes == (Size("sm", 480), Size("md", 768), Size("lg", 1280), Size("xl", 1920))
    assert (s.webp_quality, s.formats) == (80, ("webp",))
    assert s.max_upload_bytes == 50 * 1024 * 1024
    assert s.max_pixels == 100_000_000
    assert s.api_tokens == ()
    assert (s.s3_bucket, s.s3_endpoint_url, s.s3_region) == (None, None, "us-east-1")


def test_toml_beats_defaults_and_env_beats_toml(tmp_path: Path) -> None:
    path = toml(
        tmp_path,
        'key_prefix = "from-toml"\nwebp_quality = 70\npublic_base_url = "https://cdn.example/m/"\n',
    )
    from_toml = Settings.load({}, config_file=path)
    assert (from_toml.key_prefix, from_toml.webp_quality) == ("from-toml", 70)
    assert from_toml.public_base_url == "https://cdn.example/m"  # trailing slash dropped
    env = {"IMGSVC_KEY_PREFIX": "from-env", "IMGSVC_CONFIG": str(path)}
    both = Settings.load(env)
    assert (both.key_prefix, both.webp_quality) == ("from-env", 70)


def test_overrides_beat_everything_and_empty_env_is_unset(tmp_path: Path) -> None:
    env = {"IMGSVC_KEY_PREFIX": "from-env", "IMGSVC_WEBP_QUALITY": ""}
    s = Settings.load(env, key_prefix="override")
    assert (s.key_prefix, s.webp_quality) == ("override", 80)


def test_every_env_variable_is_read() -> None:
    env = {
        "IMGSVC_STORAGE": "s3",
        "IMGSVC_FILE_ROOT": "/srv/media",
        "IMGSVC_S3_BUCKET": "bucket",
        "IMGSVC_S3_ENDPOINT_URL": "https://s3.example.com/",
        "IMGSVC_S3_REGION": "eu-central-1",
        "IMGSVC_KEY_PREFIX": "news-by",
        "IMGSVC_SIZES": "sm=480, lg=1280",
        "IMGSVC_WEBP_QUALITY": "75",
        "IMGSVC_FORMATS": "webp,AVIF",
        "IMGSVC_MAX_UPLOAD_BYTES": "1_000_000",
        "IMGSVC_MAX_PIXELS": "4000000",
        "IMGSVC_MAX_FRAMES": "50",
        "IMGSVC_API_TOKENS": "tok-one, tok-two,,",
    }
    s = Settings.load(env)
    assert (s.storage, s.file_root, s.s3_bucket, s.s3_region) == (
        "s3",
        Path("/srv/media"),
        "bucket",
        "eu-central-1",
    )
    assert s.public_base_url == "https://s3.example.com/bucket"
    assert s.sizes == (Size("sm", 480), Size("lg", 1280))
    assert (s.webp_quality, s.formats) == (75, ("webp", "avif"))
    assert (s.max_upload_bytes, s.max_pixels, s.max_frames) == (1_000_000, 4_000_000, 50)
    assert s.api_tokens == ("tok-one", "tok-two")
    assert "tok-one" not in repr(s)  # tokens stay out of logs


def test_public_base_url_on_aws_without_endpoint() -> None:
    s = Settings.load(
        {"IMGSVC_STORAGE": "s3", "IMGSVC_S3_BUCKET": "b", "IMGSVC_S3_REGION": "eu-west-1"}
    )
    assert s.public_base_url == "https://b.s3.eu-west-1.amazonaws.com"


def test_a_dotted_aws_bucket_gets_a_path_style_url() -> None:
    """``media.example.com.s3.amazonaws.com`` fails the ``*.s3`` certificate over HTTPS."""
    env = {"IMGSVC_STORAGE": "s3", "IMGSVC_S3_BUCKET": "media.example.com"}
    s = Settings.load(env | {"IMGSVC_S3_REGION": "eu-west-1"})
    assert s.public_base_url == "https://s3.eu-west-1.amazonaws.com/media.example.com"


def test_sizes_from_toml(tmp_path: Path) -> None:
    path = toml(
        tmp_path,
        '[[sizes]]\nname = "thumb"\nwidth = 200\n\n[[sizes]]\nname = "full"\nwidth = 1600\n',
    )
    assert Settings.load({}, config_file=path).sizes == (Size("thumb", 200), Size("full", 1600))


def test_sizes_from_env_beat_toml(tmp_path: Path) -> None:
    path = toml(tmp_path, '[[sizes]]\nname = "thumb"\nwidth = 200\n')
    s = Settings.load({"IMGSVC_SIZES": "sm=480,md=768,lg=1280,xl=1920"}, config_file=path)
    assert s.sizes == DEFAULT_SIZES


def test_config_default_toml_holds_exactly_the_defaults() -> None:
    assert Settings.load({}, config_file=CONFIG / "default.toml") == Settings.load({})


def test_config_becloud_toml_is_the_news_site_profile() -> None:
    s = Settings.load({"IMGSVC_CONFIG": str(CONFIG / "becloud.toml")})
    assert (s.storage, s.s3_bucket, s.s3_endpoint_url) == (
        "s3",
        "media-assets",
        "https://s3-minsk.becloud.by",
    )
    assert s.public_base_url == "https://s3-minsk.becloud.by/media-assets"
    assert s.key_prefix == "news-by"
    assert s.sizes == DEFAULT_SIZES
    assert (s.formats, s.webp_quality) == (("webp",), 80)


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings.load({}).key_prefix = "x"  # type: ignore[misc]


BAD_ENV = [
    ("IMGSVC_STORAGE", "ftp", "IMGSVC_STORAGE"),
    ("IMGSVC_STORAGE", "s3", "IMGSVC_S3_BUCKET"),  # s3 without a bucket
    ("IMGSVC_WEBP_QUALITY", "high", "IMGSVC_WEBP_QUALITY"),
    ("IMGSVC_WEBP_QUALITY", "101", "IMGSVC_WEBP_QUALITY"),
    ("IMGSVC_WEBP_QUALITY", "8.5", "IMGSVC_WEBP_QUALITY"),
    ("IMGSVC_AVIF_QUALITY", "-1", "IMGSVC_AVIF_QUALITY"),
    ("IMGSVC_MAX_UPLOAD_BYTES", "50MB", "IMGSVC_MAX_UPLOAD_BYTES"),
    ("IMGSVC_MAX_UPLOAD_BYTES", "0", "IMGSVC_MAX_UPLOAD_BYTES"),
    ("IMGSVC_MAX_PIXELS", "-5", "IMGSVC_MAX_PIXELS"),
    ("IMGSVC_MAX_FRAMES", "0", "IMGSVC_MAX_FRAMES"),
    ("IMGSVC_STORAGE_THREADS", "0", "IMGSVC_STORAGE_THREADS"),
    ("IMGSVC_SIZES", "sm=480,md", "IMGSVC_SIZES"),
    ("IMGSVC_SIZES", "sm=wide", "IMGSVC_SIZES"),
    ("IMGSVC_SIZES", "SM=480", "IMGSVC_SIZES"),
    ("IMGSVC_SIZES", "sm=480,sm=768", "IMGSVC_SIZES"),
    ("IMGSVC_SIZES", "md=768,sm=480", "IMGSVC_SIZES"),
    ("IMGSVC_SIZES", "sm=480,md=480", "IMGSVC_SIZES"),
    ("IMGSVC_SIZES", "sm=0", "IMGSVC_SIZES"),
    ("IMGSVC_SIZES", "sm=16384", "IMGSVC_SIZES"),
    ("IMGSVC_SIZES", ",", "IMGSVC_SIZES"),
    ("IMGSVC_FORMATS", "avif", "IMGSVC_FORMATS"),
    ("IMGSVC_FORMATS", "webp,gif", "IMGSVC_FORMATS"),
    ("IMGSVC_FORMATS", "webp,webp", "IMGSVC_FORMATS"),
    ("IMGSVC_KEY_PREFIX", "../escape", "IMGSVC_KEY_PREFIX"),
    ("IMGSVC_KEY_PREFIX", "news-by/", "IMGSVC_KEY_PREFIX"),
    ("IMGSVC_KEY_PREFIX", "a//b", "IMGSVC_KEY_PREFIX"),
    ("IMGSVC_SIZES_PRESETS", "full=100vw", "IMGSVC_SIZES_PRESETS"),
    ("IMGSVC_CONFIG", "/nonexistent/imgsvc.toml", "IMGSVC_CONFIG"),
]


@pytest.mark.parametrize(("name", "value", "named"), BAD_ENV)
def test_a_wrong_env_value_names_its_variable(name: str, value: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load({name: value})
    assert caught.value.message.startswith(f"{named}:"), caught.value.message
    assert caught.value.exit_code == 2


BAD_TOML = [
    ('webp_quality = "high"', "IMGSVC_WEBP_QUALITY"),
    ("webp_quality = true", "IMGSVC_WEBP_QUALITY"),
    ("max_pixels = 1.5", "IMGSVC_MAX_PIXELS"),
    ('[[sizes]]\nname = "sm"', "IMGSVC_SIZES"),
    ("sizes = [480, 768]", "IMGSVC_SIZES"),
    ("sizes = 480", "IMGSVC_SIZES"),
    ('[[sizes]]\nname = "sm"\nwidth = "wide"', "IMGSVC_SIZES"),
    ("file_root = 5", "IMGSVC_FILE_ROOT"),
    ("formats = 5", "IMGSVC_FORMATS"),
    ("api_tokens = 5", "IMGSVC_API_TOKENS"),
    ("key_prefix = 5", "IMGSVC_KEY_PREFIX"),
    ('storage = ["file"]', "IMGSVC_STORAGE"),
    ('sizes_presets = "100vw"', "IMGSVC_SIZES_PRESETS"),
    ("no_such_setting = 1", "IMGSVC_CONFIG"),
    ("this is not toml", "IMGSVC_CONFIG"),
]


@pytest.mark.parametrize(("text", "named"), BAD_TOML)
def test_a_wrong_toml_value_names_its_variable(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load({}, config_file=toml(tmp_path, text))
    assert caught.value.message.startswith(f"{named}:"), caught.value.message


def test_an_unknown_toml_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="webp_qualty"):
        Settings.load({}, config_file=toml(tmp_path, "webp_qualty = 80"))


@pytest.mark.parametrize("url", ["http://x", "redis://h:abc/0", "redis://", "localhost:6379"])
def test_a_broker_url_celery_cannot_use_is_refused_by_name(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^IMGSVC_BROKER_URL: "):
        Settings.load({"IMGSVC_BROKER_URL": url})


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "rediss://:secret@cache.example:6380/1",
        "redis+socket:///run/redis.sock",
    ],
)
def test_redis_broker_urls_are_accepted(url: str) -> None:
    assert Settings.load({"IMGSVC_BROKER_URL": url}).broker_url == url


def test_config_editorial_toml_has_three_crops() -> None:
    s = Settings.load({}, config_file=CONFIG / "editorial.toml")
    assert [(c.name, c.aspect, c.widths, c.formats) for c in s.crops] == [
        ("square", (1, 1), None, None),
        ("teaser", (4, 3), (320, 640, 960), None),
        ("social", (1200, 630), (1200,), ("jpeg",)),
    ]
    assert s.focus_detection == "auto" and s.keep_rights_metadata


@pytest.mark.parametrize(
    ("crops", "message"),
    [
        ([{"name": "Square", "aspect": "1:1"}], "crops: name must be"),
        ([{"name": "sq", "aspect": "1:1"}, {"name": "sq", "aspect": "4:3"}], "unique"),
        ([{"name": "sq", "aspect": "1/1"}], "crops[sq].aspect"),
        ([{"name": "sq"}], "crops[sq].aspect"),
        ([{"name": "sq", "aspect": "1:1", "widths": [0]}], "crops[sq].widths"),
        ([{"name": "sq", "aspect": "1:1", "widths": "480"}], "crops[sq].widths"),
        ([{"name": "sq", "aspect": "1:1", "formats": ["gif"]}], "crops[sq].formats"),
        ([{"name": "sq", "aspect": "1:1", "gravity": "north"}], "unknown field(s) gravity"),
        (["square"], "each crop is a table"),
        ("square=1:1", "[[crops]] tables"),
    ],
)
def test_bad_crops_are_config_errors_naming_the_crop(crops: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load({}, crops=crops)
    assert message in caught.value.message


def test_crops_from_the_environment_are_refused_with_a_pointer_to_toml() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load({"IMGSVC_CROPS": "square=1:1"})
    assert "[[crops]]" in caught.value.message


@pytest.mark.parametrize("value", ["maybe", ""])
def test_focus_detection_takes_auto_on_off(value: str) -> None:
    if value == "":
        assert Settings.load({"IMGSVC_FOCUS_DETECTION": value}).focus_detection == "auto"
        return
    with pytest.raises(ConfigError):
        Settings.load({"IMGSVC_FOCUS_DETECTION": value})
