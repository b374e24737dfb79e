"""Face-aware strength, the still-scene input denoiser and the segmenter's automatic choice."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vcamstyle.pipeline import composite, composite_cv
from vcamstyle.pipeline.scene import segmenter_name


def _bust(h: int = 96, w: int = 128) -> torch.Tensor:
    """A head (circle of diameter 24 centred at x=64, top at row 20) on shoulders from row 48 down."""
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    head = ((xx - 64) ** 2 + (yy - 32) ** 2) <= 12 ** 2
    neck = (yy >= 40) & (yy < 48) & ((xx - 64).abs() <= 6)
    shoulders = (yy >= 48) & ((xx - 64).abs() <= 50)
    return (head | neck | shoulders).float().view(1, 1, h, w)


def test_head_extent_finds_the_head_above_the_shoulders() -> None:
    top, centre, width = composite.head_extent(_bust())
    assert top == pytest.approx(20, abs=1.5) and centre == pytest.approx(64, abs=0.5) and width == pytest.approx(25, abs=1)


def test_face_region_covers_the_face_not_the_shoulders_nor_the_background() -> None:
    mask = _bust()
    face = composite.face_region(mask)
    assert face[0, 0, 36, 64] > 0.99  # the middle of the face
    assert face[0, 0, 80, 20] == 0 and face[0, 0, 60, 64] < 0.01  # shoulders, chest
    assert face[0, 0, 32, 5] == 0  # background
    assert float(face.max()) <= 1.0 and float(face.min()) >= 0.0


def test_face_region_is_empty_without_a_person() -> None:
    assert composite.head_extent(torch.zeros(1, 1, 16, 16)) is None
    assert float(composite.face_region(torch.zeros(1, 1, 16, 16)).max()) == 0.0


def test_still_denoise_averages_noise_where_still_and_follows_motion() -> None:
    rng = np.random.default_rng(0)
    clean = np.full((64, 96, 3), 120, np.uint8)
    state = None
    outs = []
    for _ in range(30):
        frame = np.clip(clean + rng.normal(0, 3, clean.shape), 0, 255).astype(np.uint8)
        state = composite_cv.still_denoise(frame, state, 0.7)
        outs.append(state.astype(np.float32))
    noisy_change = 3 * np.sqrt(2) * np.sqrt(2 / np.pi)  # mean |difference| of two noisy frames
    denoised_change = np.mean([np.abs(b - a).mean() for a, b in zip(outs[10:], outs[11:])])
    assert denoised_change < 0.6 * noisy_change
    moved = state.copy()
    moved[:, :48] = 250  # a large change: taken at once, no ghost of the old picture
    out = composite_cv.still_denoise(moved, state, 0.7)
    assert np.abs(out[:, :40].astype(int) - 250).max() <= 1


def test_still_denoise_off_or_first_frame_returns_the_frame() -> None:
    frame = np.zeros((8, 8, 3), np.uint8)
    assert composite_cv.still_denoise(frame, None, 0.7) is frame
    assert composite_cv.still_denoise(frame, np.ones_like(frame), 0.0) is frame


@pytest.mark.parametrize(("configured", "size", "expected"), [
    ("auto", (360, 640), "selfie_landscape"), ("auto", (720, 1280), "selfie_landscape"),
    ("auto", (480, 640), "selfie_landscape"), ("auto", (512, 512), "selfie"), ("auto", (640, 480), "selfie"),
    ("selfie", (360, 640), "selfie"), ("unet_resnet18", (480, 640), "unet_resnet18"),
])
def test_segmenter_is_chosen_for_the_aspect_unless_set(configured: str, size: tuple[int, int], expected: str) -> None:
    assert segmenter_name(configured, size) == expected


def test_the_templates_comment_says_which_model_auto_chooses() -> None:
    """The shipped config.yaml documents ``model: auto``; every aspect it names goes to the model it says
    (it once said 4:3 got the square model, while auto gives 4:3 the landscape one)."""
    import re

    from vcamstyle import paths

    line = next(text for text in paths.template_config_path().read_text().splitlines()
                if text.strip().startswith("model: auto"))
    auto = line.split("#", 1)[1].split("|")[0]
    landscape, square = auto.split(";")
    assert "selfie_landscape" in landscape and "selfie " in square + " "
    named = re.findall(r"(\d+):(\d+)", landscape)
    assert {f"{w}:{h}" for w, h in named} == {"16:9", "4:3"}
    for w, h in named:
        assert segmenter_name("auto", (int(h) * 40, int(w) * 40)) == "selfie_landscape"
    assert "square" in square and "portrait" in square
    assert segmenter_name("auto", (480, 480)) == "selfie" and segmenter_name("auto", (640, 360)) == "selfie"
