"""Fixtures that write checkpoints in the exact official layouts into temporary directories.

Each family's files are written from reference key/shape TABLES spelled out here independently of the
model code (from ``reference/checkpoints.md``), so a test can prove that the published layout loads
strictly through the real factories.

Sections (other helpers add their own below, in clearly named functions):
- AdaIN / SANet (pytorch-AdaIN, GlebBrykin/SANET): bare state_dicts. Fixtures ``adain_checkpoints``,
  ``sanet_checkpoints`` (session scope, one shared directory).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

# --------------------------------------------------------------------------------------------------
# AdaIN / SANet: reference tables (checkpoints.md sections 2.1 and 3.1)
# --------------------------------------------------------------------------------------------------


def _conv_table(weight_shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """``{prefix: weight shape}`` -> ``{prefix.weight: shape, prefix.bias: (out,)}`` in that order."""
    table: dict[str, tuple[int, ...]] = {}
    for prefix, shape in weight_shapes.items():
        table[f"{prefix}.weight"] = shape
        table[f"{prefix}.bias"] = (shape[0],)
    return table


#: vgg_normalised.pth: 34 tensors, 20,024,396 parameters.
VGG_NORMALISED_TABLE = _conv_table({
    "0": (3, 3, 1, 1), "2": (64, 3, 3, 3), "5": (64, 64, 3, 3),
    "9": (128, 64, 3, 3), "12": (128, 128, 3, 3),
    "16": (256, 128, 3, 3), "19": (256, 256, 3, 3), "22": (256, 256, 3, 3), "25": (256, 256, 3, 3),
    "29": (512, 256, 3, 3),
    "32": (512, 512, 3, 3), "35": (512, 512, 3, 3), "38": (512, 512, 3, 3),
    "42": (512, 512, 3, 3), "45": (512, 512, 3, 3), "48": (512, 512, 3, 3), "51": (512, 512, 3, 3),
})

#: decoder.pth and decoder_iter_500000.pth: 18 tensors, 3,505,219 parameters.
DECODER_TABLE = _conv_table({
    "1": (256, 512, 3, 3), "5": (256, 256, 3, 3), "8": (256, 256, 3, 3), "11": (256, 256, 3, 3),
    "14": (128, 256, 3, 3), "18": (128, 128, 3, 3), "21": (64, 128, 3, 3), "25": (64, 64, 3, 3),
    "28": (3, 64, 3, 3),
})

#: transformer_iter_500000.pth: 18 tensors, 4,461,056 parameters.
SANET_TRANSFORMER_TABLE = _conv_table({
    **{f"sanet{level}.{name}": (512, 512, 1, 1)
       for level in ("4_1", "5_1") for name in ("f", "g", "h", "out_conv")},
    "merge_conv": (512, 512, 3, 3),
})

# Per-key gains: He-like scaling keeps activations informative through the random networks; small
# query/key gains keep SANet's (unscaled) attention logits moderate, and smaller value/output gains keep
# its decoder input near the scale of relu4_1 features; the decoder's last conv is damped and biased to
# 0.5 so outputs mostly stay inside [0, 1] before clamping.
_GAINS = {
    **{f"sanet{level}.{name}": gain for level in ("4_1", "5_1")
       for name, gain in (("f", 0.25), ("g", 0.25), ("h", 1.0), ("out_conv", 0.5))},
    "merge_conv": 0.5,
    "28": 0.5,
}
_BIAS_FILL = {"28": 0.5}


def make_state_dict(table: dict[str, tuple[int, ...]], seed: int) -> "OrderedDict[str, torch.Tensor]":
    """Random float32 tensors with exactly the table's keys (in order) and shapes, as the
    ``OrderedDict`` that ``module.state_dict()`` gives (what the published files hold)."""
    generator = torch.Generator().manual_seed(seed)
    state: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, shape in table.items():
        prefix = key.rsplit(".", 1)[0]
        if key.endswith(".weight"):
            fan_in = shape[1] * shape[2] * shape[3]
            std = _GAINS.get(prefix, 2.0 ** 0.5) / fan_in ** 0.5
            state[key] = torch.randn(shape, generator=generator) * std
        else:
            state[key] = torch.full(shape, _BIAS_FILL.get(prefix, 0.0)) + 0.01 * torch.randn(shape, generator=generator)
    return state


@dataclass(frozen=True)
class OfficialCheckpoints:
    """A weights directory holding files under their upstream names, and each file's reference table."""

    weights_dir: Path
    tables: dict[str, dict[str, tuple[int, ...]]] = field(default_factory=dict)


@pytest.fixture(scope="session")
def vgg_family_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory with vgg_normalised.pth, decoder.pth, decoder_iter_500000.pth and
    transformer_iter_500000.pth as bare state_dicts saved with ``torch.save`` (the official layout)."""
    directory = tmp_path_factory.mktemp("vgg_family_weights")
    files = {
        "vgg_normalised.pth": (VGG_NORMALISED_TABLE, 1),
        "decoder.pth": (DECODER_TABLE, 2),
        "decoder_iter_500000.pth": (DECODER_TABLE, 3),
        "transformer_iter_500000.pth": (SANET_TRANSFORMER_TABLE, 4),
    }
    for filename, (table, seed) in files.items():
        torch.save(make_state_dict(table, seed), directory / filename)
    return directory


@pytest.fixture(scope="session")
def adain_checkpoints(vgg_family_weights_dir: Path) -> OfficialCheckpoints:
    """AdaIN's two published files (pytorch-AdaIN release v0.0.0 layout)."""
    return OfficialCheckpoints(vgg_family_weights_dir, {
        "vgg_normalised.pth": VGG_NORMALISED_TABLE,
        "decoder.pth": DECODER_TABLE,
    })


@pytest.fixture(scope="session")
def sanet_checkpoints(vgg_family_weights_dir: Path) -> OfficialCheckpoints:
    """SANet's three published files (GlebBrykin/SANET layout)."""
    return OfficialCheckpoints(vgg_family_weights_dir, {
        "vgg_normalised.pth": VGG_NORMALISED_TABLE,
        "decoder_iter_500000.pth": DECODER_TABLE,
        "transformer_iter_500000.pth": SANET_TRANSFORMER_TABLE,
    })
