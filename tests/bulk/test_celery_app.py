"""bulk.celery_app: the distributed mode's knobs are checked together before any
worker starts, and enqueuer and workers agree on a recipe or refuse the work."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from imgsvc.bulk.celery_app import BulkConfig, celery_config, recipe
from imgsvc.errors import ConfigError
from imgsvc.pipeline import PipelineConfig
from imgsvc.settings import Settings, Size

NUMERIC = [f.name for f in fields(BulkConfig) if f.name != "namespace"]


def test_the_defaults_are_valid_and_come_from_the_settings() -> None:
    bulk = BulkConfig.from_settings(Settings.load({}))
    assert bulk.namespace == "imgsvc"
    assert (bulk.time_limit, bulk.retry_backoff_max, bulk.visibility_timeout) == (900, 300, 3600)


def test_the_environment_sets_the_knobs() -> None:
    env = {
        "IMGSVC_CELERY_NAMESPACE": "news",
        "IMGSVC_CELERY_BATCH_SIZE": "2",
        "IMGSVC_CELERY_TIME_LIMIT": "6",
        "IMGSVC_CELERY_RETRY_BACKOFF_MAX": "1",
        "IMGSVC_CELERY_VISIBILITY_TIMEOUT": "8",
    }
    bulk = BulkConfig.from_settings(Settings.load(env))
    assert (bulk.namespace, bulk.batch_size, bulk.time_limit, bulk.visibility_timeout) == (
        "news",
        2,
        6,
        8,
    )


@pytest.mark.parametrize("name", NUMERIC)
def test_every_number_must_be_at_least_one(name: str) -> None:
    overrides: dict[str, Any] = {f"celery_{name}": 0}
    settings = Settings.load({}, **overrides)
    with pytest.raises(ConfigError, match=f"IMGSVC_CELERY_{name.upper()}: must be at least 1"):
        BulkConfig.from_settings(settings)


def limits(visibility: int) -> Settings:
    return Settings.load(
        {}, celery_time_limit=100, celery_retry_backoff_max=50, celery_visibility_timeout=visibility
    )


@pytest.mark.parametrize("visibility", [149, 150])
def test_visibility_must_exceed_the_time_limit_plus_the_longest_retry(visibility: int) -> None:
    """Otherwise kombu redelivers a slow batch while it still runs: two at once."""
    with pytest.raises(ConfigError, match=r"VISIBILITY_TIMEOUT: .*\(100 \+ 50 s\)"):
        BulkConfig.from_settings(limits(visibility))


def test_a_visibility_just_above_the_bound_is_accepted() -> None:
    assert BulkConfig.from_settings(limits(151)).visibility_timeout == 151


def test_the_namespace_prefixes_every_broker_key() -> None:
    settings = Settings.load({}, celery_namespace="news")
    config = celery_config(settings, BulkConfig.from_settings(settings))
    options = config["broker_transport_options"]
    assert options["global_keyprefix"] == "news:"
    assert options["visibility_timeout"] == 3600
    assert config["task_acks_late"] and config["task_reject_on_worker_lost"]
    assert config["task_time_limit"] == 900


def test_recipe_names_the_conversion_and_the_store(tmp_path: Path) -> None:
    settings = Settings.load({}, file_root=tmp_path)
    fingerprint = PipelineConfig.from_settings(settings).fingerprint
    assert recipe(settings) == f"{fingerprint} file:file/media"


def test_recipe_differs_when_sizes_bucket_or_prefix_differ() -> None:
    """A worker with other settings must refuse, not 're-convert' to stale ones."""
    base = Settings.load({}, storage="s3", s3_bucket="media-a")
    others = [
        Settings.load({}, storage="s3", s3_bucket="media-a", sizes=(Size("sm", 480),)),
        Settings.load({}, storage="s3", s3_bucket="media-a", webp_quality=60),
        Settings.load({}, storage="s3", s3_bucket="media-b"),
        Settings.load({}, storage="s3", s3_bucket="media-a", key_prefix="news-by"),
        Settings.load({}),
    ]
    assert len({recipe(base), *map(recipe, others)}) == len(others) + 1


def test_recipe_ignores_what_workers_need_not_share() -> None:
    """Concurrency or the public URL may differ per machine without refusing work."""
    base = Settings.load({}, storage="s3", s3_bucket="media-a")
    same = Settings.load(
        {},
        storage="s3",
        s3_bucket="media-a",
        max_concurrent_conversions=8,
        public_base_url="https://cdn.example.com",
    )
    assert recipe(same) == recipe(base)
