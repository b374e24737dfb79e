"""The live preview: the frame loop's latest frames, JPEG-encoded off the loop, only while a page watches.

The frame loop asks ``tap.wanted()`` (one attribute read and a clock comparison when someone watches,
one attribute read when nobody does) and only then calls ``offer``, which stores references and wakes
the encoder thread: no copy, no resize and no encoding on the frame loop. The encoder shrinks the
frames to ``MAX_WIDTH`` and encodes them; pages read the newest JPEG per view.

Rate: every ``EVERY_NTH`` output frame (half the output's rate), at most ``MAX_FPS`` per second.
Size: ``MAX_WIDTH`` wide for the result alone, ``SIDE_BY_SIDE_WIDTH`` per view for the three views.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

log = logging.getLogger(__name__)

MAX_FPS = 10.0
EVERY_NTH = 2
MAX_WIDTH = 480
SIDE_BY_SIDE_WIDTH = 320
JPEG_QUALITY = 70
VIEWS = ("original", "mask", "result")


@dataclass(frozen=True)
class PreviewFrame:
    """One encoded preview: ``seq`` counts encoded frames; ``jpeg`` maps view name to JPEG bytes."""

    seq: int
    jpeg: dict[str, bytes]


def shrink_rgb(image: np.ndarray, max_width: int = MAX_WIDTH) -> np.ndarray:
    """``HxWx3 uint8 RGB`` (or ``HxW``) scaled down to at most ``max_width`` wide (aspect kept)."""
    height, width = image.shape[:2]
    if width <= max_width:
        return image
    size = (max_width, max(1, round(height * max_width / width)))
    return cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)  # a preview: 2x faster than INTER_AREA


def encode_jpeg(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """``HxWx3 uint8 RGB`` or ``HxW uint8`` -> JPEG bytes."""
    pixels = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    ok, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def mask_to_gray(mask: np.ndarray, max_width: int = MAX_WIDTH) -> np.ndarray:
    """``HxW float32`` in [0, 1] (or ``HxWx1``) -> ``HxW uint8``, shrunk first (less to convert)."""
    mask = np.asarray(mask, dtype=np.float32)
    if mask.ndim == 3:
        mask = mask[..., 0]
    small = shrink_rgb(mask, max_width)
    return cv2.convertScaleAbs(small, alpha=255.0)


class PreviewTap:
    """Between the frame loop (``wanted``/``offer``) and the pages (``watch``/``latest``)."""

    def __init__(self, max_fps: float = MAX_FPS, max_width: int = MAX_WIDTH) -> None:
        self.max_fps = max_fps
        self.max_width = max_width
        self.watchers = 0  # pages showing the preview
        self.side_by_side = 0  # of those, pages showing original | mask | result
        self._interval = 1.0 / max_fps
        self._next_at = 0.0
        self._skipped = 0
        self._offered: tuple[np.ndarray, np.ndarray | None, np.ndarray] | None = None
        self._latest: PreviewFrame | None = None
        self._seq = 0
        self._wake = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        #: Called (on the encoder thread) after each new preview frame: pages wake on it, no polling.
        self.listeners: set = set()
        #: The newest camera picture, shrunk (``HxWx3 uint8 RGB``): what try-on paints.
        self.last_original: np.ndarray | None = None

    # ------------------------------------------------------------- the frame loop's side
    def wanted(self) -> bool:
        """Whether the frame loop should ``offer`` this frame (False at once while nobody watches)."""
        if not self.watchers:
            return False
        self._skipped += 1
        return self._skipped >= EVERY_NTH and time.monotonic() >= self._next_at

    def offer(self, original: np.ndarray, mask: np.ndarray | None, result: np.ndarray) -> None:
        """Hand over the frame's camera picture, mask (``HxW float32`` or None) and output (``HxWx3 uint8``).
        The arrays are only referenced: the frame loop makes new ones for every frame."""
        self._next_at = time.monotonic() + self._interval
        self._skipped = 0
        with self._wake:
            self._offered = (original, mask, result)
            self._wake.notify()

    # ------------------------------------------------------------- the pages' side
    def watch(self, side_by_side: bool) -> None:
        self.watchers += 1
        self.side_by_side += bool(side_by_side)
        self._ensure_thread()

    def unwatch(self, side_by_side: bool) -> None:
        self.watchers = max(0, self.watchers - 1)
        self.side_by_side = max(0, self.side_by_side - bool(side_by_side))

    def latest(self) -> PreviewFrame | None:
        return self._latest

    @property
    def encoded(self) -> int:
        """Preview frames encoded since the start (stays 0 while no page ever watched)."""
        return self._seq

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._encode_loop, name="preview-encoder", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def _encode_loop(self) -> None:
        while True:
            with self._wake:
                while self._offered is None and not self._stopped:
                    self._wake.wait()
                if self._stopped:
                    return
                offered, self._offered = self._offered, None
            try:
                self._latest = self.encode(*offered)
                self.last_error = None
                for listener in list(self.listeners):
                    listener()
            except (cv2.error, ValueError) as exc:  # a bad frame costs one preview frame, reported in status
                self.last_error = f"preview: {exc}"
                log.warning("preview frame not encoded: %s", exc)

    def encode(self, original: np.ndarray, mask: np.ndarray | None, result: np.ndarray) -> PreviewFrame:
        """The views pages ask for, shrunk and encoded (original and mask only while a page shows them)."""
        width = min(self.max_width, SIDE_BY_SIDE_WIDTH) if self.side_by_side else self.max_width
        jpeg = {"result": encode_jpeg(shrink_rgb(result, width))}
        small_original = shrink_rgb(original, width)  # also what try-on paints
        self.last_original = small_original.copy() if small_original is original else small_original
        if self.side_by_side:
            jpeg["original"] = encode_jpeg(small_original)
            gray = mask_to_gray(mask, width) if mask is not None else np.full(result.shape[:2], 255, np.uint8)
            jpeg["mask"] = encode_jpeg(shrink_rgb(gray, width))
        self._seq += 1
        return PreviewFrame(self._seq, jpeg)
