"""The still-scene denoiser where the output needs only the camera's grey at full resolution.

When both regions are painted (``composite_cv.guided_blend``), the full-resolution camera frame
reaches the output only as the guided filter's grey guide; its colour reaches it only through the
networks, at their low resolution. So instead of steadying the whole RGB frame at 1280x720
(``composite_cv.still_denoise``, three channels blended per pixel), ``SplitDenoiser`` steadies the
grey frame at full resolution and each network input at its own size, with one motion judgement per
frame (``composite_cv.still_keep`` on the grey frame). Area shrinking and the per-pixel blend
commute where the share kept is smooth (it is, on a grid 4 times coarser than the frame), so the
networks see what they saw when the full frame was denoised first.

Frames are ``HxWx3 uint8 RGB``; the grey frame ``HxW uint8`` (BT.601).
"""

from __future__ import annotations

import cv2
import numpy as np

from vcamstyle.pipeline.composite_cv import keep_history, still_keep


class SplitDenoiser:
    """Per-frame state: the denoised grey frame, the denoised network inputs by size, this frame's share
    of history to keep (``None`` on a first frame or after a change of size)."""

    def __init__(self, amount: float) -> None:
        self.amount = amount
        self._grey: np.ndarray | None = None
        self._keep: np.ndarray | None = None
        self._small: dict[tuple[int, ...], np.ndarray] = {}

    def reset(self) -> None:
        self._grey, self._keep, self._small = None, None, {}

    def grey(self, frame: np.ndarray) -> np.ndarray:
        """The denoised ``HxW uint8`` grey of ``frame``; judges this frame's motion for ``small`` too."""
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if self._grey is None or self._grey.shape != grey.shape or self.amount <= 0:
            self.reset()
            self._grey = grey
            return grey
        self._keep = still_keep(grey, self._grey, self.amount)
        self._grey = keep_history(self._grey, grey, self._keep)
        return self._grey

    def small(self, image: np.ndarray) -> np.ndarray:
        """A network input (``hxwx3 uint8``, shrunk from this frame) steadied like the grey frame (the
        share kept on each part of the picture is the one ``grey`` judged for it)."""
        previous = self._small.get(image.shape)
        if previous is not None and self._keep is not None:
            image = keep_history(previous, image, self._keep)
        self._small[image.shape] = image
        return image
