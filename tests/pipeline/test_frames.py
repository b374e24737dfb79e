"""vcamstyle.frames: the layout/dtype contract between numpy edges and torch internals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vcamstyle.frames import (
    mask_to_numpy,
    pad_to_multiple,
    resize,
    short_side_size,
    to_numpy,
    to_tensor,
)


@pytest.fixture
def random_frame() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(37, 53, 3), dtype=np.uint8)


def test_round_trip_is_exact_for_uint8(random_frame: np.ndarray) -> None:
    back = to_numpy(to_tensor(random_frame))
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, random_frame)


def test_round_trip_covers_every_uint8_value() -> None:
    frame = np.arange(256 * 3, dtype=np.int64).reshape(16, 16, 3) % 256
    frame = frame.astype(np.uint8)
    np.testing.assert_array_equal(to_numpy(to_tensor(frame)), frame)


def test_to_tensor_layout_dtype_range(random_frame: np.ndarray) -> None:
    t = to_tensor(random_frame)
    assert t.shape == (1, 3, 37, 53)
    assert t.dtype == torch.float32
    assert float(t.min()) >= 0.0 and float(t.max()) <= 1.0
    # Channel 0 is the array's channel 0 (RGB in, RGB out: no BGR swap in here).
    np.testing.assert_allclose(t[0, 0].numpy(), random_frame[..., 0] / 255.0, atol=1e-6)
    np.testing.assert_allclose(t[0, 2].numpy(), random_frame[..., 2] / 255.0, atol=1e-6)
    # Extremes map to the ends of [0, 1].
    extremes = np.zeros((2, 2, 3), np.uint8)
    extremes[0, 0] = 255
    e = to_tensor(extremes)
    assert float(e.max()) == 1.0 and float(e.min()) == 0.0


def test_to_tensor_dtype_argument(random_frame: np.ndarray) -> None:
    assert to_tensor(random_frame, dtype=torch.float64).dtype == torch.float64


def test_to_tensor_does_not_alias_the_input(random_frame: np.ndarray) -> None:
    t = to_tensor(random_frame)
    before = t.clone()
    random_frame[:] = 0
    assert torch.equal(t, before)


@pytest.mark.parametrize("bad", [
    np.zeros((8, 8, 3), np.float32),
    np.zeros((8, 8, 3), np.uint16),
    np.zeros((8, 8), np.uint8),
    np.zeros((8, 8, 4), np.uint8),
    np.zeros((1, 8, 8, 3), np.uint8),
])
def test_to_tensor_rejects_wrong_dtype_or_shape(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        to_tensor(bad)


def test_to_numpy_accepts_chw_and_clamps() -> None:
    t = torch.tensor([-0.5, 0.0, 0.5, 1.0, 2.0]).view(1, 1, 5).expand(3, 1, 5).contiguous()
    out = to_numpy(t)
    assert out.shape == (1, 5, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, :, 0], [0, 0, 128, 255, 255])


def test_mask_to_numpy() -> None:
    mask = torch.tensor([[0.0, 0.25], [1.0, 1.5]]).view(1, 1, 2, 2)
    out = mask_to_numpy(mask)
    assert out.shape == (2, 2) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[0, 64], [255, 255]])


@pytest.mark.parametrize("height, width, short, multiple, expected", [
    (720, 1280, 360, 1, (360, 640)),
    (1280, 720, 360, 1, (640, 360)),
    (720, 1280, 360, 8, (360, 640)),
    (480, 640, 360, 2, (360, 480)),
    (1080, 1920, 256, 16, (256, 448)),  # 455.1 -> nearest multiple of 16
    (100, 200, 360, 1, (100, 200)),     # already smaller: never upscaled
    (100, 200, 100, 1, (100, 200)),
])
def test_short_side_size(height: int, width: int, short: int, multiple: int, expected: tuple[int, int]) -> None:
    h, w = short_side_size(height, width, short, multiple)
    assert (h, w) == expected
    assert h % multiple == 0 and w % multiple == 0


@pytest.mark.parametrize("height, width", [(720, 1280), (480, 640), (1080, 1920), (333, 777), (777, 333)])
def test_short_side_size_keeps_aspect_and_never_upscales(height: int, width: int) -> None:
    for short in (64, 200, 360, 2000):
        h, w = short_side_size(height, width, short, multiple=2)
        assert min(h, w) <= max(min(height, width) + 1, 2)  # +1: rounding to the multiple only
        assert max(h, w) <= max(height, width) + 1
        if short < min(height, width):
            assert abs(min(h, w) - short) <= 1
            assert abs(w / h - width / height) < 0.02


def test_short_side_size_is_at_least_one_multiple() -> None:
    assert short_side_size(4, 1000, 1, multiple=8) == (8, 248)  # 1 px rounds to 0: clamped to one multiple


@pytest.mark.parametrize("height, width, multiple", [(37, 53, 8), (32, 32, 8), (3, 5, 16), (1, 1, 4), (64, 65, 32)])
def test_pad_to_multiple_then_crop_returns_the_original(height: int, width: int, multiple: int) -> None:
    image = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(height * width))
    padded, (h, w) = pad_to_multiple(image, multiple)
    assert (h, w) == (height, width)
    assert padded.shape[-2] % multiple == 0 and padded.shape[-1] % multiple == 0
    assert padded.shape[-2] - height < multiple and padded.shape[-1] - width < multiple
    assert torch.equal(padded[..., :h, :w], image)


def test_pad_to_multiple_reflects_by_default() -> None:
    image = torch.arange(6.0).view(1, 1, 1, 6).expand(1, 1, 6, 6).contiguous()
    padded, _ = pad_to_multiple(image, 8)
    # Reflect (not replicate, not zero) on the right: ... 4 5 | 4 3
    assert padded[0, 0, 0, 6:].tolist() == [4.0, 3.0]


def test_pad_to_multiple_returns_input_when_already_aligned() -> None:
    image = torch.rand(1, 3, 16, 24)
    padded, size = pad_to_multiple(image, 8)
    assert padded is image and size == (16, 24)


def test_resize_same_size_is_identity_and_shrink_is_antialiased() -> None:
    image = torch.rand(1, 3, 20, 30)
    assert resize(image, (20, 30)) is image
    stripes = torch.zeros(1, 1, 64, 64)
    stripes[..., ::2] = 1.0
    small = resize(stripes, (16, 16))
    assert small.shape == (1, 1, 16, 16)
    # Antialiased shrinking averages the stripes to grey instead of aliasing to 0 or 1.
    assert torch.allclose(small, torch.full_like(small, 0.5), atol=0.05)
