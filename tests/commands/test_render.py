"""vcamstyle.commands.render helpers that need no model: the comparison layout, fps probing, input errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vcamstyle.commands.render import render_file, side_by_side, video_fps
from vcamstyle.config import Config
from vcamstyle.errors import SourceError


def test_side_by_side_layout() -> None:
    rng = np.random.default_rng(0)
    original = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    mask = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    result = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    out = side_by_side(original, mask, result)
    assert out.shape == (20, 90, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, :30], original)
    for channel in range(3):  # the mask as grey
        np.testing.assert_array_equal(out[:, 30:60, channel], mask)
    np.testing.assert_array_equal(out[:, 60:], result)


def test_video_fps_reads_the_file_rate(tmp_path: Path, make_video) -> None:
    video = make_video(tmp_path / "clip.mp4", frames=3, size=(64, 48), fps=12)
    assert video_fps(video) == pytest.approx(12.0, abs=0.01)


def test_video_fps_falls_back_for_a_missing_file(tmp_path: Path) -> None:
    assert video_fps(tmp_path / "missing.mp4", default=25.0) == 25.0


def test_render_file_missing_input(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        render_file(Config(), tmp_path / "missing.png", tmp_path / "out.png")


def test_render_file_unreadable_image(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png at all")
    with pytest.raises(SourceError, match="not a readable image"):
        render_file(Config(), bad, tmp_path / "out.png")


def test_render_reads_images_with_the_picture_loader(tmp_path: Path, grace_hopper_rgb) -> None:
    """The render input goes through the same loader as styles and backgrounds: a sideways phone JPEG
    (EXIF 6) and a 16-bit greyscale PNG come out upright and at their real brightness."""
    from PIL import Image

    from vcamstyle.commands.render import read_frames

    upright = Image.fromarray(grace_hopper_rgb)
    exif = Image.Exif()
    exif[0x0112] = 6
    phone = tmp_path / "phone.jpg"
    upright.transpose(Image.Transpose.ROTATE_90).save(phone, quality=95, exif=exif)
    (frame,) = list(read_frames(phone))
    assert frame.shape == grace_hopper_rgb.shape
    assert np.abs(frame.astype(int) - grace_hopper_rgb).mean() < 3

    grey = np.asarray(upright.convert("L"))
    scan = tmp_path / "scan16.png"
    Image.fromarray(grey.astype(np.uint16) * 257).save(scan)
    (frame,) = list(read_frames(scan))
    assert np.abs(frame[..., 0].astype(int) - grey).max() <= 1


@pytest.mark.parametrize("shape", [(1, 1), (5, 7)])
def test_render_styles_a_tiny_image(tmp_path: Path, shape: tuple[int, int]) -> None:
    """The default config (magenta) on an image smaller than the network's 8x8 minimum: padded and
    cropped back, written at the input's size (it raised in the transformer)."""
    import cv2

    from vcamstyle import paths
    from vcamstyle.config import parse_config

    image = tmp_path / "tiny.png"
    cv2.imwrite(str(image), np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8))
    out = tmp_path / "out.png"
    render_file(parse_config("device: cpu\n", paths.template_config_path()), image, out)
    assert cv2.imread(str(out)).shape == (*shape, 3)
