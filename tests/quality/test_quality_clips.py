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


def test_smooth_wall_is_plain_deterministic_and_has_no_sharp_detail() -> None:
    a, b = qc.smooth_wall((90, 160)), qc.smooth_wall((90, 160))
    assert a.shape == (90, 160, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    grey = a.mean(axis=2)
    assert 2 < grey.std() < 20  # gentle shading, not a flat fill
    assert np.abs(np.diff(grey, axis=1)).max() < 6  # nothing sharp: no edge anywhere
    assert np.abs(np.diff(qc.room((90, 160)).mean(axis=2), axis=1)).max() > 30  # unlike the drawn room


def test_flat_style_is_patches_of_its_palette_only() -> None:
    warm = qc.flat_style("warm", size=64)
    colours = {tuple(c) for c in warm.reshape(-1, 3)}
    assert warm.shape == (64, 64, 3) and 2 <= len(colours) <= len(qc.FLAT_PALETTES["warm"])
    assert colours <= set(qc.FLAT_PALETTES["warm"])
    assert not colours & set(qc.FLAT_PALETTES["cool"])


def test_build_clip_settles_back_at_the_start_after_the_motion() -> None:
    person = np.full((100, 50, 3), 200, np.uint8)
    alpha = np.ones((100, 50), np.float32)
    clip = qc.build_clip("c", person, alpha, (90, 160), still=3, moving=6, settle=4, wall=qc.smooth_wall((90, 160)))
    assert len(clip.frames) == 13 and clip.moving_part == range(3, 9) and clip.settle_part == range(9, 13)
    assert not np.array_equal(clip.alphas[5], clip.alphas[0])  # it moves
    for t in (8, 9, 12):  # the last moving frame is back at rest, and it stays there
        assert np.array_equal(clip.alphas[t], clip.alphas[0])
    assert not np.array_equal(clip.frames[9], clip.frames[10])  # fresh sensor noise every frame
    no_settle = qc.build_clip("c", person, alpha, (90, 160), still=3, moving=6)
    assert no_settle.moving_part == range(3, 9) and len(no_settle.settle_part) == 0


def test_the_two_flat_styles_have_their_own_layouts() -> None:
    warm, cool = qc.flat_style("warm", size=64), qc.flat_style("cool", size=64)
    edges = [np.abs(np.diff(s.astype(int), axis=1)).sum(axis=2) > 0 for s in (warm, cool)]
    assert (edges[0] != edges[1]).mean() > 0.02  # not one Voronoi map recoloured


def test_a_wall_too_small_for_blotches_is_the_plain_colour_and_a_clip_checks_its_parts() -> None:
    tiny = qc.smooth_wall((1, 1))
    assert np.abs(tiny.astype(int) - [200, 188, 170]).max() <= 30  # not blown out to white
    frames = [np.zeros((4, 4, 3), np.uint8)] * 10
    alphas = [np.zeros((4, 4), np.float32)] * 10
    import pytest
    with pytest.raises(ValueError, match="20 moving frames after 3 still ones do not fit in 10 frames"):
        qc.Clip("c", frames, alphas, 3, None, [], moving=20)
