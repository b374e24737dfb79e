"""The one loader for every picture a user names: style images, background images, render inputs.

Built on Pillow, so files arrive as users have them (phone photos, scans, exports), not only as tests
make them:

- **Orientation**: the EXIF/XMP orientation is applied (``ImageOps.exif_transpose``): a phone photo
  stored sideways with Orientation=6 is used upright, as every photo viewer shows it.
- **Bit depth and colour modes**: 16-bit and 32-bit greyscale (``I;16``, ``I``) are scaled to 8 bits
  (not clipped); ``F`` (float) is read as [0, 1]; greyscale, bilevel, palette, CMYK and YCbCr become RGB.
- **Transparency** (RGBA, LA, palette with a transparent index): transparent areas are filled with the
  colour of the region that uses the picture (``person.color`` / ``background.color``, default
  ``#202020``): a half-transparent pixel is mixed with that colour. The picture then replaces the whole
  region, as an opaque one would.
- **Colour profiles**: an embedded ICC profile (Adobe RGB, Display P3, CMYK press profiles) is converted
  to sRGB with ``ImageCms``; a profile that cannot be applied is logged and the pixels are used as they are.
- **Limits before decoding**: the size is read from the header; more than ``MAX_PIXELS`` is refused
  before any pixel is decoded (a 30000x30000 PNG is a few hundred bytes on disk and 2.7 GB decoded).
- **One resample**: the picture goes from the file to the size it is used at in one Lanczos resample
  (cropped to cover for backgrounds, to each method's style size for styles). JPEGs are decoded at a
  reduced DCT scale first when that is still larger than the target (``Image.draft``), which is free.

A missing, unreadable, empty, truncated or over-limit file raises ``StyleImageError`` naming the file
and what to do; the caller keeps its previous state.
"""

from __future__ import annotations

import io
import logging
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Union

import numpy as np
from PIL import Image, ImageCms, ImageOps

from vcamstyle.errors import StyleImageError
from vcamstyle.paths import why_not_a_file
from vcamstyle.models.weights import sha256_file

log = logging.getLogger(__name__)

#: Larger images are refused before decoding (a 30000x30000 RGB image would need 2.7 GB).
MAX_PIXELS = 40_000_000
#: Pictures loaded without a target size are shrunk so that their long side is at most this.
MAX_SIDE = 2048
#: What transparent areas are filled with when the caller names no colour (the config's default region colour).
DEFAULT_FILL = (32, 32, 32)
#: EXIF orientations that swap width and height.
_TRANSPOSED = {5, 6, 7, 8}
_ORIENTATION_TAG = 0x0112

#: A target: ``None`` (own size, long side at most MAX_SIDE), ``(H, W)`` (fitted by ``fit``), or a function
#: of the upright (H, W) returning the (H, W) to resize the whole picture to (aspect is the caller's choice).
Target = Union[None, tuple[int, int], Callable[[int, int], tuple[int, int]]]


@dataclass(frozen=True)
class PictureInfo:
    """What the header says: the upright size (EXIF orientation applied), the format and the mode."""

    path: Path
    width: int
    height: int
    format: str
    mode: str


def file_digest(path: Path) -> str:
    """sha256 of the file's bytes (the identity of a referenced picture: cache key and change detection)."""
    return sha256_file(path)


def _too_large(what: str, path: Path, detail: str) -> StyleImageError:
    return StyleImageError(f"{what} {path} is too large ({detail}, limit {MAX_PIXELS // 1_000_000} megapixels)",
                           hint=f"shrink it, e.g. `convert {path.name} -resize {MAX_SIDE}x{MAX_SIDE} smaller.png`")


