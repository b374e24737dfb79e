"""The quality benchmark's clip builder: hole filling, placement and the room (no models)."""

from __future__ import annotations

import numpy as np

from vcamstyle.bench import quality_clips as qc


def test_fill_holes_fills_enclosed_and_bottom_pockets_only() -> None:
    person = np.zeros((20, 20), np.uint8)
    person[5:, 5:15] = 1
    person[8:10, 8:10] = 0  # enclosed hole: filled
    person[17:, 9:11] = 0  # pocket open only to the bottom edge (where the body leaves the photo): filled
    person[5:8, 5:7] = 0  # notch open to the outside: kept
    filled = qc.fill_holes(person)
    assert filled[8:10, 8:10].all() and filled[17:, 9:11].all()
    assert not filled[5:8, 5:7].any() and not filled[:5].any()


def test_place_scales_bottom_aligns_and_shifts() -> None:
    person = np.full((100, 50, 3), 200, np.uint8)
    alpha = np.ones((100, 50), np.float32)
    rgb, a = qc.place(person, alpha, (200, 300), dx=0, dy=0, height_share=0.5)
    ys, xs = np.nonzero(a > 0.5)
    assert ys.max() == 199 and abs(ys.min() - 100) <= 1  # half the frame height, at the bottom
    assert abs((xs.min() + xs.max()) / 2 - 149.5) <= 1  # centred
    _, shifted = qc.place(person, alpha, (200, 300), dx=20, dy=0, height_share=0.5)
    assert abs(np.nonzero(shifted > 0.5)[1].min() - xs.min() - 20) <= 1


def test_room_is_deterministic_and_textured() -> None:
    a, b = qc.room((90, 160)), qc.room((90, 160))
    assert a.shape == (90, 160, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    assert a.std() > 20  # window, shelf, books: not a flat wall
