"""Phase (pixel_unshuffle) rewrites of convolutions agree with the plain full-resolution convolutions."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vcamstyle.models.magenta.subpixel import (
    phase_conv_kernel,
    reflect_pad_phases,
    unshuffled_input_kernel,
    upsample_conv_kernel,
)


def _generator() -> torch.Generator:
    return torch.Generator().manual_seed(7)


@pytest.mark.parametrize("kernel", [3, 5, 9])
@pytest.mark.parametrize("size", [(8, 12), (14, 10)])
def test_stride_one_conv_on_phases_equals_the_full_resolution_conv(kernel, size):
    g = _generator()
    image = torch.randn(1, 3, *size, generator=g)
    weight = torch.randn(5, 3, kernel, kernel, generator=g)
    pad = kernel // 2 + (kernel // 2) % 2  # an even padding, so the padded image splits into phases
    padded = F.pad(image, (pad,) * 4, mode="reflect")
    expected = F.conv2d(padded, weight)
    on_phases = F.conv2d(F.pixel_unshuffle(padded, 2), phase_conv_kernel(weight))
    crop = pad - kernel // 2
    got = F.pixel_shuffle(on_phases, 2)
    assert got.shape[-2:] == (size[0] + 2 * crop, size[1] + 2 * crop)
    torch.testing.assert_close(got[..., : expected.shape[-2], : expected.shape[-1]], expected, atol=1e-4, rtol=1e-4)


def test_stride_two_conv_with_top_left_padding_runs_on_phases():
    g = _generator()
    image = torch.randn(1, 4, 16, 22, generator=g)
    weight = torch.randn(6, 4, 3, 3, generator=g)
    expected = F.conv2d(F.pad(image, (1, 0, 1, 0), mode="reflect"), weight, stride=2)
    # reflect padding of the top row of the image = replicate padding of its phases
    phases = F.pad(F.pixel_unshuffle(image, 2), (1, 0, 1, 0), mode="replicate")
    kernel = phase_conv_kernel(weight, offset=1, stride=2)
    assert kernel.shape == (6, 16, 2, 2)
    torch.testing.assert_close(F.conv2d(phases, kernel), expected, atol=1e-4, rtol=1e-4)


def test_every_original_tap_appears_exactly_once():
    weight = torch.arange(1, 2 * 3 * 9 * 9 + 1, dtype=torch.float64).reshape(2, 3, 9, 9)
    kernel = phase_conv_kernel(weight)
    # each output phase holds all 81 taps of every (out, in) pair once, spread over the 4 input phases
    per_phase = kernel.reshape(2, 4, 3, 4, 5, 5).sum(dim=(3, 4, 5))
    torch.testing.assert_close(per_phase, weight.sum(dim=(2, 3))[:, None, :].expand(2, 4, 3))


def test_upsample_conv_kernel_equals_nearest_upsampling_then_conv():
    g = _generator()
    low = torch.randn(1, 4, 7, 9, generator=g)
    weight = torch.randn(3, 4, 3, 3, generator=g)
    expected = F.conv2d(F.pad(F.interpolate(low, scale_factor=2, mode="nearest"), (1,) * 4, mode="reflect"), weight)
    got = F.pixel_shuffle(F.conv2d(F.pad(low, (1,) * 4, mode="replicate"), upsample_conv_kernel(weight)), 2)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("pad", [2, 4, 6])
@pytest.mark.parametrize("size", [(5, 7), (12, 10)])
def test_reflect_pad_phases_equals_padding_the_full_image(pad, size):
    phases = torch.randn(1, 8, *size, generator=_generator())
    expected = F.pixel_unshuffle(F.pad(F.pixel_shuffle(phases, 2), (pad,) * 4, mode="reflect"), 2)
    got = reflect_pad_phases(phases, pad)
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(got, expected)


def test_reflect_pad_phases_works_in_bfloat16():
    phases = torch.randn(1, 12, 6, 6, generator=_generator()).bfloat16()
    expected = F.pixel_unshuffle(F.pad(F.pixel_shuffle(phases.float(), 2), (4,) * 4, mode="reflect"), 2)
    assert torch.equal(reflect_pad_phases(phases, 4).float(), expected)


@pytest.mark.parametrize("pad", [0, 3, -2])
def test_reflect_pad_phases_rejects_odd_or_empty_padding(pad):
    with pytest.raises(ValueError, match="even"):
        reflect_pad_phases(torch.zeros(1, 4, 6, 6), pad)


def test_reflect_pad_phases_rejects_padding_wider_than_the_image():
    with pytest.raises(ValueError, match="too large"):
        reflect_pad_phases(torch.zeros(1, 4, 2, 6), 4)


def test_phase_conv_kernel_rejects_unsupported_shapes():
    with pytest.raises(ValueError, match="stride"):
        phase_conv_kernel(torch.zeros(1, 1, 3, 3), stride=3)
    with pytest.raises(ValueError, match="square"):
        phase_conv_kernel(torch.zeros(1, 1, 3, 5))


@pytest.mark.parametrize("kernel", [3, 5])
def test_unshuffled_input_kernel_is_the_phase_conv_as_one_stride_two_conv(kernel):
    g = _generator()
    image = torch.randn(1, 3, 14, 18, generator=g)
    phase_kernel = torch.randn(8, 12, kernel, kernel, generator=g)
    expected = F.conv2d(F.pixel_unshuffle(image, 2), phase_kernel)
    got = F.conv2d(image, unshuffled_input_kernel(phase_kernel), stride=2)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="phase kernel"):
        unshuffled_input_kernel(torch.zeros(8, 6, 3, 3))
