"""colour: every output is 8-bit sRGB; profiles are applied, alpha passes through."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageCms

from imgsvc.pipeline.colour import to_srgb

from ..support import images
from ..support.images import near

MID = (200, 100, 50)


def flat(colour: tuple[int, ...], mode: str = "RGB") -> Image.Image:
    return Image.new(mode, (8, 8), colour)


def test_the_hand_built_profiles_are_valid_icc() -> None:
    for icc, name in ((images.display_p3(), "Display P3"), (images.adobe_rgb(), "Adobe RGB")):
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        assert name in ImageCms.getProfileDescription(profile)
        assert profile.profile.xcolor_space.strip() == "RGB"


@pytest.mark.parametrize(
    ("icc", "primaries", "gamma"),
    [
        (images.display_p3, images.DISPLAY_P3, None),
        (images.adobe_rgb, images.ADOBE_RGB, 563 / 256),
    ],
    ids=["display-p3", "adobe-rgb"],
)
@pytest.mark.parametrize("colour", [MID, (50, 200, 120), (255, 0, 0), (128, 128, 128)])
def test_wide_gamut_colours_match_the_colourimetry(
    icc: object, primaries: images.Primaries, gamma: float | None, colour: images.RGB
) -> None:
    expected = images.expected_srgb(colour, primaries, gamma)
    out = to_srgb(flat(colour), icc())  # type: ignore[operator]
    assert out.mode == "RGB"
    assert near(out.getpixel((0, 0)), expected, 1), (out.getpixel((0, 0)), expected)  # type: ignore[arg-type]


def test_a_mid_colour_really_moves() -> None:
    p3 = to_srgb(flat(MID), images.display_p3()).getpixel((0, 0))
    adobe = to_srgb(flat(MID), images.adobe_rgb()).getpixel((0, 0))
    assert p3[0] - MID[0] >= 10 and adobe[0] - MID[0] >= 20  # type: ignore[index]
    assert p3 != adobe


def test_grey_stays_grey_in_any_rgb_space() -> None:
    for icc in (images.display_p3(), images.adobe_rgb()):
        r, g, b = to_srgb(flat((128, 128, 128)), icc).getpixel((0, 0))  # type: ignore[misc]
        assert max(r, g, b) - min(r, g, b) <= 1


@pytest.mark.parametrize(
    "icc",
    [
        lambda: ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
        lambda: images.icc_profile(images.SRGB, gamma=None, description="sRGB IEC61966-2.1"),
    ],
    ids=["lcms-srgb", "hand-built-srgb"],
)
def test_an_srgb_profile_changes_nothing(icc: object) -> None:
    out = to_srgb(flat(MID), icc())  # type: ignore[operator]
    assert out.getpixel((0, 0)) == MID


@pytest.mark.parametrize("icc", [None, b"", b"not a profile at all", images.display_p3()[:100]])
def test_missing_or_broken_profiles_leave_the_values(icc: bytes | None) -> None:
    out = to_srgb(flat(MID), icc)
    assert (out.mode, out.getpixel((0, 0))) == ("RGB", MID)


def test_alpha_passes_through_untouched() -> None:
    im = Image.new("RGBA", (4, 1), (*MID, 255))
    im.putpixel((1, 0), (*MID, 128))
    im.putpixel((2, 0), (*MID, 0))
    out = to_srgb(im, images.display_p3())
    assert out.mode == "RGBA"
    assert [out.getpixel((x, 0))[3] for x in range(4)] == [255, 128, 0, 255]  # type: ignore[index]
    expected = images.expected_srgb(MID, images.DISPLAY_P3, None)
    assert near(out.getpixel((0, 0))[:3], expected, 1)  # type: ignore[index]


def test_grey_and_cmyk_come_out_rgb() -> None:
    assert to_srgb(flat((90,), "L"), None).getpixel((0, 0)) == (90, 90, 90)
    cmyk = to_srgb(flat(images.CMYK_CYAN, "CMYK"), None).getpixel((0, 0))
    assert cmyk[0] <= 10 and min(cmyk[1:]) >= 245  # type: ignore[index]
    assert to_srgb(flat(images.CMYK_WHITE, "CMYK"), None).getpixel((0, 0)) == (255, 255, 255)


def test_a_profile_for_another_colour_space_is_ignored() -> None:
    out = to_srgb(flat((90,), "L"), images.display_p3())  # an RGB profile on a grey image
    assert out.getpixel((0, 0)) == (90, 90, 90)
