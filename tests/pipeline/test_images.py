"""vcamstyle.pipeline.images: safe loading of style/background images and their content digest."""

from __future__ import annotations

import hashlib
import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vcamstyle import paths
from vcamstyle.errors import StyleImageError
from vcamstyle.pipeline.images import MAX_PIXELS, MAX_SIDE, file_digest, load_rgb

BUNDLED_STYLES = sorted(paths.bundled_styles_dir().glob("*.png"))


def test_there_are_bundled_styles() -> None:
    assert len(BUNDLED_STYLES) >= 8


@pytest.mark.parametrize("style", BUNDLED_STYLES, ids=lambda p: p.stem)
def test_load_rgb_bundled_styles(style: Path) -> None:
    image = load_rgb(style)
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
    assert max(image.shape[:2]) <= MAX_SIDE
    assert image.std() > 5  # a real picture, not a flat fill
    with Image.open(style) as reference:
        expected = np.asarray(reference.convert("RGB"))
    if max(expected.shape[:2]) <= MAX_SIDE:
        np.testing.assert_array_equal(image, expected)


def test_load_rgb_is_rgb_order(tmp_path: Path) -> None:
    pixels = np.zeros((4, 6, 3), np.uint8)
    pixels[..., 0] = 255  # pure red
    Image.fromarray(pixels).save(tmp_path / "red.png")
    image = load_rgb(tmp_path / "red.png")
    assert image[0, 0].tolist() == [255, 0, 0]


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK"])
def test_load_rgb_converts_other_modes_to_rgb(tmp_path: Path, mode: str) -> None:
    suffix = "jpg" if mode == "CMYK" else "png"
    path = tmp_path / f"image.{suffix}"
    Image.new("RGB", (10, 7), (200, 100, 50)).convert(mode).save(path)
    image = load_rgb(path)
    assert image.shape == (7, 10, 3) and image.dtype == np.uint8


def test_load_rgb_caps_the_long_side(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    Image.new("RGB", (2600, 1300), (90, 120, 150)).save(path)
    image = load_rgb(path)
    assert image.shape == (MAX_SIDE // 2, MAX_SIDE, 3)  # long side capped, aspect kept
    assert image[0, 0].tolist() == [90, 120, 150]


def test_load_rgb_cap_follows_max_side(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vcamstyle.pipeline.images.MAX_SIDE", 64)
    path = tmp_path / "tall.png"
    Image.new("RGB", (100, 300)).save(path)
    assert load_rgb(path).shape == (64, 21, 3)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StyleImageError, match="does not exist") as info:
        load_rgb(tmp_path / "nope.png")
    assert "nope.png" in str(info.value) and info.value.hint


def test_directory_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(StyleImageError, match="is a directory, not a file"):
        load_rgb(tmp_path)


def test_zero_byte_file(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(StyleImageError, match="empty file") as info:
        load_rgb(tmp_path / "empty.png")
    assert "empty.png" in info.value.message and info.value.hint


def test_unreadable_garbage(tmp_path: Path) -> None:
    path = tmp_path / "garbage.png"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(StyleImageError, match="cannot be read") as info:
        load_rgb(path, "background image")
    assert info.value.message.startswith("background image ") and "garbage.png" in info.value.message
    assert "PNG or JPEG" in (info.value.hint or "")


def test_truncated_png(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
    path = tmp_path / "truncated.png"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(StyleImageError, match="cannot be read"):
        load_rgb(path)


@pytest.mark.parametrize("width, height", [(30000, 30000), (10000, 9000), (8000, 6000)])
def test_huge_image_is_refused_as_too_large(tmp_path: Path, png_claiming_size, width: int, height: int) -> None:
    assert width * height > MAX_PIXELS
    path = png_claiming_size(tmp_path / "huge.png", width, height)
    assert path.stat().st_size < 1000  # cheap to make: only the header claims the size
    assert struct.unpack(">II", path.read_bytes()[16:24]) == (width, height)
    with pytest.raises(StyleImageError, match="too large") as info:
        load_rgb(path)
    assert "huge.png" in info.value.message
    assert "shrink" in (info.value.hint or "")


def test_file_digest_is_the_sha256_of_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    data = bytes(range(256)) * 5000  # > 1 MiB: several read chunks
    path.write_bytes(data)
    assert file_digest(path) == hashlib.sha256(data).hexdigest()
    assert file_digest(path) == file_digest(path)  # stable


def test_file_digest_depends_on_content_not_name(tmp_path: Path) -> None:
    style = BUNDLED_STYLES[0]
    copy = tmp_path / "renamed.png"
    copy.write_bytes(style.read_bytes())
    assert file_digest(copy) == file_digest(style)
    changed = tmp_path / "changed.png"
    changed.write_bytes(style.read_bytes() + b"\0")
    assert file_digest(changed) != file_digest(style)