def _open(path: Path, what: str) -> Image.Image:
    """Open ``path`` lazily (header only) after the file checks; raises ``StyleImageError``."""
    problem = why_not_a_file(path)
    if problem is not None:
        hint = "name an image file in it" if problem.startswith("is a directory") else \
            "check the path in config.yaml (relative paths start at the config file's folder)"
        raise StyleImageError(f"{what} {path} {problem}", hint=hint)
    if path.stat().st_size == 0:
        raise StyleImageError(f"{what} {path} is an empty file", hint="replace it with a real PNG or JPEG image")
    if not os.access(path, os.R_OK):
        raise StyleImageError(f"{what} {path} is not readable (permission denied)",
                              hint=f"make it readable: `chmod u+r {path}`")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(what, path, str(exc).split(" pixels")[0].replace("Image size (", "")) from exc
    except PermissionError as exc:
        raise StyleImageError(f"{what} {path} is not readable ({exc.strerror})",
                              hint=f"make it readable: `chmod u+r {path}`") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise StyleImageError(f"{what} {path} cannot be read: it is not an image ({exc})",
                              hint="use a PNG or JPEG (or WebP) image") from exc
    width, height = img.size
    if width <= 0 or height <= 0:
        img.close()
        raise StyleImageError(f"{what} {path} has zero size ({width}x{height})", hint="use a real image")
    if width * height > MAX_PIXELS:
        img.close()
        raise _too_large(what, path, f"{width}x{height} pixels")
    return img


def _orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(_ORIENTATION_TAG, 1) or 1)
    except (OSError, ValueError, TypeError) as exc:  # a damaged EXIF block: the pixels are still usable
        log.warning("%s: unreadable EXIF data (%s); orientation not applied", getattr(img, "filename", "image"), exc)
        return 1


def probe(path: Path, what: str = "picture") -> PictureInfo:
    """The header's facts about ``path`` without decoding pixels; ``StyleImageError`` for what ``load``
    would refuse before decoding (missing, empty, unreadable, not an image, over ``MAX_PIXELS``)."""
    path = Path(path)
    with _open(path, what) as img:
        width, height = img.size
        if _orientation(img) in _TRANSPOSED:
            width, height = height, width
        return PictureInfo(path, width, height, str(img.format), img.mode)


def _plan(upright: tuple[int, int], target: Target, fit: str) -> tuple[tuple[int, int], tuple[float, float, float, float], tuple[int, int]]:
    """(size (H, W) of the resampled picture, crop box as fractions (l, t, r, b) of the upright picture,
    canvas size (H, W)) for a picture of upright size ``(H, W)``."""
    h, w = upright
    whole = (0.0, 0.0, 1.0, 1.0)
    if target is None:
        scale = min(1.0, MAX_SIDE / max(h, w))
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        return size, whole, size
    if callable(target):
        size = tuple(int(v) for v in target(h, w))
        return size, whole, size  # type: ignore[return-value]
    th, tw = target
    if fit == "contain":
        scale = min(th / h, tw / w)
        size = (min(th, max(1, round(h * scale))), min(tw, max(1, round(w * scale))))
        return size, whole, (th, tw)
    scale = max(th / h, tw / w)  # cover: crop the overflow, centred
    crop_w, crop_h = tw / scale / w, th / scale / h
    left, top = (1 - crop_w) / 2, (1 - crop_h) / 2
    return (th, tw), (left, top, left + crop_w, top + crop_h), (th, tw)


