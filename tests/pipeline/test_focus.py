"""The focus (``imgsvc/pipeline/focus.py``): the editor's value, and detection.

Detection needs numpy and OpenCV (the ``quality`` extra); the faces test also needs
scikit-image, whose bundled LBP cascade is the face detector and whose
``data.astronaut()`` is the test photo. Each skips, saying why, without them.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
from PIL import Image, ImageDraw

from imgsvc.errors import BadRequest
from imgsvc.pipeline.focus import CENTRE, Focus, detect, parse_focus


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.5,0.5", (0.5, 0.5, 0.0, 0.0)),
        ("0,1", (0.0, 1.0, 0.0, 0.0)),
        (" .25 , 0.75 ", (0.25, 0.75, 0.0, 0.0)),
        ("0.1,0.2,0.3,0.4", (0.1, 0.2, 0.3, 0.4)),
        ("0,0,1,1", (0.0, 0.0, 1.0, 1.0)),
        ("0.3,0.3,0.7,0.7", (0.3, 0.3, 0.7, 0.7)),
        ("1.,0.", (1.0, 0.0, 0.0, 0.0)),
    ],
)
def test_parse_focus_reads_a_point_or_a_box(
    text: str, expected: tuple[float, float, float, float]
) -> None:
    focus = parse_focus(text)
    assert (focus.x, focus.y, focus.w, focus.h) == expected
    assert focus.source == "editor"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "2 values"),
        ("0.5", "2 values"),
        ("0.1,0.2,0.3", "2 values"),
        ("0.1,0.2,0.3,0.4,0.5", "2 values"),
        ("nan,0.5", "decimal fraction"),
        ("inf,0.5", "decimal fraction"),
        ("0.5,-0.1", "decimal fraction"),
        ("1e-1,0.5", "decimal fraction"),
        ("0x1,0.5", "decimal fraction"),
        ("0.5,", "decimal fraction"),
        ("a,b", "decimal fraction"),
        ("1.5,0.5", "in \\[0, 1\\]"),
        ("0.5,0.5,0.6,0.1", "x \\+ w"),
        ("0.5,0.5,0.1,0.6", "y \\+ h"),
        ("0." + "1" * 200 + ",0.5", "longer than"),
    ],
)
def test_parse_focus_refuses_with_400_invalid_focus(text: str, why: str) -> None:
    with pytest.raises(BadRequest, match=why) as caught:
        parse_focus(text)
    assert caught.value.status_code == 400
    assert caught.value.code == "invalid_focus"


@pytest.mark.parametrize(
    "values", [(-0.1, 0, 0, 0), (0.5, 0.5, 0.6, 0), (0, 0, 0, 1.1), (float("nan"), 0, 0, 0)]
)
def test_a_focus_outside_the_image_cannot_be_built(
    values: tuple[float, float, float, float],
) -> None:
    with pytest.raises(ValueError):
        Focus(*values)


def test_to_dict_is_the_description_object() -> None:
    assert Focus(0.1, 0.2, 0.3, 0.4, "faces").to_dict() == {
        "x": 0.1,
        "y": 0.2,
        "w": 0.3,
        "h": 0.4,
        "source": "faces",
    }


def test_focus_and_crop_load_neither_numpy_nor_opencv() -> None:
    """Parsing a focus and placing a crop cost nothing; only ``detect`` loads them."""
    code = (
        "import json, sys\n"
        "from imgsvc.pipeline import focus, crop\n"
        "focus.parse_focus('0.5,0.5')\n"
        "print(json.dumps([m for m in ('numpy', 'cv2', 'skimage') if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_a_flat_picture_has_its_focus_in_the_centre() -> None:
    pytest.importorskip("cv2", reason="detection needs the quality extra (numpy, OpenCV)")
    assert detect(Image.new("RGB", (800, 600), (128, 128, 128))) == CENTRE
    assert detect(Image.new("L", (300, 900), 40)) == CENTRE


def test_one_textured_saturated_object_draws_attention() -> None:
    pytest.importorskip("cv2", reason="detection needs the quality extra (numpy, OpenCV)")
    im = Image.new("RGB", (1200, 800), (128, 128, 128))
    draw = ImageDraw.Draw(im)
    rng = random.Random(12)
    left, top, right, bottom = 780, 160, 1020, 400  # x 0.65-0.85, y 0.2-0.5
    for _ in range(400):
        x, y = rng.randrange(left, right - 12), rng.randrange(top, bottom - 12)
        colour = rng.choice([(230, 20, 30), (20, 60, 230), (250, 200, 0)])
        draw.rectangle((x, y, x + 12, y + 12), fill=colour)
    focus = detect(im)
    assert focus.source == "attention"
    assert 0.55 <= focus.x <= 0.70 and focus.x + focus.w <= 0.95, focus
    assert 0.10 <= focus.y <= 0.25 and focus.y + focus.h <= 0.60, focus
    cx, cy = focus.centre
    assert 0.65 <= cx <= 0.85 and 0.2 <= cy <= 0.5, focus


def test_the_astronaut_is_found_by_her_face() -> None:
    pytest.importorskip("cv2", reason="detection needs the quality extra (numpy, OpenCV)")
    skdata = pytest.importorskip(
        "skimage.data", reason="scikit-image ships the face cascade and the astronaut photo"
    )
    im = Image.fromarray(skdata.astronaut())
    for side in (512, 1920):  # as uploaded, and at the largest planned width
        focus = detect(im.resize((side, side), Image.Resampling.LANCZOS))
        assert focus.source == "faces"
        # Her face spans about x 0.35-0.51, y 0.15-0.31; the box adds headroom.
        assert 0.25 <= focus.x <= 0.36 and 0.50 <= focus.x + focus.w <= 0.62, focus
        assert 0.0 <= focus.y <= 0.15 and 0.30 <= focus.y + focus.h <= 0.45, focus
