"""Avatar-Net stylizer and UNet-ResNet18 segmenter: official checkpoint layouts, strict loading,
forward passes with random weights, and the Avatar-Net algorithm against slow references.

The key/shape tables and the reference computations below are written from
``reference/checkpoints.md`` (sections 4 and 5) independently of the model modules.
"""

from __future__ import annotations

import math
import sys
import types
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from vcamstyle.errors import WeightsError
from vcamstyle.models.seed.avatarnet import (
    AvatarNet,
    AvatarNetStylizer,
    content_patch_rows,
    covariance_eigh,
    covariance_power,
    match_patches,
    overlap_counts,
    reassemble_patches,
    style_patch_kernels,
    whiten,
)
from vcamstyle.models.base import RegionStyle, Segmenter, Stylizer
from vcamstyle.models.weights.checkpoint import load_checkpoint
from vcamstyle.models.registry import (
    BuildOptions,
    create_segmenter,
    create_stylizer,
    get_entry,
)
from vcamstyle.models.segmenters.unet import UNetSegmenter

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

# --------------------------------------------------------------------------------------------------
# Reference tables (checkpoints.md 4.1 and 5.1)
# --------------------------------------------------------------------------------------------------

_AVATAR_WEIGHTS = {
    "encoder.encoder.0.0": (64, 3, 3, 3), "encoder.encoder.1.2": (64, 64, 3, 3),
    "encoder.encoder.1.5": (128, 64, 3, 3), "encoder.encoder.2.7": (128, 128, 3, 3),
    "encoder.encoder.2.10": (256, 128, 3, 3), "encoder.encoder.3.12": (256, 256, 3, 3),
    "encoder.encoder.3.14": (256, 256, 3, 3), "encoder.encoder.3.16": (256, 256, 3, 3),
    "encoder.encoder.3.19": (512, 256, 3, 3),
    "decoder.decoder.0.1": (256, 512, 3, 3), "decoder.decoder.0.5": (256, 256, 3, 3),
    "decoder.decoder.0.8": (256, 256, 3, 3), "decoder.decoder.0.11": (256, 256, 3, 3),
    "decoder.decoder.1.14": (128, 256, 3, 3), "decoder.decoder.1.18": (128, 128, 3, 3),
    "decoder.decoder.2.21": (64, 128, 3, 3), "decoder.decoder.2.25": (64, 64, 3, 3),
    "decoder.decoder.3.28": (3, 64, 3, 3),
}
#: check_point.pth['state_dict']: 36 tensors, 7,010,947 parameters.
AVATAR_TABLE: dict[str, tuple[int, ...]] = {}
for _prefix, _shape in _AVATAR_WEIGHTS.items():
    AVATAR_TABLE[f"{_prefix}.weight"] = _shape
    AVATAR_TABLE[f"{_prefix}.bias"] = (_shape[0],)


def _bn(prefix: str, channels: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.weight": (channels,), f"{prefix}.bias": (channels,), f"{prefix}.running_mean": (channels,),
            f"{prefix}.running_var": (channels,), f"{prefix}.num_batches_tracked": ()}


def _unet_table() -> dict[str, tuple[int, ...]]:
    table: dict[str, tuple[int, ...]] = {"backbone.conv1.weight": (64, 3, 7, 7)}
    table.update(_bn("backbone.bn1", 64))
    for layer, (channels, c_in) in enumerate([(64, 64), (128, 64), (256, 128), (512, 256)], start=1):
        for block in (0, 1):
            p = f"backbone.layer{layer}.{block}"
            first_in = c_in if block == 0 else channels
            table[f"{p}.conv1.weight"] = (channels, first_in, 3, 3)
            table.update(_bn(f"{p}.bn1", channels))
            table[f"{p}.conv2.weight"] = (channels, channels, 3, 3)
            table.update(_bn(f"{p}.bn2", channels))
            if block == 0 and layer > 1:
                table[f"{p}.downsample.0.weight"] = (channels, c_in, 1, 1)
                table.update(_bn(f"{p}.downsample.1", channels))
    for index, (c_in, c_out) in enumerate([(512, 256), (256, 128), (128, 64), (64, 64)], start=1):
        p = f"decoder{index}"
        table[f"{p}.deconv.weight"] = (c_in, c_out, 4, 4)
        table[f"{p}.deconv.bias"] = (c_out,)
        table[f"{p}.block_unit.conv1.weight"] = (c_out, 2 * c_out, 3, 3)
        table.update(_bn(f"{p}.block_unit.bn1", c_out))
        table[f"{p}.block_unit.conv2.weight"] = (c_out, c_out, 3, 3)
        table.update(_bn(f"{p}.block_unit.bn2", c_out))
        table[f"{p}.block_unit.downsample.0.weight"] = (c_out, 2 * c_out, 1, 1)
        table.update(_bn(f"{p}.block_unit.downsample.1", c_out))
    table.update({"conv_last.0.weight": (3, 64, 3, 3), "conv_last.0.bias": (3,),
                  "conv_last.1.weight": (2, 3, 3, 3), "conv_last.1.bias": (2,)})
    return table


