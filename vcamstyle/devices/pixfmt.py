"""Colour conversion for sink output: ``HxWx3 uint8 RGB`` to the pixel formats the virtual camera takes,
and the table of output format names (config ``output.format``) to pyvirtualcam formats."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pyvirtualcam

from vcamstyle.errors import SinkError

OUTPUT_FORMATS = ("yuyv", "i420", "rgb")


def rgb_to_yuyv(frame: np.ndarray) -> np.ndarray:
    """``HxWx3 uint8 RGB`` -> packed YUYV 4:2:2, ``HxWx2 uint8`` (BT.601, limited range); W must be even."""
    return cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_YUYV)


def rgb_to_i420(frame: np.ndarray) -> np.ndarray:
    """``HxWx3 uint8 RGB`` -> planar I420, ``(H*3/2)xW uint8``: Y plane, then U, then V at half resolution
    (BT.601, limited range); W and H must be even."""
    return cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)


PIXEL_FORMATS: dict[str, tuple[pyvirtualcam.PixelFormat, Callable[[np.ndarray], np.ndarray] | None]] = {
    "yuyv": (pyvirtualcam.PixelFormat.YUYV, rgb_to_yuyv),
    "i420": (pyvirtualcam.PixelFormat.I420, rgb_to_i420),
    "rgb": (pyvirtualcam.PixelFormat.RGB, None),
}


def check_format_size(pixel_format: str, width: int, height: int) -> None:
    """Raise SinkError when ``pixel_format`` is unknown or the size does not fit its chroma subsampling."""
    if pixel_format not in PIXEL_FORMATS:
        raise SinkError(f"unknown output format {pixel_format!r}", hint=f"use one of {', '.join(OUTPUT_FORMATS)}")
    if pixel_format in ("yuyv", "i420") and width % 2:
        raise SinkError(f"{pixel_format} output needs an even width, got {width}", hint="use an even output width")
    if pixel_format == "i420" and height % 2:
        raise SinkError(f"i420 output needs an even height, got {height}", hint="use an even output height")
