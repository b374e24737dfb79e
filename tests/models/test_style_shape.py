"""Style images of any shape: every method bounds the network's style input or refuses the shape."""

from __future__ import annotations

import pytest
import torch

from vcamstyle.errors import StyleImageError
from vcamstyle.models.registry import BuildOptions, create_stylizer
from vcamstyle.models.style_shape import STYLE_LONG_CAP, bounded_style_size, check_style_shape

METHODS = ["adain", "sanet", "avatarnet", "magenta"]


@pytest.fixture(scope="module")
def stylizers() -> dict:
    options = BuildOptions(device=torch.device("cpu"), random_weights=True)
    return {name: create_stylizer(name, options) for name in METHODS}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("height, width", [(64, 2048), (2048, 64), (4000, 3000), (300, 5000), (20, 600)])
def test_style_size_is_bounded(stylizers: dict, method: str, height: int, width: int) -> None:
    h, w = stylizers[method].style_size(height, width)
    assert max(h, w) <= STYLE_LONG_CAP
    assert h * w <= STYLE_LONG_CAP * STYLE_LONG_CAP // 2
    assert abs(h / w - height / width) / (height / width) < 0.05  # aspect kept


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("height, width, words", [(3, 1200, "too thin"), (1200, 3, "too thin"),
                                                  (40, 2000, "too elongated"), (0, 10, "too thin")])
def test_degenerate_shapes_are_refused(stylizers: dict, method: str, height: int, width: int, words: str) -> None:
    with pytest.raises(StyleImageError, match=words) as info:
        stylizers[method].style_size(height, width)
    assert f"{width}x{height}" in info.value.message and info.value.hint


@pytest.mark.parametrize("method", METHODS)
def test_encode_style_refuses_a_strip_without_allocating(stylizers: dict, method: str) -> None:
    """The 1200x3 strip from the bug report: a clear StyleImageError, not a 26.8 GB tensor."""
    with pytest.raises(StyleImageError, match="1200x3"):
        stylizers[method].encode_style(torch.rand(1, 3, 3, 1200))


@pytest.mark.parametrize("method", ["adain", "sanet"])
def test_wide_style_is_encoded_at_the_capped_size(stylizers: dict, method: str, monkeypatch) -> None:
    """2048x64 (the 9.6 GB case): the network sees 1024x32, not 16384x512."""
    stylizer = stylizers[method]
    seen: list[tuple[int, ...]] = []
    real = stylizer.encoder.encode

    def spy(image, *args, **kwargs):
        seen.append(tuple(image.shape))
        return real(image, *args, **kwargs)

    monkeypatch.setattr(stylizer.encoder, "encode", spy)
    stylizer.encode_style(torch.rand(1, 3, 64, 2048))
    assert seen == [(1, 3, 32, 1024)]


def test_bounded_style_size_rules() -> None:
    assert bounded_style_size(64, 80, 512, "adain") == (512, 640)
    assert bounded_style_size(1024, 768, 512, "adain") == (683, 512)
    assert bounded_style_size(300, 200, None, "adain") == (300, 200)
    assert bounded_style_size(512, 4096, 512, "adain") == (128, 1024)
    check_style_shape(16, 512, "adain")  # the limits themselves are accepted
    with pytest.raises(StyleImageError):
        check_style_shape(15, 480, "adain")


@pytest.mark.parametrize("method", METHODS)
def test_style_size_is_idempotent_so_the_picture_is_resampled_once(stylizers: dict, method: str) -> None:
    """The scene loads a style picture at ``style_size``; encoding it must not resize it again."""
    import random

    rng = random.Random(0)
    for _ in range(300):
        height = rng.randint(16, 5000)
        width = rng.randint(max(16, height // 32 + 1), min(5000, height * 32))
        size = stylizers[method].style_size(height, width)
        assert stylizers[method].style_size(*size) == size, (height, width)