#: UNet_ResNet18.pth['state_dict']: 204 tensors (32 num_batches_tracked), 16,613,179 parameters.
UNET_TABLE = _unet_table()


def test_reference_tables_match_the_documented_totals() -> None:
    assert len(AVATAR_TABLE) == 36
    assert sum(math.prod(s) for s in AVATAR_TABLE.values()) == 7_010_947
    assert len(UNET_TABLE) == 204
    assert sum(k.endswith("num_batches_tracked") for k in UNET_TABLE) == 32
    params = sum(math.prod(s) for k, s in UNET_TABLE.items()
                 if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    assert params == 16_613_179


# --------------------------------------------------------------------------------------------------
# Checkpoint writers in the official layouts
# --------------------------------------------------------------------------------------------------


def _random_state(table: dict[str, tuple[int, ...]], seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for key, shape in table.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(51_840, dtype=torch.long)
        elif key.endswith("running_var"):
            state[key] = 0.5 + torch.rand(shape, generator=gen)
        elif len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            state[key] = torch.randn(shape, generator=gen) * math.sqrt(2.0 / fan_in)
        else:
            state[key] = 0.1 * torch.randn(shape, generator=gen)
    return state


def write_avatarnet_checkpoint(directory: Path, state: dict[str, torch.Tensor], zip_format: bool = True) -> Path:
    """tyui592/Avatar-Net_Pytorch ``train.py``: {'iteration', 'state_dict', 'loss_seq': {lists}}."""
    loss_seq = {name: [0.5 / (i + 1) for i in range(40)] for name in ("total", "image", "feature", "tv")}
    path = directory / "check_point.pth"
    torch.save({"iteration": 40000, "state_dict": state, "loss_seq": loss_seq}, path,
               _use_new_zipfile_serialization=zip_format)
    return path


class _HumanSegLogger:
    """Stand-in for Human-Segmentation-PyTorch's ``utils.logger.Logger`` (an ``entries`` dict)."""

    def __init__(self) -> None:
        self.entries: dict[int, dict[str, float]] = {}

    def add_entry(self, entry: dict[str, float]) -> None:
        self.entries[len(self.entries) + 1] = entry


def write_human_seg_checkpoint(directory: Path, state: dict[str, torch.Tensor], with_optimizer_state: bool = True) -> Path:
    """Human-Seg ``base_trainer._save_checkpoint``: a trainer dict whose 'logger' pickles
    ``utils.logger.Logger``. The module exists only while saving, so loading must use the stub."""
    utils = types.ModuleType("utils")
    logger_module = types.ModuleType("utils.logger")
    logger_class = type("Logger", (_HumanSegLogger,), {"__module__": "utils.logger", "__qualname__": "Logger"})
    logger_module.Logger = logger_class
    utils.logger = logger_module
    params = [k for k in state if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    momentum = {i: {"momentum_buffer": torch.zeros_like(state[k])} for i, k in enumerate(params)} if with_optimizer_state else {}
    path = directory / "UNet_ResNet18.pth"
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "utils", utils)
        patch.setitem(sys.modules, "utils.logger", logger_module)
        logger = logger_class()
        for epoch in range(1, 4):
            logger.add_entry({"epoch": epoch, "loss": 1.0 / epoch, "valid_miou": 0.8 + epoch / 100})
        checkpoint = {
            "arch": "UNet",
            "epoch": 80,
            "logger": logger,
            "state_dict": state,
            "optimizer": {"state": momentum, "param_groups": [{
                "lr": 0.01, "momentum": 0.9, "dampening": 0, "weight_decay": 1e-8, "nesterov": False,
                "params": list(range(len(params)))}]},
            "monitor_best": 0.9009,
            "config": {"name": "UNet", "arch": {"type": "UNet", "args": {"backbone": "resnet18", "num_classes": 2}},
                       "loss": "dice_loss", "metrics": ["miou"], "trainer": {"epochs": 80}},
        }
        # Human-Seg pinned torch 1.2, which wrote the legacy (non-zip) format.
        torch.save(checkpoint, path, _use_new_zipfile_serialization=False)
    assert "utils.logger" not in sys.modules or sys.modules["utils.logger"] is not logger_module
    return path


@pytest.fixture(scope="module")
def avatar_state() -> dict[str, torch.Tensor]:
    return _random_state(AVATAR_TABLE, seed=1)


@pytest.fixture(scope="module")
def unet_state() -> dict[str, torch.Tensor]:
    return _random_state(UNET_TABLE, seed=2)


@pytest.fixture(scope="module")
def unet_dir(tmp_path_factory: pytest.TempPathFactory, unet_state: dict[str, torch.Tensor]) -> Path:
    directory = tmp_path_factory.mktemp("unet_weights")
    write_human_seg_checkpoint(directory, unet_state)
    return directory


def _manifest(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


# --------------------------------------------------------------------------------------------------
# Strict loading through the real factories
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_avatarnet_official_checkpoint_loads_strictly(tmp_path: Path, avatar_state: dict[str, torch.Tensor],
                                                       zip_format: bool) -> None:
    write_avatarnet_checkpoint(tmp_path, avatar_state, zip_format)
    stylizer = create_stylizer("avatarnet", BuildOptions(weights_dir=tmp_path))
    assert isinstance(stylizer, Stylizer)
    assert _manifest(stylizer.net) == AVATAR_TABLE
    loaded = stylizer.net.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in avatar_state.items())
    assert get_entry("stylizer", "avatarnet").weight_files == ("check_point.pth",)


def test_unet_official_trainer_checkpoint_loads_strictly(unet_dir: Path, unet_state: dict[str, torch.Tensor]) -> None:
    assert "utils.logger" not in sys.modules
    segmenter = create_segmenter("unet_resnet18", BuildOptions(weights_dir=unet_dir))
    assert isinstance(segmenter, Segmenter)
    assert _manifest(segmenter.model) == UNET_TABLE
    loaded = segmenter.model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in unet_state.items())
    assert get_entry("segmenter", "unet_resnet18").weight_files == ("UNet_ResNet18.pth",)
    mask = segmenter.segment(torch.rand(1, 3, 90, 160))
    assert mask.shape == (1, 1, 180, 320) and torch.isfinite(mask).all()


def _mutations(state: dict[str, torch.Tensor], key: str) -> dict[str, dict[str, torch.Tensor]]:
    misshaped = dict(state)
    misshaped[key] = torch.zeros(tuple(state[key].shape[:-1]) + (state[key].shape[-1] + 1,))
    missing = {k: v for k, v in state.items() if k != key}
    extra = dict(state)
    extra["decoder.extra_layer.weight"] = torch.zeros(3)
    return {"misshaped": misshaped, "missing": missing, "extra": extra}


@pytest.mark.parametrize("kind", ["misshaped", "missing", "extra"])
def test_avatarnet_refuses_a_differing_checkpoint(tmp_path: Path, avatar_state: dict[str, torch.Tensor], kind: str) -> None:
    key = "decoder.decoder.1.18.weight"
    state = _mutations(avatar_state, key)[kind]
    path = write_avatarnet_checkpoint(tmp_path, state)
    with pytest.raises(WeightsError) as info:
        create_stylizer("avatarnet", BuildOptions(weights_dir=tmp_path))
    message = str(info.value)
    assert str(path) in message
    assert ("decoder.extra_layer.weight" if kind == "extra" else key) in message


@pytest.mark.parametrize("kind", ["misshaped", "missing", "extra"])
def test_unet_refuses_a_differing_checkpoint(tmp_path: Path, unet_state: dict[str, torch.Tensor], kind: str) -> None:
    key = "decoder3.block_unit.conv2.weight"
    state = _mutations(unet_state, key)[kind]
    path = write_human_seg_checkpoint(tmp_path, state, with_optimizer_state=False)
    with pytest.raises(WeightsError) as info:
        create_segmenter("unet_resnet18", BuildOptions(weights_dir=tmp_path))
    message = str(info.value)
    assert str(path) in message
    assert ("decoder.extra_layer.weight" if kind == "extra" else key) in message


def test_bare_state_dict_is_not_the_trainer_layout(tmp_path: Path, unet_state: dict[str, torch.Tensor]) -> None:
    torch.save(unet_state, tmp_path / "UNet_ResNet18.pth")
    with pytest.raises(WeightsError, match="state_dict"):
        create_segmenter("unet_resnet18", BuildOptions(weights_dir=tmp_path))


@pytest.mark.parametrize(("kind", "name", "filename"), [("stylizer", "avatarnet", "check_point.pth"),
                                                        ("segmenter", "unet_resnet18", "UNet_ResNet18.pth")])
def test_missing_file_names_the_fetch_command(tmp_path: Path, kind: str, name: str, filename: str) -> None:
    factory = create_stylizer if kind == "stylizer" else create_segmenter
    with pytest.raises(WeightsError) as info:
        factory(name, BuildOptions(weights_dir=tmp_path))
    assert filename in str(info.value)
    assert f"vcamstyle weights fetch {name}" in str(info.value)


# --------------------------------------------------------------------------------------------------
# UNet-ResNet18: forward and preprocessing
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def random_segmenter():
    torch.manual_seed(3)
    return create_segmenter("unet_resnet18", BuildOptions(random_weights=True))


@pytest.mark.parametrize(("size", "expected"), [((250, 333), (240, 320)), ((333, 250), (320, 240)),
                                                ((720, 1280), (180, 320)), ((20, 30), (213, 320))])
def test_unet_letterboxed_mask_keeps_the_frame_aspect(random_segmenter, size: tuple[int, int],
                                                      expected: tuple[int, int]) -> None:
    mask = random_segmenter.segment(torch.rand(1, 3, *size))
    assert mask.shape == (1, 1, *expected)
    assert mask.dtype == torch.float32
    assert torch.isfinite(mask).all() and mask.min() >= 0 and mask.max() <= 1
    assert abs(expected[0] / expected[1] - size[0] / size[1]) < 0.01


def test_unet_input_is_rgb_normalised_and_black_padded_in_the_centre(random_segmenter) -> None:
    seen: list[torch.Tensor] = []
    handle = random_segmenter.model.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    try:
        red = torch.zeros(1, 3, 360, 640)
        red[:, 0] = 1.0
        random_segmenter.segment(red)
    finally:
        handle.remove()
    (net_input,) = seen
    assert net_input.shape == (1, 3, 192, 320)  # 180 rows letterboxed, padded to a multiple of 32
    black = (-IMAGENET_MEAN / IMAGENET_STD).view(3)
    red_normalised = ((torch.tensor([1.0, 0.0, 0.0]) - IMAGENET_MEAN.view(3)) / IMAGENET_STD.view(3))
    assert torch.allclose(net_input[0, :, :6].mean(dim=(1, 2)), black, atol=1e-5)
    assert torch.allclose(net_input[0, :, -6:].mean(dim=(1, 2)), black, atol=1e-5)
    assert torch.allclose(net_input[0, :, 6:-6].mean(dim=(1, 2)), red_normalised, atol=1e-4)


def test_unet_module_returns_logits_at_input_size_and_needs_multiples_of_32(random_segmenter) -> None:
    with torch.inference_mode():
        logits = random_segmenter.model(torch.randn(1, 3, 64, 96))
        assert logits.shape == (1, 2, 64, 96)
        with pytest.raises(ValueError, match="32"):
            random_segmenter.model(torch.randn(1, 3, 60, 96))
    assert random_segmenter.model.backbone.maxpool.kernel_size == 2
    assert random_segmenter.model.backbone.maxpool.stride == 2


def test_half_is_ignored_on_cpu() -> None:
    segmenter = create_segmenter("unet_resnet18", BuildOptions(random_weights=True, half=True))
    stylizer = create_stylizer("avatarnet", BuildOptions(random_weights=True, half=True))
    assert next(segmenter.model.parameters()).dtype == torch.float32
    assert next(stylizer.net.parameters()).dtype == torch.float32


def test_unet_float16_path_matches_float32(random_segmenter) -> None:
    """The CUDA half path (float16 weights, channels_last, float32 softmax) run on CPU."""
    import copy
    full = UNetSegmenter(random_segmenter.model, torch.device("cpu"), input_size=96)
    half = UNetSegmenter(copy.deepcopy(random_segmenter.model), torch.device("cpu"), input_size=96,
                         compute_dtype=torch.float16)
    assert next(half.model.parameters()).dtype == torch.float16
    frame = _content(90, 160)
    mask = half.segment(frame)
    assert mask.dtype == torch.float32 and mask.shape == (1, 1, 54, 96)
    torch.testing.assert_close(mask, full.segment(frame), atol=5e-3, rtol=0)


def test_loading_without_the_logger_stub_is_refused(unet_dir: Path) -> None:
    with pytest.raises(WeightsError, match="refused"):
        load_checkpoint(unet_dir / "UNet_ResNet18.pth")


# --------------------------------------------------------------------------------------------------
# Avatar-Net: forward with random weights
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def avatar() -> AvatarNetStylizer:
    torch.manual_seed(4)
    built = create_stylizer("avatarnet", BuildOptions(random_weights=True))
    # Small styles keep the tests fast; the factory's default is a 512 px short side.
    return AvatarNetStylizer(built.net, torch.device("cpu"), style_short_side=64, style_long_cap=128)


@pytest.fixture(scope="module")
def style_images() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(5)
    warm = torch.rand(1, 3, 64, 64, generator=gen) * torch.tensor([1.0, 0.5, 0.1]).view(1, 3, 1, 1)
    cold = torch.rand(1, 3, 64, 64, generator=gen) * torch.tensor([0.1, 0.4, 1.0]).view(1, 3, 1, 1)
    return warm, cold


@pytest.fixture(scope="module")
def styles(avatar: AvatarNetStylizer, style_images):
    return tuple(avatar.encode_style(image) for image in style_images)


def _content(height: int = 70, width: int = 90) -> torch.Tensor:
    gen = torch.Generator().manual_seed(6)
    base = torch.rand(1, 3, height // 10 + 1, width // 10 + 1, generator=gen)
    return F.interpolate(base, size=(height, width), mode="bilinear", align_corners=False)


def _half_mask(height: int = 70, width: int = 90) -> torch.Tensor:
    mask = torch.zeros(1, 1, height, width)
    mask[..., : width // 2] = 1.0
    return mask


@pytest.mark.parametrize("regions", ["person", "background", "both"])
def test_avatarnet_forward_shape_range_finite(avatar: AvatarNetStylizer, styles, regions: str) -> None:
    warm, cold = styles
    person = RegionStyle(warm, 0.8) if regions in ("person", "both") else None
    background = RegionStyle(cold, 1.0) if regions in ("background", "both") else None
    out = avatar.stylize(_content(), _half_mask(), person, background)
    assert out.shape == (1, 3, 70, 90) and out.dtype == torch.float32
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    assert out.std() > 0.01


def test_avatarnet_float16_path_runs_and_stays_close(avatar: AvatarNetStylizer, styles, style_images) -> None:
    """The CUDA half path (float16 convolutions and matching, float32 statistics) run on CPU."""
    import copy
    half = AvatarNetStylizer(copy.deepcopy(avatar.net), torch.device("cpu"), style_short_side=64,
                             compute_dtype=torch.float16)
    codes = [half.encode_style(image) for image in style_images]
    assert codes[0].kernels.dtype == torch.float16 and codes[0].colour_matrix.dtype == torch.float32
    content, mask = _content(32, 40), _half_mask(32, 40)
    out = half.stylize(content, mask, RegionStyle(codes[0]), RegionStyle(codes[1], 0.5))
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    full = avatar.stylize(content, mask, RegionStyle(styles[0]), RegionStyle(styles[1], 0.5))
    assert (out - full).abs().mean() < 0.02  # a few near-tie patch matches may flip in float16


def test_avatarnet_bfloat16_path_runs_and_stays_close(avatar: AvatarNetStylizer, styles, style_images) -> None:
    """The CPU bfloat16 path (``precision: auto`` on CPUs with native bfloat16)."""
    import copy
    reduced = AvatarNetStylizer(copy.deepcopy(avatar.net), torch.device("cpu"), style_short_side=64,
                                compute_dtype=BuildOptions(cpu_bfloat16=True).stylizer_dtype)
    assert reduced.dtype == torch.bfloat16 and reduced.memory_format == torch.channels_last
    codes = [reduced.encode_style(image) for image in style_images]
    assert codes[0].kernels.dtype == torch.bfloat16 and codes[0].colour_matrix.dtype == torch.float32
    content, mask = _content(32, 40), _half_mask(32, 40)
    out = reduced.stylize(content, mask, RegionStyle(codes[0]), RegionStyle(codes[1], 0.5))
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    full = avatar.stylize(content, mask, RegionStyle(styles[0]), RegionStyle(styles[1], 0.5))
    assert (out - full).abs().mean() < 0.03  # bfloat16 keeps 8 significant bits: a few patch matches flip


def test_avatarnet_style_code(avatar: AvatarNetStylizer, styles) -> None:
    warm, _ = styles
    assert warm.kernels.shape == (64, 512 * 9)  # 64x64 style -> 8x8 relu4_1 positions, one patch each
    assert torch.allclose(warm.kernels.norm(dim=1), torch.ones(64), atol=1e-4)
    assert [s.shape[1] for s in warm.stds] == [256, 128, 64]
    assert warm.colour_matrix.shape == (512, 512)


def test_avatarnet_mask_mix_uses_full_weights(avatar: AvatarNetStylizer, styles, style_images) -> None:
    warm, cold = styles
    content = _content(48, 56)
    ones, zeros = torch.ones(1, 1, 48, 56), torch.zeros(1, 1, 48, 56)
    both_on_ones = avatar.stylize(content, ones, RegionStyle(warm), RegionStyle(cold))
    person_only = avatar.stylize(content, ones, RegionStyle(warm), None)
    torch.testing.assert_close(both_on_ones, person_only, atol=1e-6, rtol=0)
    both_on_zeros = avatar.stylize(content, zeros, RegionStyle(warm), RegionStyle(cold))
    background_only = avatar.stylize(content, zeros, None, RegionStyle(cold))
    torch.testing.assert_close(both_on_zeros, background_only, atol=1e-6, rtol=0)
    # Upstream's masked mode with weights 1.0 (not the seed's 0.5): m * person + (1 - m) * background.
    with torch.inference_mode():
        reference_ones = ref_avatarnet(avatar.net, content, [style_images[0]], [1.0], 1.0)
        reference_mixed = ref_avatarnet(avatar.net, content, list(style_images), [0.3, 0.7], 1.0)
    torch.testing.assert_close(both_on_ones, reference_ones, atol=2e-4, rtol=0)
    mixed = avatar.stylize(content, torch.full((1, 1, 48, 56), 0.3), RegionStyle(warm), RegionStyle(cold))
    torch.testing.assert_close(mixed, reference_mixed, atol=2e-4, rtol=0)


def test_avatarnet_regions_get_different_styles(avatar: AvatarNetStylizer, styles) -> None:
    warm, cold = styles
    content, mask = _content(64, 96), _half_mask(64, 96)
    mixed = avatar.stylize(content, mask, RegionStyle(warm), RegionStyle(cold))
    all_warm = avatar.stylize(content, torch.ones_like(mask), RegionStyle(warm), None)
    all_cold = avatar.stylize(content, torch.zeros_like(mask), None, RegionStyle(cold))
    left, right = (..., slice(None), slice(0, 32)), (..., slice(None), slice(64, 96))  # away from the seam
    assert (mixed[left] - all_warm[left]).abs().mean() < 0.5 * (mixed[left] - all_cold[left]).abs().mean()
    assert (mixed[right] - all_cold[right]).abs().mean() < 0.5 * (mixed[right] - all_warm[right]).abs().mean()
    assert (all_warm - all_cold).abs().mean() > 0.02


def test_avatarnet_pads_to_multiple_of_8_and_crops_back(avatar: AvatarNetStylizer, styles) -> None:
    warm, _ = styles
    for size in [(13, 21), (33, 47), (64, 64)]:
        out = avatar.stylize(_content(*size), torch.ones(1, 1, *size), RegionStyle(warm), None)
        assert out.shape == (1, 3, *size) and torch.isfinite(out).all()


def test_avatarnet_blend_codes(avatar: AvatarNetStylizer, styles) -> None:
    warm, cold = styles
    assert avatar.blend_codes([warm, cold], [1.0, 0.0]) is warm
    blend = avatar.blend_codes([warm, cold], [3.0, 1.0])
    assert blend.num_patches == warm.num_patches + cold.num_patches
    torch.testing.assert_close(blend.means[0], 0.75 * warm.means[0] + 0.25 * cold.means[0])
    torch.testing.assert_close(blend.colour_matrix, 0.75 * warm.colour_matrix + 0.25 * cold.colour_matrix)
    out = avatar.stylize(_content(), _half_mask(), RegionStyle(blend), RegionStyle(cold))
    assert torch.isfinite(out).all()
    with pytest.raises(ValueError):
        avatar.blend_codes([warm, cold], [1.0])


# --------------------------------------------------------------------------------------------------
# Avatar-Net: the algorithm against slow references written from checkpoints.md 4.1
# --------------------------------------------------------------------------------------------------


def ref_covsqrt_mean(feature: torch.Tensor, power: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Upstream's covsqrt_mean: unnormalised covariance, eigendecomposition, small eigenvalues dropped."""
    flat = feature.double().flatten(2)[0]
    mean = flat.mean(1, keepdim=True)
    cov = (flat - mean) @ (flat - mean).T
    evals, evecs = torch.linalg.eigh(cov)
    kept = [j for j in range(evals.numel()) if evals[j] > 1e-5 * evals.max()]
    vectors = evecs[:, kept]
    return vectors @ torch.diag(evals[kept] ** power) @ vectors.T, mean


def ref_whiten(feature: torch.Tensor) -> torch.Tensor:
    inv_sqrt, mean = ref_covsqrt_mean(feature, -0.5)
    return (inv_sqrt @ (feature.double().flatten(2)[0] - mean)).view(feature.shape).float()


def ref_patch_swap(whitened_content: torch.Tensor, whitened_style: torch.Tensor, k: int = 3) -> torch.Tensor:
    """Extract patches by loops, score by conv2d, one-hot by a per-pixel loop, conv_transpose2d,
    divide by the overlap count counted by loops."""
    pad = (k - 1) // 2
    padded = F.pad(whitened_style, (pad, pad, pad, pad))
    height, width = whitened_style.shape[-2:]
    patches = torch.stack([padded[0, :, u:u + k, v:v + k] for u in range(height) for v in range(width)])
    normalised = patches / patches.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    scores = F.conv2d(F.pad(whitened_content, (pad, pad, pad, pad)), normalised)
    one_hot = torch.zeros_like(scores)
    best = scores.argmax(dim=1)[0]
    for i in range(best.shape[0]):
        for j in range(best.shape[1]):
            one_hot[0, best[i, j], i, j] = 1.0
    summed = F.conv_transpose2d(one_hot, patches, padding=pad)
    h, w = whitened_content.shape[-2:]
    counts = torch.zeros(1, 1, h, w)
    for i in range(h):
        for j in range(w):
            counts[..., max(0, i - pad):i + pad + 1, max(0, j - pad):j + pad + 1] += 1
    return summed / counts


def ref_adain(y: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    y_std, y_mean = torch.std_mean(y.flatten(2), dim=2, keepdim=True)
    s_std, s_mean = torch.std_mean(style.flatten(2), dim=2, keepdim=True)
    return (((y.flatten(2) - y_mean) / (y_std + 1e-5)) * s_std + s_mean).view_as(y)


def ref_avatarnet(net: AvatarNet, content: torch.Tensor, styles: list[torch.Tensor], weights: list[float],
                  strength: float) -> torch.Tensor:
    """Upstream's forward (everything per frame) with constant masks ``weights`` (one per style, as
    upstream's masked mode with interpolation weights 1.0); strength only at relu4_1."""

    def encode(image: torch.Tensor) -> list[torch.Tensor]:
        feats, x = [], (image - IMAGENET_MEAN) / IMAGENET_STD
        for block in net.encoder.encoder:
            x = block(x)
            feats.append(x.clone())
        return feats

    c_feats, s_feats = encode(content), [encode(style) for style in styles]
    white_content = ref_whiten(c_feats[3])
    y = torch.zeros_like(c_feats[3])
    for feats, weight in zip(s_feats, weights):
        swapped = ref_patch_swap(white_content, ref_whiten(feats[3]))
        colour, mean = ref_covsqrt_mean(feats[3], 0.5)
        decorated = (colour @ swapped.double().flatten(2)[0] + mean).view_as(c_feats[3]).float()
        y = y + weight * ((1 - strength) * c_feats[3] + strength * decorated)
    for stage, block in enumerate(net.decoder.decoder):
        y = block(y)
        if stage < 3:
            y = sum(weight * ref_adain(y, feats[2 - stage]) for feats, weight in zip(s_feats, weights))
    return (y * IMAGENET_STD + IMAGENET_MEAN).clamp(0, 1)


def test_vectorised_patch_swap_equals_the_one_hot_loop() -> None:
    gen = torch.Generator().manual_seed(7)
    content = torch.randn(1, 8, 5, 6, generator=gen)
    style = torch.randn(1, 8, 4, 4, generator=gen)
    kernels, norms = style_patch_kernels(style, 3)
    winners = match_patches(content_patch_rows(content, 3, torch.float32), kernels)
    ours = reassemble_patches(winners, kernels, norms, (5, 6), 3, overlap_counts(5, 6, 3, torch.device("cpu")))
    torch.testing.assert_close(ours, ref_patch_swap(content, style), atol=1e-5, rtol=1e-5)


def test_region_restricted_matching_equals_full_matching_inside_the_region() -> None:
    gen = torch.Generator().manual_seed(8)
    content = torch.randn(1, 8, 7, 9, generator=gen)
    kernels, norms = style_patch_kernels(torch.randn(1, 8, 5, 5, generator=gen), 3)
    rows, counts = content_patch_rows(content, 3, torch.float32), overlap_counts(7, 9, 3, torch.device("cpu"))
    full = reassemble_patches(match_patches(rows, kernels), kernels, norms, (7, 9), 3, counts)
    region = torch.zeros(7, 9, dtype=torch.bool)
    region[1:6, 2:8] = True  # matched positions; the inner 3x4 has all its neighbours matched
    positions = region.flatten().nonzero().squeeze(1)
    partial = reassemble_patches(match_patches(rows, kernels, positions), kernels, norms, (7, 9), 3, counts, positions)
    torch.testing.assert_close(partial[..., 2:5, 3:7], full[..., 2:5, 3:7])


def test_whitening_gives_identity_covariance() -> None:
    gen = torch.Generator().manual_seed(9)
    mixing = torch.randn(32, 32, generator=gen)
    feature = (mixing @ torch.randn(32, 400, generator=gen) + 3.0).view(1, 32, 20, 20)
    white = whiten(feature).flatten(2)[0]
    torch.testing.assert_close(white.mean(dim=1), torch.zeros(32), atol=1e-4, rtol=0)
    torch.testing.assert_close(white @ white.T / 400, torch.eye(32), atol=2e-3, rtol=0)
    mean, evals, evecs = covariance_eigh(feature)
    root = covariance_power(evals, evecs, 0.5)
    centred = feature.flatten(2)[0] - mean
    torch.testing.assert_close(root @ root, centred @ centred.T / 400, atol=1e-2, rtol=1e-3)


def test_whitening_drops_null_directions_without_nan() -> None:
    gen = torch.Generator().manual_seed(10)
    low_rank = torch.randn(16, 3, generator=gen) @ torch.randn(3, 50, generator=gen)
    white = whiten(low_rank.view(1, 16, 5, 10)).flatten(2)[0]
    assert torch.isfinite(white).all()
    cov = white @ white.T / 50
    assert abs(float(torch.trace(cov)) - 3.0) < 1e-2  # a projector onto the 3 kept directions
    constant = whiten(torch.full((1, 16, 4, 4), 2.0))
    assert torch.isfinite(constant).all() and constant.abs().max() < 1e-3


def test_avatarnet_full_strength_equals_the_upstream_algorithm(avatar: AvatarNetStylizer) -> None:
    gen = torch.Generator().manual_seed(11)
    style = torch.rand(1, 3, 64, 64, generator=gen)
    content = _content(48, 56)
    ours = avatar.stylize(content, torch.ones(1, 1, 48, 56), RegionStyle(avatar.encode_style(style), 1.0), None)
    with torch.inference_mode():
        reference = ref_avatarnet(avatar.net, content, [style], [1.0], 1.0)
    torch.testing.assert_close(ours, reference, atol=2e-4, rtol=0)


def test_avatarnet_upstream_strength_only_at_relu4_1(avatar: AvatarNetStylizer) -> None:
    upstream_mode = AvatarNetStylizer(avatar.net, torch.device("cpu"), style_short_side=64, strength_in_decoder=False)
    gen = torch.Generator().manual_seed(12)
    style = torch.rand(1, 3, 64, 64, generator=gen)
    content = _content(48, 56)
    ours = upstream_mode.stylize(content, torch.ones(1, 1, 48, 56), RegionStyle(upstream_mode.encode_style(style), 0.4), None)
    with torch.inference_mode():
        reference = ref_avatarnet(avatar.net, content, [style], [1.0], 0.4)
    torch.testing.assert_close(ours, reference, atol=2e-4, rtol=0)


def test_avatarnet_strength_zero_is_the_reconstruction_path(avatar: AvatarNetStylizer, styles) -> None:
    warm, cold = styles
    content = _content(48, 56)
    out = avatar.stylize(content, _half_mask(48, 56), RegionStyle(warm, 0.0), RegionStyle(cold, 0.0))
    with torch.inference_mode():
        feats, x = [], (content - IMAGENET_MEAN) / IMAGENET_STD
        for block in avatar.net.encoder.encoder:
            x = block(x)
            feats.append(x.clone())
        y = feats[3]
        for stage, block in enumerate(avatar.net.decoder.decoder):
            y = block(y)
            if stage < 3:
                y = ref_adain(y, feats[2 - stage])  # the training path: AdaIN to the content itself
        reconstruction = (y * IMAGENET_STD + IMAGENET_MEAN).clamp(0, 1)
    torch.testing.assert_close(out, reconstruction, atol=1e-4, rtol=0)
    styled = avatar.stylize(content, _half_mask(48, 56), RegionStyle(warm, 1.0), RegionStyle(cold, 1.0))
    assert (styled - reconstruction).abs().mean() > 0.01


def test_covariance_eigh_recovers_when_float32_lapack_fails(monkeypatch) -> None:
    """MKL's float32 solver failed to converge on a rank-111 relu4_1 covariance (a 64x114 frame through
    default-initialised weights in bfloat16); the float64 retry must return a valid decomposition."""
    from vcamstyle.models.seed.avatarnet import covariance_eigh

    gen = torch.Generator().manual_seed(3)
    feature = torch.relu(torch.randn(1, 64, 6, 9, generator=gen))  # 54 pixels: a rank-deficient covariance
    feature[:, 20:40] = 0  # dead channels: many repeated zero eigenvalues
    real = torch.linalg.eigh
    calls: list[torch.dtype] = []

    def float32_fails(matrix: torch.Tensor):
        calls.append(matrix.dtype)
        if matrix.dtype == torch.float32:
            raise torch.linalg.LinAlgError("linalg.eigh: The algorithm failed to converge (simulated)")
        return real(matrix)

    monkeypatch.setattr(torch.linalg, "eigh", float32_fails)
    mean, evals, evecs = covariance_eigh(feature)
    assert calls == [torch.float32, torch.float64]
    assert evals.dtype == evecs.dtype == mean.dtype == torch.float32
    flat = feature.flatten(2)[0]
    centred = flat - flat.mean(dim=1, keepdim=True)
    cov = centred @ centred.T / flat.shape[1]
    torch.testing.assert_close((evecs * evals) @ evecs.T, cov, atol=1e-5, rtol=1e-4)
    assert torch.all(evals[:-1] <= evals[1:])  # ascending, as eigh returns them
