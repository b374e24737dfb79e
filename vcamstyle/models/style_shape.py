"""The bounds every stylizer puts on a style image's shape, so any picture works in bounded memory or is
refused clearly.

Bound (all methods): the network sees the style image with its long side at most ``STYLE_LONG_CAP``
(1024 px), so at most 1024x512 = 0.5 megapixels for the VGG methods (short side 512 like upstream) and a
256x256 square for Magenta. Refused with ``StyleImageError`` (before any network runs): a short side
under ``STYLE_MIN_SIDE`` (16 px: a strip, not a picture) or an aspect ratio beyond ``STYLE_MAX_ASPECT``
(32:1). Without the cap, a 2048x64 image resized to a 512 px short side is a 16384x512 input (9.6 GB
with SANet's attention); a 1200x3 strip asked for a 26.8 GB tensor.
"""

from __future__ import annotations

from vcamstyle.errors import StyleImageError

#: Long side of the network's style input, at most (all methods).
STYLE_LONG_CAP = 1024
#: A style image's short side must be at least this many pixels.
STYLE_MIN_SIDE = 16
#: Long side / short side, at most.
STYLE_MAX_ASPECT = 32.0


def check_style_shape(height: int, width: int, method: str) -> None:
    """Refuse a degenerate style image (``StyleImageError`` naming its size and the limit)."""
    short, long = min(height, width), max(height, width)
    if short < STYLE_MIN_SIDE:
        raise StyleImageError(
            f"{method}: the style image is {width}x{height} pixels: too thin to carry a style "
            f"(at least {STYLE_MIN_SIDE} px on the short side)",
            hint="use a picture, not a strip: e.g. a crop of the artwork at least 256 px on each side")
    if long / short > STYLE_MAX_ASPECT:
        raise StyleImageError(
            f"{method}: the style image is {width}x{height} pixels: too elongated "
            f"(aspect {long / short:.0f}:1, at most {STYLE_MAX_ASPECT:.0f}:1)",
            hint="crop it to a less extreme shape, e.g. a square part of the artwork")


def bounded_style_size(height: int, width: int, short_side: int | None, method: str,
                       long_cap: int = STYLE_LONG_CAP, min_side: int = 1) -> tuple[int, int]:
    """The (H, W) a method feeds its network: short side ``short_side`` (up or down; ``None`` keeps the
    size), scaled down further so the long side is at most ``long_cap``, aspect kept, each side at least
    ``min_side``. Degenerate shapes are refused first (``check_style_shape``)."""
    check_style_shape(height, width, method)
    scale = 1.0 if short_side is None else short_side / min(height, width)
    scale = min(scale, long_cap / max(height, width))
    return max(min_side, round(height * scale)), max(min_side, round(width * scale))
