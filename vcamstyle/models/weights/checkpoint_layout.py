"""The expected layout of every known checkpoint file, and a check that a file on disk has it.

Layouts come from the networks themselves (built on the ``meta`` device: shapes, no memory), so they
are exactly what strict loading needs: ``vgg_normalised.pth`` is the 53-module normalised VGG,
``decoder.pth`` / ``decoder_iter_500000.pth`` the AdaIN decoder, ``transformer_iter_500000.pth`` SANet's
transform, ``check_point.pth`` Avatar-Net (under ``state_dict``), ``UNet_ResNet18.pth`` Human-Seg's UNet
(under ``state_dict``, with its pickled ``Logger`` allow-listed). See ``/reference/checkpoints.md``.

``inspect_weight_file`` is what ``weights verify``/``fetch`` run before trusting a file: the content is
sniffed (HTML page, truncated archive, TorchScript, ...), loaded with ``weights_only=True``, and its
keys and shapes compared with the expected layout; a file that matches another known file's layout is
named as that file.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from vcamstyle.errors import WeightsError
from vcamstyle.models.weights.checkpoint import extract_state_dict, load_checkpoint, shape_mismatch

#: A file smaller than this share of its tensors' float32 bytes cannot hold them (half precision is 0.5).
MIN_SIZE_SHARE = 0.45


@dataclass(frozen=True)
class Layout:
    """How one known file is stored: the module whose state_dict it holds, the entry it is under
    (``None``: the file is the bare state_dict) and the pickled classes it may name."""

    filename: str
    build: Callable[[], nn.Module]
    key: str | None = None
    allowed_classes: tuple[str, ...] = ()

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return _shapes(self.filename)

    @property
    def tensor_bytes(self) -> int:
        """float32 bytes of all tensors (the size a complete file needs, give or take the pickle)."""
        return 4 * sum(int(torch.Size(shape).numel()) for shape in self.shapes.values())


def _layouts() -> dict[str, Layout]:
    from vcamstyle.models.seed.avatarnet_network import AvatarNet
    from vcamstyle.models.seed.sanet import Transform
    from vcamstyle.models.segmenters.unet import LOGGER_CLASS, UNetResNet18
    from vcamstyle.models.seed.vgg import build_decoder, build_encoder_layers

    entries = [
        Layout("vgg_normalised.pth", build_encoder_layers),
        Layout("decoder.pth", build_decoder),
        Layout("decoder_iter_500000.pth", build_decoder),
        Layout("transformer_iter_500000.pth", Transform),
        Layout("check_point.pth", AvatarNet, key="state_dict"),
        Layout("UNet_ResNet18.pth", UNetResNet18, key="state_dict", allowed_classes=(LOGGER_CLASS,)),
    ]
    return {entry.filename: entry for entry in entries}


@lru_cache(maxsize=None)
def _shapes(filename: str) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):
        module = known_layouts()[filename].build()
    return {key: tuple(value.shape) for key, value in module.state_dict().items()}


@lru_cache(maxsize=1)
def known_layouts() -> dict[str, Layout]:
    """Every known checkpoint file's layout, by filename."""
    return _layouts()


def identify_state(state: dict[str, torch.Tensor], exclude: str | None = None) -> str | None:
    """The known filename whose layout ``state`` has exactly (keys and shapes), other than ``exclude``."""
    found = {key: tuple(value.shape) for key, value in state.items()}
    for filename in known_layouts():
        if filename != exclude and _shapes(filename) == found:
            return filename
    return None


def _any_state(obj: object) -> dict[str, torch.Tensor] | None:
    """The tensor mapping inside a checkpoint of any known kind (bare, or under ``state_dict``)."""
    for key in (None, "state_dict"):
        try:
            return extract_state_dict(obj, Path("?"), key)
        except WeightsError:
            continue
    return None


def inspect_weight_file(path: Path, filename: str | None = None) -> str | None:
    """``None`` when ``path`` is a complete checkpoint with the layout expected for ``filename`` (default:
    its own name); else what is wrong, in words (``"an HTML page, not a checkpoint ..."``). Unknown
    filenames only need to load (``weights_only=True``) as a mapping of tensors."""
    from vcamstyle.models.weights import sniff_checkpoint

    path = Path(path)
    filename = filename or path.name
    problem = sniff_checkpoint(path)
    if problem:
        return problem
    layout = known_layouts().get(filename)
    size = path.stat().st_size
    if layout is not None and size < MIN_SIZE_SHARE * layout.tensor_bytes:
        return (f"too small for {filename}: {size} bytes, the network's tensors alone need about "
                f"{layout.tensor_bytes // 1_000_000} MB (an incomplete download?)")
    allowed = layout.allowed_classes if layout else tuple(c for entry in known_layouts().values() for c in entry.allowed_classes)
    try:
        obj = load_checkpoint(path, allowed)
    except WeightsError as exc:
        return exc.message.removeprefix(f"{path}: ")
    if layout is None:
        return None if _any_state(obj) is not None else "not a checkpoint of tensors"
    try:
        state = extract_state_dict(obj, path, layout.key)
    except WeightsError:
        state = None
    if state is not None:
        problems = shape_mismatch(layout.shapes, state)
        if not problems:
            return None
    other = _any_state(obj)
    twin = identify_state(other, exclude=filename) if other is not None else None
    if twin is not None:
        return f"the checkpoint {twin} (another network's file), not {filename}"
    if state is None:
        return f"a checkpoint of another kind, not {filename} (no {layout.key or 'bare state_dict'} of tensors)"
    return f"a checkpoint of another network, not {filename} ({'; '.join(problems[:2])})"
