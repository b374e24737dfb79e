"""Face legibility for the quality benchmark: does a stock face detector still find the face?

The detector is OpenCV's LBP frontal-face cascade (``lbpcascade_frontalface_opencv.xml``), which ships
inside scikit-image and runs with ``skimage.feature.Cascade``: no download. (OpenCV 5's Python wheel
no longer has ``CascadeClassifier`` nor the Haar cascade files, so they cannot be used here.)
"""

from __future__ import annotations

import numpy as np

from vcamstyle.errors import VcamstyleError

Box = tuple[int, int, int, int]  # x, y, w, h


class FaceFinder:
    """``find(frame)``: face boxes in an ``HxWx3 uint8 RGB`` frame, ``(x, y, w, h)``."""

    def __init__(self) -> None:
        try:
            import skimage.data
            from skimage.feature import Cascade
        except ImportError as exc:
            raise VcamstyleError("face legibility needs scikit-image",
                                 hint="pip install 'vcamstyle[test]'") from exc
        self._cascade = Cascade(skimage.data.lbp_frontal_face_cascade_filename())

    def find(self, frame: np.ndarray, min_side: int = 40, max_side: int | None = None) -> list[Box]:
        h = frame.shape[0]
        max_side = max_side or int(0.8 * h)
        found = self._cascade.detect_multi_scale(img=frame, scale_factor=1.15, step_ratio=1,
                                                 min_size=(min_side, min_side), max_size=(max_side, max_side))
        return [(int(d["c"]), int(d["r"]), int(d["width"]), int(d["height"])) for d in found]

    def reference(self, clean: np.ndarray, alpha: np.ndarray) -> Box | None:
        """The face on the clean input: the largest detection centred on the person (``alpha > 0.5``)."""
        on_person = [b for b in self.find(clean) if alpha[b[1] + b[3] // 2, b[0] + b[2] // 2] > 0.5]
        return max(on_person, key=lambda b: b[2] * b[3]) if on_person else None

    def found(self, frame: np.ndarray, alpha: np.ndarray, reference: Box) -> bool:
        """Whether ``frame`` shows a face of about the reference's size (half to twice) centred on the person."""
        side = reference[2]
        for x, y, w, hh in self.find(frame, max(24, side // 2), min(frame.shape[0], 2 * side)):
            if alpha[y + hh // 2, x + w // 2] > 0.5:
                return True
        return False
