"""planning: the widths to make; no upscale, the source's own width, no side over 16383."""

from __future__ import annotations

import pytest

from imgsvc.pipeline.plan import PlannedVariant, plan_variants
from imgsvc.settings import DEFAULT_SIZES, WEBP_MAX_SIDE, Size


def widths(
    src_w: int, src_h: int, sizes: tuple[Size, ...] = DEFAULT_SIZES
) -> list[tuple[str, int]]:
    return [(v.size, v.width) for v in plan_variants(src_w, src_h, sizes)]


def test_a_1000_px_source_gives_480_768_and_its_own_width() -> None:
    assert plan_variants(1000, 500, DEFAULT_SIZES) == [
        PlannedVariant("sm", 480, 240),
        PlannedVariant("md", 768, 384),
        PlannedVariant("lg", 1000, 500),
    ]


@pytest.mark.parametrize("src_w", [1920, 1921, 5640])
def test_a_source_of_1920_or_more_gives_the_four_sizes(src_w: int) -> None:
    assert widths(src_w, 1080) == [("sm", 480), ("md", 768), ("lg", 1280), ("xl", 1920)]


@pytest.mark.parametrize(
    ("src_w", "expected"),
    [
        (300, [("sm", 300)]),
        (1, [("sm", 1)]),
        (480, [("sm", 480)]),
        (481, [("sm", 480), ("md", 481)]),
        (768, [("sm", 480), ("md", 768)]),
        (1280, [("sm", 480), ("md", 768), ("lg", 1280)]),
        (1919, [("sm", 480), ("md", 768), ("lg", 1280), ("xl", 1919)]),
    ],
)
def test_the_next_size_up_is_made_at_the_source_width(src_w: int, expected: list) -> None:  # type: ignore[type-arg]
    assert widths(src_w, 100) == expected


def test_heights_keep_the_aspect_ratio_rounded() -> None:
    plan = plan_variants(5640, 3172, DEFAULT_SIZES)
    assert [(v.width, v.height) for v in plan] == [
        (480, 270),
        (768, 432),
        (1280, 720),
        (1920, 1080),
    ]
    for v in plan:
        assert abs(v.height - v.width * 3172 / 5640) <= 0.5


def test_a_half_rounds_up() -> None:
    # 480 * 541 / 960 = 270.5 and 768 * 541 / 960 = 432.8
    assert [v.height for v in plan_variants(960, 541, DEFAULT_SIZES)][:2] == [271, 433]
    # 480 * 543 / 960 = 271.5: the same rule, not round-half-to-even
    assert plan_variants(960, 543, DEFAULT_SIZES)[0].height == 272


def test_a_thin_strip_never_gets_a_zero_height() -> None:
    assert plan_variants(10000, 1, DEFAULT_SIZES)[0] == PlannedVariant("sm", 480, 1)


def test_a_very_tall_strip_is_capped_at_16383() -> None:
    plan = plan_variants(100, 100_000, DEFAULT_SIZES)
    assert len(plan) == 1
    [v] = plan
    assert max(v.width, v.height) <= WEBP_MAX_SIDE
    assert v.width < 100  # the width shrinks with the height
    assert abs(v.height / v.width - 1000) < 1000 * 0.07  # and the shape is kept
    assert v.height >= WEBP_MAX_SIDE * 0.95  # as large as the cap allows


def test_a_tall_source_with_room_is_not_capped() -> None:
    assert plan_variants(480, 16383, DEFAULT_SIZES) == [PlannedVariant("sm", 480, 16383)]
    [v] = plan_variants(480, 16384, DEFAULT_SIZES)
    assert v.height <= WEBP_MAX_SIDE and v.width == 479


def test_a_very_wide_strip_keeps_its_widths() -> None:
    plan = plan_variants(100_000, 100, DEFAULT_SIZES)
    assert [(v.width, v.height) for v in plan] == [(480, 1), (768, 1), (1280, 1), (1920, 2)]


def test_wide_custom_sizes_are_capped_too() -> None:
    sizes = (Size("a", 8000), Size("b", 16383))
    plan = plan_variants(20000, 10000, sizes)
    assert [(v.width, v.height) for v in plan] == [(8000, 4000), (16383, 8192)]


def test_custom_sizes() -> None:
    sizes = (Size("thumb", 150), Size("card", 600), Size("hero", 2400))
    assert widths(3000, 2000, sizes) == [("thumb", 150), ("card", 600), ("hero", 2400)]
    assert widths(800, 600, sizes) == [("thumb", 150), ("card", 600), ("hero", 800)]
    assert plan_variants(800, 600, sizes)[-1].height == 600


def test_a_smaller_cap_is_honoured() -> None:
    [v] = plan_variants(100, 1000, DEFAULT_SIZES, max_side=500)
    assert (v.width, v.height) == (50, 500)


@pytest.mark.parametrize(("w", "h"), [(0, 10), (10, 0), (-1, 10)])
def test_an_empty_source_is_an_error(w: int, h: int) -> None:
    with pytest.raises(ValueError):
        plan_variants(w, h, DEFAULT_SIZES)
