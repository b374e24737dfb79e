"""Loading user images (style and background images) safely.

A bad image never reaches the pipeline: a missing, unreadable, empty or huge file raises
``StyleImageError`` naming the file and what to do, and the caller keeps its previous state.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from vcamstyle.errors import StyleImageError
from vcamstyle.models.weights import sha256_file

#: Larger images are refused before decoding (a 30000x30000 RGB image would need 2.7 GB).
MAX_PIXELS = 40_000_000
#: Images are shrunk so that their long side is at most this many pixels after loading.
MAX_SIDE = 2048


def file_digest(path: Path) -> str:
    """sha256 of the file's bytes (the cache key for encoded styles)."""
    return sha256_file(path)


def load_rgb(path: Path, what: str = "style image") -> np.ndarray:
    """Read ``path`` as ``HxWx3 uint8 RGB``, long side at most ``MAX_SIDE``.

    Raises ``StyleImageError`` for a missing, empty, unreadable, zero-size or huge file.
    """
    path = Path(path)
    if not path.is_file():
        raise StyleImageError(f"{what} {path} does not exist", hint="check the path in config.yaml (relative paths start at the config file's folder)")
    if path.stat().st_size == 0:
        raise StyleImageError(f"{what} {path} is an empty file", hint="replace it with a real PNG or JPEG image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                if width <= 0 or height <= 0:
                    raise StyleImageError(f"{what} {path} has zero size ({width}x{height})", hint="use a real image")
                if width * height > MAX_PIXELS:
                    raise StyleImageError(
                        f"{what} {path} is too large ({width}x{height} pixels, limit {MAX_PIXELS // 1_000_000} megapixels)",
                        hint=f"shrink it, e.g. `convert {path.name} -resize {MAX_SIDE}x{MAX_SIDE} smaller.png`",
                    )
                img.draft("RGB", (MAX_SIDE, MAX_SIDE))
                rgb = img.convert("RGB")
                if max(rgb.size) > MAX_SIDE:
                    rgb.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
                return np.asarray(rgb, dtype=np.uint8).copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # PIL refuses images above ~89 megapixels inside Image.open, before the size check above.
        raise StyleImageError(
            f"{what} {path} is too large (limit {MAX_PIXELS // 1_000_000} megapixels; {exc})",
            hint=f"shrink it, e.g. `convert {path.name} -resize {MAX_SIDE}x{MAX_SIDE} smaller.png`",
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise StyleImageError(f"{what} {path} cannot be read ({exc})", hint="use a PNG or JPEG image") from exc
