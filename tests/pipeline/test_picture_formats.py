"""The picture loader on files as users have them, made here from real photos.

Each row of the table is one real-world way of storing a photo (phone JPEGs with EXIF orientation,
16-bit greyscale PNGs, palette PNGs, CMYK JPEGs, RGBA PNGs, progressive JPEGs, WebP, ...); the loader
must give the upright photo with its colours, as a photo viewer shows it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from matplotlib import cbook
from PIL import Image, ImageCms, features
from skimage import data as skdata

from vcamstyle.errors import StyleImageError
from vcamstyle.pipeline.images import MAX_PIXELS, load_picture, load_rgb, probe


@pytest.fixture(scope="module")
def hopper() -> Image.Image:
    """Grace Hopper's portrait, 512 wide x 600 tall (not square, so a lost rotation changes the shape)."""
    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as img:
        return img.convert("RGB").copy()


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.fromarray(skdata.astronaut()).crop((0, 0, 512, 384))  # 4:3, not square


def _mean_diff(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def _exif_with_orientation(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif


# How a camera stores an upright photo for each orientation tag (the viewer applies the inverse).
_STORED = {6: Image.Transpose.ROTATE_90, 3: Image.Transpose.ROTATE_180, 8: Image.Transpose.ROTATE_270}


@pytest.mark.parametrize("orientation", [6, 3, 8])
def test_exif_orientation_is_applied(tmp_path: Path, hopper: Image.Image, orientation: int) -> None:
    path = tmp_path / f"phone_{orientation}.jpg"
    hopper.transpose(_STORED[orientation]).save(path, quality=95, exif=_exif_with_orientation(orientation))
    loaded = load_rgb(path)
    upright = np.asarray(hopper)
    assert loaded.shape == upright.shape  # 600 x 512: tall, as the photo was taken
    assert _mean_diff(loaded, upright) < 3.0
    assert (probe(path).height, probe(path).width) == (600, 512)


def test_exif_orientation_is_applied_with_a_target_size(tmp_path: Path, hopper: Image.Image) -> None:
    """A sideways phone photo used as a 16:9 background: upright first, then cropped to cover."""
    path = tmp_path / "phone.jpg"
    hopper.transpose(Image.Transpose.ROTATE_90).save(path, quality=95, exif=_exif_with_orientation(6))
    loaded = load_picture(path, "background image", (180, 320))
    reference = np.asarray(hopper.resize((320, 180), Image.Resampling.LANCZOS, box=(0, 156, 512, 444)))
    assert loaded.shape == (180, 320, 3)
    assert _mean_diff(loaded, reference) < 3.0


def _grey(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("L"))


def test_16_bit_greyscale_png_is_scaled_not_clipped(tmp_path: Path, hopper: Image.Image) -> None:
    grey8 = _grey(hopper)
    path = tmp_path / "scan16.png"
    Image.fromarray(grey8.astype(np.uint16) * 257).save(path)
    with Image.open(path) as raw:
        assert raw.mode in ("I;16", "I")  # what Pillow makes of it
    loaded = load_rgb(path)
    expected = np.repeat(grey8[..., None], 3, axis=2)
    assert np.abs(loaded.astype(int) - expected).max() <= 1  # not "almost white"
    assert loaded.mean() == pytest.approx(grey8.mean(), abs=0.5)


def test_16_bit_rgb_png_keeps_its_colours(tmp_path: Path, astronaut: Image.Image) -> None:
    import cv2

    rgb8 = np.asarray(astronaut)
    path = tmp_path / "rgb16.png"
    cv2.imwrite(str(path), cv2.cvtColor(rgb8.astype(np.uint16) * 257, cv2.COLOR_RGB2BGR))
    assert np.abs(load_rgb(path).astype(int) - rgb8).max() <= 1


def _row_palette(img: Image.Image, path: Path) -> np.ndarray:
    palette = img.convert("P", palette=Image.Palette.ADAPTIVE, colors=256)
    palette.save(path)
    return np.asarray(palette.convert("RGB"))


def _row_cmyk(img: Image.Image, path: Path) -> np.ndarray:
    img.convert("CMYK").save(path, quality=95)
    return np.asarray(img)


def _row_grey_jpeg(img: Image.Image, path: Path) -> np.ndarray:
    img.convert("L").save(path, quality=95)
    return np.repeat(_grey(img)[..., None], 3, axis=2)


def _row_progressive(img: Image.Image, path: Path) -> np.ndarray:
    img.save(path, quality=95, progressive=True)
    return np.asarray(img)


def _row_webp(img: Image.Image, path: Path) -> np.ndarray:
    img.save(path, quality=95)
    return np.asarray(img)


def _row_srgb_profile(img: Image.Image, path: Path) -> np.ndarray:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    img.save(path, icc_profile=profile)
    return np.asarray(img)


def _row_bilevel(img: Image.Image, path: Path) -> np.ndarray:
    bilevel = img.convert("1")
    bilevel.save(path)
    return np.asarray(bilevel.convert("RGB"))


FORMATS: dict[str, tuple[str, Callable[[Image.Image, Path], np.ndarray], float]] = {
    # name: (suffix, writer returning the expected RGB, largest mean abs difference allowed)
    "palette png": ("png", _row_palette, 0.5),
    "cmyk jpeg": ("jpg", _row_cmyk, 3.0),
    "greyscale jpeg": ("jpg", _row_grey_jpeg, 2.0),
    "progressive jpeg": ("jpg", _row_progressive, 3.0),
    "webp": ("webp", _row_webp, 4.0),
    "png with an sRGB profile": ("png", _row_srgb_profile, 0.5),
    "bilevel png": ("png", _row_bilevel, 0.5),
}


@pytest.mark.parametrize("name", list(FORMATS))
@pytest.mark.parametrize("photo", ["hopper", "astronaut"])
def test_format_table(tmp_path: Path, request: pytest.FixtureRequest, name: str, photo: str) -> None:
    suffix, write, tolerance = FORMATS[name]
    if suffix == "webp" and not features.check("webp"):
        pytest.skip("this Pillow has no WebP support")
    img = request.getfixturevalue(photo)
    path = tmp_path / f"{photo}.{suffix}"
    expected = write(img, path)
    loaded = load_rgb(path)
    assert loaded.dtype == np.uint8 and loaded.shape == expected.shape
    assert _mean_diff(loaded, expected) <= tolerance


def test_transparent_areas_take_the_region_colour(tmp_path: Path, astronaut: Image.Image) -> None:
    """RGBA: opaque pixels are the photo, transparent ones the fill colour, half-transparent a mix."""
    rgba = astronaut.convert("RGBA")
    alpha = np.full((384, 512), 255, np.uint8)
    alpha[:, :128] = 0
    alpha[:, 128:256] = 128
    rgba.putalpha(Image.fromarray(alpha))
    path = tmp_path / "cutout.png"
    rgba.save(path)
    fill = (0, 128, 255)
    loaded = load_picture(path, "background image", (384, 512), fill=fill).astype(int)
    photo = np.asarray(astronaut).astype(int)
    assert (loaded[:, :128] == fill).all()
    assert np.abs(loaded[:, 256:] - photo[:, 256:]).max() == 0
    mix = (photo[:, 128:256] * 128 + np.array(fill) * 127) / 255
    assert np.abs(loaded[:, 128:256] - mix).max() <= 1.5


def test_grey_with_alpha_and_palette_transparency(tmp_path: Path) -> None:
    la = Image.new("LA", (20, 10), (200, 0))
    la.paste((50, 255), (10, 0, 20, 10))
    la.save(tmp_path / "la.png")
    loaded = load_rgb(tmp_path / "la.png")
    assert loaded[0, 0].tolist() == [32, 32, 32] and loaded[0, 15].tolist() == [50, 50, 50]
    pal = Image.new("P", (20, 10), 0)
    pal.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    pal.paste(1, (10, 0, 20, 10))
    pal.save(tmp_path / "pal.png", transparency=0)
    loaded = load_picture(tmp_path / "pal.png", fill=(1, 2, 3))
    assert loaded[0, 0].tolist() == [1, 2, 3] and loaded[0, 15].tolist() == [0, 255, 0]


def test_cover_is_one_resample_of_the_centre(tmp_path: Path, hopper: Image.Image) -> None:
    """A 512x600 portrait as a 16:9 background: the centre band, scaled once (equal to Pillow's own
    single Lanczos resample of that band), not stretched."""
    path = tmp_path / "portrait.png"
    hopper.save(path)
    loaded = load_picture(path, "background image", (90, 160))
    band = (0, 300 - 144, 512, 300 + 144)  # 512 wide, 288 tall: the 16:9 centre
    expected = np.asarray(hopper.resize((160, 90), Image.Resampling.LANCZOS, box=band))
    assert np.array_equal(loaded, expected)


def test_contain_pads_with_the_fill_colour(tmp_path: Path, hopper: Image.Image) -> None:
    path = tmp_path / "portrait.png"
    hopper.save(path)
    loaded = load_picture(path, "render input", (90, 160), fit="contain", fill=(0, 0, 0))
    assert loaded.shape == (90, 160, 3)
    assert loaded[:, :40].max() == 0 and loaded[:, -40:].max() == 0  # 77 px of photo in the middle
    assert loaded[:, 50:110].std() > 10


def test_large_jpeg_is_decoded_at_a_reduced_scale(tmp_path: Path, hopper: Image.Image, monkeypatch) -> None:
    """A 4096x4800 JPEG used at 256x300: Pillow's DCT scaling (draft) is used, the result matches a
    full decode resampled once."""
    big = hopper.resize((4096, 4800), Image.Resampling.BICUBIC)
    path = tmp_path / "big.jpg"
    big.save(path, quality=95)
    drafted: list[tuple] = []
    from PIL import JpegImagePlugin

    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = original(self, mode, size)
        drafted.append((size, self.size))
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    loaded = load_picture(path, "style image", lambda h, w: (300, 256))
    assert drafted and drafted[0][1][0] < 4096  # decoded smaller than the file
    reference = np.asarray(Image.open(path).convert("RGB").resize((256, 300), Image.Resampling.LANCZOS))
    assert loaded.shape == (300, 256, 3) and _mean_diff(loaded, reference) < 2.0


def test_truncated_jpeg_is_refused(tmp_path: Path, hopper: Image.Image) -> None:
    buffer = io.BytesIO()
    hopper.save(buffer, "JPEG", quality=95)
    path = tmp_path / "half.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(StyleImageError, match="cannot be read") as info:
        load_rgb(path, "background image")
    assert "half.jpg" in info.value.message and "again" in info.value.hint


def test_non_image_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("these are my notes, not a picture\n")
    with pytest.raises(StyleImageError, match="not an image"):
        load_rgb(path)
    with pytest.raises(StyleImageError, match="not an image"):
        probe(path)


def test_huge_header_is_refused_before_decoding(tmp_path: Path, png_claiming_size) -> None:
    path = png_claiming_size(tmp_path / "huge.png", 20000, 20000)
    with pytest.raises(StyleImageError, match="too large"):
        probe(path)
    with pytest.raises(StyleImageError, match="too large"):
        load_picture(path, "background image", (720, 1280))
    assert 20000 * 20000 > MAX_PIXELS


def test_unreadable_file_is_reported(tmp_path: Path, hopper: Image.Image) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    path = tmp_path / "secret.png"
    hopper.save(path)
    path.chmod(0)
    with pytest.raises(StyleImageError, match="not readable"):
        probe(path)
