"""Camera frames into an output of another shape, never stretched: crop to cover, or pad to contain.

Frames are numpy ``HxWx3 uint8 RGB``; ``fit_frame`` returns the output-sized frame. ``cover`` scales the
frame so it fills the output and crops the overflow, centred (the same rule as ``background.image``);
``contain`` scales it to fit inside and pads the rest with black. Shrinking uses an area filter.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from vcamstyle.frames import shrink

log = logging.getLogger(__name__)

FITS = ("cover", "contain")


def aspect_differs(frame_size: tuple[int, int], size: tuple[int, int], tolerance: float = 0.01) -> bool:
    """Whether ``(H, W)`` sizes have aspect ratios more than ``tolerance`` (relative) apart."""
    a = frame_size[1] / frame_size[0]
    b = size[1] / size[0]
    return abs(a - b) / b > tolerance


def fit_frame(frame: np.ndarray, size: tuple[int, int], fit: str = "cover") -> np.ndarray:
    """``frame`` (``HxWx3 uint8``) at ``size = (H, W)`` with its aspect ratio kept (see the module doc)."""
    h, w = frame.shape[:2]
    th, tw = size
    if (h, w) == (th, tw):
        return frame
    if not aspect_differs((h, w), size):
        return shrink(frame, size)
    if fit == "contain":
        scale = min(th / h, tw / w)
        nh, nw = min(th, max(1, round(h * scale))), min(tw, max(1, round(w * scale)))
        inner = shrink(frame, (nh, nw))
        top, left = (th - nh) // 2, (tw - nw) // 2
        return cv2.copyMakeBorder(inner, top, th - nh - top, left, tw - nw - left, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    if fit != "cover":
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    scale = max(th / h, tw / w)
    ch, cw = min(h, max(1, round(th / scale))), min(w, max(1, round(tw / scale)))
    top, left = (h - ch) // 2, (w - cw) // 2
    return shrink(np.ascontiguousarray(frame[top:top + ch, left:left + cw]), size)


def describe_fit(frame_size: tuple[int, int], size: tuple[int, int], fit: str) -> str:
    """One log line for a camera of another shape than the output, e.g. ``camera 640x480 (1.33:1) ...``."""
    (h, w), (th, tw) = frame_size, size
    how = "cropped to cover it (centred)" if fit == "cover" else "shown whole with black bars"
    return (f"camera picture {w}x{h} ({w / h:.2f}:1) differs in shape from the output {tw}x{th} ({tw / th:.2f}:1): "
            f"{how}, not stretched (output.fit: {fit})")


class FrameFitter:
    """``fit_frame`` for a stream of camera frames: logs the shape mismatch once per (camera size, output
    size, fit), not per frame."""

    def __init__(self) -> None:
        self._logged: tuple | None = None

    def __call__(self, frame: np.ndarray, size: tuple[int, int], fit: str = "cover") -> np.ndarray:
        if frame.shape[:2] == tuple(size):
            return frame
        key = (frame.shape[:2], tuple(size), fit)
        if key != self._logged and aspect_differs(frame.shape[:2], size):
            self._logged = key
            log.info("%s", describe_fit(frame.shape[:2], size, fit))
        return fit_frame(frame, size, fit)