def _apply_profile(img: Image.Image, path: Path) -> Image.Image:
    """Convert an image with an embedded ICC profile to sRGB (RGB, or RGBA keeping alpha)."""
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return img
    alpha = img.getchannel("A") if img.mode == "RGBA" else None
    base = img.convert("RGB") if img.mode == "RGBA" else img
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(base, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        log.warning("%s: the embedded colour profile could not be applied (%s); using the pixels as stored", path, exc)
        return img
    assert converted is not None  # profileToProfile returns the image unless inPlace
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


def _to_rgb(img: Image.Image, fill: tuple[int, int, int], path: Path) -> Image.Image:
    """Any Pillow mode -> ``RGB`` 8 bits: deep greyscale scaled, profiles to sRGB, transparency over ``fill``."""
    if img.mode.startswith("I;16") or img.mode == "I":
        deep = np.asarray(img, dtype=np.float64)
        # I;16 holds 16-bit samples; Pillow also opens 16-bit PNG/TIFF greyscale as "I" (same range).
        img = Image.fromarray(np.clip(deep / 257.0 + 0.5, 0, 255).astype(np.uint8), "L")
    elif img.mode == "F":
        samples = np.asarray(img, dtype=np.float64)
        img = Image.fromarray(np.clip(np.nan_to_num(samples) * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    img = _apply_profile(img, path)
    if img.mode == "P" or "transparency" in img.info or img.mode in ("LA", "La", "PA", "RGBa"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        if img.getextrema()[3][0] < 255:
            canvas = Image.new("RGB", img.size, fill)
            canvas.paste(img, mask=img.getchannel("A"))
            return canvas
        return img.convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")


def load_picture(path: Path, what: str = "style image", target: Target = None, fit: str = "cover",
                 fill: tuple[int, int, int] = DEFAULT_FILL) -> np.ndarray:
    """Read ``path`` as ``HxWx3 uint8 RGB`` at the size it is used at, in one resample.

    ``target``: ``None`` keeps the picture's size (long side at most ``MAX_SIDE``); ``(H, W)`` fits it to
    exactly that size (``fit="cover"``: scaled to fill and the overflow cropped, centred; ``"contain"``:
    scaled to fit and the rest filled with ``fill``); a function of the upright ``(H, W)`` gives the size
    to resize the whole picture to (it may raise ``StyleImageError`` to refuse a shape).
    ``fill``: RGB used for transparent areas (and ``contain`` padding).
    Raises ``StyleImageError`` for a missing, empty, unreadable, truncated, non-image or over-limit file.
    """
    path = Path(path)
    img = _open(path, what)
    try:
        width, height = img.size
        transposed = _orientation(img) in _TRANSPOSED
        upright = (width, height) if transposed else (height, width)
        size, box, canvas = _plan(upright, target, fit)
        if img.format == "JPEG":
            # Decode at the smallest DCT scale (1/2, 1/4, 1/8) that still covers the needed area at the target size.
            need_h = size[0] / max(1e-9, box[3] - box[1])
            need_w = size[1] / max(1e-9, box[2] - box[0])
            request = (math.ceil(need_h), math.ceil(need_w)) if transposed else (math.ceil(need_w), math.ceil(need_h))
            img.draft(img.mode if img.mode in ("RGB", "L") else None, request)
        img.load()
        upright_img = ImageOps.exif_transpose(img)
        rgb = _to_rgb(upright_img, fill, path)
        w_now, h_now = rgb.size
        pixel_box = (box[0] * w_now, box[1] * h_now, box[2] * w_now, box[3] * h_now)
        if (size[1], size[0]) != rgb.size or pixel_box != (0, 0, w_now, h_now):
            rgb = rgb.resize((size[1], size[0]), Image.Resampling.LANCZOS, box=pixel_box)
        if canvas != size:
            padded = Image.new("RGB", (canvas[1], canvas[0]), fill)
            padded.paste(rgb, ((canvas[1] - size[1]) // 2, (canvas[0] - size[0]) // 2))
            rgb = padded
        return np.asarray(rgb, dtype=np.uint8).copy()
    except StyleImageError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise StyleImageError(f"{what} {path} cannot be read ({exc})",
                              hint="the file is truncated or damaged: save or download it again (PNG, JPEG or WebP)") from exc
    finally:
        img.close()


def load_rgb(path: Path, what: str = "style image") -> np.ndarray:
    """``path`` as ``HxWx3 uint8 RGB`` at its own size, long side at most ``MAX_SIDE`` (see ``load_picture``)."""
    return load_picture(path, what)
