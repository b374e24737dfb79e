"""The preview tap: nothing while no page watches; reduced size and rate, encoded off the frame loop."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np

from vcamstyle.control.preview import EVERY_NTH, MAX_WIDTH, SIDE_BY_SIDE_WIDTH, PreviewTap


def _frames(h: int = 720, w: int = 1280) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    original = np.zeros((h, w, 3), np.uint8)
    original[:, : w // 2] = (255, 0, 0)
    mask = np.zeros((h, w), np.float32)
    mask[:, w // 4: 3 * w // 4] = 1.0
    result = np.full((h, w, 3), (0, 0, 255), np.uint8)
    return original, mask, result


def _wait_latest(tap: PreviewTap, seq: int = 1, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        latest = tap.latest()
        if latest is not None and latest.seq >= seq:
            return latest
        time.sleep(0.005)
    raise AssertionError("no preview frame encoded")


def test_nothing_is_wanted_and_no_thread_runs_while_no_page_watches() -> None:
    tap = PreviewTap()
    assert tap.wanted() is False
    assert tap._thread is None
    tap.watch(side_by_side=False)
    tap.unwatch(side_by_side=False)
    assert tap.wanted() is False
    tap.stop()


def test_a_watching_page_gets_the_result_shrunk_and_encoded_on_another_thread() -> None:
    tap = PreviewTap()
    tap.watch(side_by_side=False)
    assert [tap.wanted() for _ in range(EVERY_NTH)] == [False] * (EVERY_NTH - 1) + [True]  # half the output rate
    original, mask, result = _frames()
    encoded_on: list[str] = []
    real_encode = tap.encode
    tap.encode = lambda *a: (encoded_on.append(threading.current_thread().name), real_encode(*a))[1]
    tap.offer(original, mask, result)
    latest = _wait_latest(tap)
    assert encoded_on == ["preview-encoder"]
    assert set(latest.jpeg) == {"result"}  # original and mask only while a page shows them side by side
    image = cv2.imdecode(np.frombuffer(latest.jpeg["result"], np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (270, MAX_WIDTH, 3)
    assert np.allclose(image[135, 240], (255, 0, 0), atol=8)  # BGR of the RGB blue result
    tap.stop()


def test_the_rate_is_capped() -> None:
    tap = PreviewTap(max_fps=10)
    tap.watch(side_by_side=False)
    tap.offer(*_frames(64, 64))
    assert not any(tap.wanted() for _ in range(5))  # the next offer waits 0.1 s, however many frames go out
    time.sleep(0.11)
    assert tap.wanted() is True
    tap.stop()


def test_side_by_side_adds_the_camera_picture_and_the_mask() -> None:
    tap = PreviewTap()
    tap.watch(side_by_side=True)
    tap.offer(*_frames())
    latest = _wait_latest(tap)
    assert set(latest.jpeg) == {"original", "mask", "result"}
    mask = cv2.imdecode(np.frombuffer(latest.jpeg["mask"], np.uint8), cv2.IMREAD_GRAYSCALE)
    assert mask.shape == (180, SIDE_BY_SIDE_WIDTH)
    assert mask[90, 10] < 10 and mask[90, 160] > 245
    assert tap.last_original is not None and tap.last_original.shape == (180, SIDE_BY_SIDE_WIDTH, 3)
    tap.stop()
