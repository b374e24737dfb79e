"""AdaIN and SANet stylizers: official checkpoint layouts, architecture, per-region styles and strengths.

The reference computations below are written from the published descriptions (checkpoints.md 2.1, 2.3,
3.1) with plain ``torch.nn.functional`` calls on the file's tensors, independently of the model modules.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from vcamstyle.errors import WeightsError
from vcamstyle.frames import padded_size, resize
from vcamstyle.models.seed.adain import AdaINStyleCode, adain, channel_mean_std
from vcamstyle.models.base import RegionStyle, Stylizer
from vcamstyle.models.registry import BuildOptions, create_stylizer, get_entry
from vcamstyle.models.seed.sanet import SANetStyleCode, Transform
from vcamstyle.models.stylize_common import (
    ComputePolicy,
    feature_mask,
    snap_mask,
    style_input_size,
)
from vcamstyle.models.seed.vgg import build_decoder, build_encoder_layers

torch.set_grad_enabled(False)

# --------------------------------------------------------------------------------------------------
# Reference computations (independent of vcamstyle.models.seed.vgg / adain / sanet)
# --------------------------------------------------------------------------------------------------

# "1x1:i" = 1x1 conv, no pad, no ReLU; "c:i" = reflect pad 1, 3x3 conv, ReLU; "last:i" = same, no ReLU;
# "P" = 2x2 max-pool with ceil mode; "U" = nearest x2; "@name" = a named output.
ENCODER_PROGRAM = ["1x1:0", "c:2", "@relu1_1", "c:5", "P", "c:9", "@relu2_1", "c:12", "P", "c:16", "@relu3_1",
                   "c:19", "c:22", "c:25", "P", "c:29", "@relu4_1", "c:32", "c:35", "c:38", "P", "c:42", "@relu5_1"]
DECODER_PROGRAM = ["c:1", "U", "c:5", "c:8", "c:11", "c:14", "U", "c:18", "c:21", "U", "c:25", "last:28"]


def run_program(program: list[str], state: dict[str, torch.Tensor], x: torch.Tensor,
                stop: str | None = None) -> dict[str, torch.Tensor] | torch.Tensor:
    outputs: dict[str, torch.Tensor] = {}
    for op in program:
        if op == "P":
            x = F.max_pool2d(x, 2, 2, ceil_mode=True)
        elif op == "U":
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        elif op.startswith("@"):
            outputs[op[1:]] = x
            if op[1:] == stop:
                return outputs
        else:
            kind, index = op.split(":")
            weight, bias = state[f"{index}.weight"], state[f"{index}.bias"]
            if kind == "1x1":
                x = F.conv2d(x, weight, bias)
            else:
                x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), weight, bias)
                if kind == "c":
                    x = F.relu(x)
    return outputs if stop else x


def ref_encode(vgg: dict[str, torch.Tensor], image: torch.Tensor, stop: str = "relu5_1") -> dict[str, torch.Tensor]:
    return run_program(ENCODER_PROGRAM, vgg, image, stop=stop)


def ref_decode(decoder: dict[str, torch.Tensor], feat: torch.Tensor) -> torch.Tensor:
    return run_program(DECODER_PROGRAM, decoder, feat)


def ref_mean_std(feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    b, c = feat.shape[:2]
    flat = feat.reshape(b, c, -1)
    return flat.mean(-1).reshape(b, c, 1, 1), (flat.var(-1, unbiased=True) + 1e-5).sqrt().reshape(b, c, 1, 1)


def ref_adain(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    cm, cs = ref_mean_std(content)
    sm, ss = ref_mean_std(style)
    return (content - cm) / cs * ss + sm


def ref_sanet_block(t: dict[str, torch.Tensor], prefix: str, content: torch.Tensor,
                    style: torch.Tensor) -> torch.Tensor:
    def conv(name: str, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, t[f"{prefix}.{name}.weight"], t[f"{prefix}.{name}.bias"])

    def mvn(x: torch.Tensor) -> torch.Tensor:
        mean, std = ref_mean_std(x)
        return (x - mean) / std

    b, c, h, w = content.shape
    query = conv("f", mvn(content)).reshape(b, c, -1)          # [b, C, Nc]
    key = conv("g", mvn(style)).reshape(b, c, -1)              # [b, C, Ns]
    value = conv("h", style).reshape(b, c, -1)                 # [b, C, Ns]
    attention = torch.softmax(torch.bmm(query.transpose(1, 2), key), dim=-1)   # [b, Nc, Ns]
    out = torch.bmm(value, attention.transpose(1, 2)).reshape(b, c, h, w)
    return conv("out_conv", out) + content


def ref_pre_merge(t, c4, s4, c5, s5) -> torch.Tensor:
    return ref_sanet_block(t, "sanet4_1", c4, s4) + F.interpolate(ref_sanet_block(t, "sanet5_1", c5, s5),
                                                                  scale_factor=2, mode="nearest")


def ref_merge(t: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), t["merge_conv.weight"], t["merge_conv.bias"])


def ref_pad(image: torch.Tensor, multiple: int) -> torch.Tensor:
    h, w = image.shape[-2:]
    return F.pad(image, (0, (-w) % multiple, 0, (-h) % multiple), mode="reflect")


def finish(decoded: torch.Tensor, h: int, w: int) -> torch.Tensor:
    return decoded[..., :h, :w].clamp(0, 1)


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------


def test_image(h: int, w: int, seed: int, tint: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> torch.Tensor:
    """A 1x3xHxW RGB [0,1] image with structure at several scales."""
    g = torch.Generator().manual_seed(seed)
    coarse = F.interpolate(torch.rand(1, 3, max(1, h // 8), max(1, w // 8), generator=g), size=(h, w),
                           mode="bilinear", align_corners=False)
    image = 0.7 * coarse + 0.3 * torch.rand(1, 3, h, w, generator=g)
    return (image * torch.tensor(tint).reshape(1, 3, 1, 1)).clamp(0, 1)


test_image.__test__ = False  # a helper, not a test


@pytest.fixture(scope="module")
def adain_model(adain_checkpoints):
    model = create_stylizer("adain", BuildOptions(weights_dir=adain_checkpoints.weights_dir))
    model.style_short_side = None   # keep the small test style images small
    return model


@pytest.fixture(scope="module")
def sanet_model(sanet_checkpoints):
    model = create_stylizer("sanet", BuildOptions(weights_dir=sanet_checkpoints.weights_dir))
    model.style_short_side = None
    return model


@pytest.fixture(scope="module")
def files(vgg_family_weights_dir: Path) -> dict[str, dict[str, torch.Tensor]]:
    return {name: torch.load(vgg_family_weights_dir / name, map_location="cpu", weights_only=True)
            for name in os.listdir(vgg_family_weights_dir)}


@pytest.fixture(params=["adain", "sanet"])
def method(request) -> str:
    return request.param


@pytest.fixture
def model(method, request):
    return request.getfixturevalue(f"{method}_model")


#: The usual test frame size: not a multiple of 8 or 16 (padded to 48x64 by both methods).
H, W = 44, 60
STYLE_A = test_image(64, 64, seed=11, tint=(1.0, 0.35, 0.2))
STYLE_B = test_image(48, 80, seed=12, tint=(0.2, 0.5, 1.0))


def half_mask(h: int, w: int) -> torch.Tensor:
    """Person (1) on the left half, background (0) on the right."""
    mask = torch.zeros(1, 1, h, w)
    mask[..., : w // 2] = 1.0
    return mask


# --------------------------------------------------------------------------------------------------
# Checkpoint layouts
# --------------------------------------------------------------------------------------------------


def test_reference_tables_have_the_published_sizes(adain_checkpoints, sanet_checkpoints) -> None:
    tables = {**adain_checkpoints.tables, **sanet_checkpoints.tables}
    counts = {name: (len(table), sum(torch.Size(shape).numel() for shape in table.values()))
              for name, table in tables.items()}
    assert counts == {
        "vgg_normalised.pth": (34, 20_024_396),
        "decoder.pth": (18, 3_505_219),
        "decoder_iter_500000.pth": (18, 3_505_219),
        "transformer_iter_500000.pth": (18, 4_461_056),
    }


def test_written_files_are_bare_state_dicts_matching_the_tables(adain_checkpoints, sanet_checkpoints, files) -> None:
    for checkpoints in (adain_checkpoints, sanet_checkpoints):
        for name, table in checkpoints.tables.items():
            state = files[name]
            assert isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values()), name
            assert list(state) == list(table), f"{name}: keys out of the published order"
            assert {k: tuple(v.shape) for k, v in state.items()} == table, name


def test_module_layouts_equal_the_reference_tables(adain_checkpoints, sanet_checkpoints) -> None:
    encoder, decoder, transform = build_encoder_layers(), build_decoder(), Transform()
    assert len(encoder) == 53 and len(decoder) == 29
    manifest = lambda module: {k: tuple(v.shape) for k, v in module.state_dict().items()}  # noqa: E731
    assert manifest(encoder) == adain_checkpoints.tables["vgg_normalised.pth"]
    assert manifest(decoder) == adain_checkpoints.tables["decoder.pth"]
    assert manifest(transform) == sanet_checkpoints.tables["transformer_iter_500000.pth"]


def test_factories_load_the_published_tensors(adain_model, sanet_model, files) -> None:
    vgg = files["vgg_normalised.pth"]
    for model, decoder_file in ((adain_model, "decoder.pth"), (sanet_model, "decoder_iter_500000.pth")):
        encoder_state = model.encoder.layers.state_dict()
        assert encoder_state, "encoder has no weights"
        for key, value in encoder_state.items():
            assert torch.equal(value, vgg[key]), key
        for key, value in model.decoder.state_dict().items():
            assert torch.equal(value, files[decoder_file][key]), key
    assert len(adain_model.encoder.layers) == 31      # up to relu4_1
    assert len(sanet_model.encoder.layers) == 44      # up to relu5_1
    for key, value in sanet_model.transform.state_dict().items():
        assert torch.equal(value, files["transformer_iter_500000.pth"][key]), key


def test_encoder_and_decoder_follow_the_reference_architecture(sanet_model, files) -> None:
    image = test_image(36, 52, seed=3)       # not a multiple of 8: exercises ceil-mode pooling
    ours = sanet_model.encoder.encode(image, ("relu4_1", "relu5_1"))
    reference = ref_encode(files["vgg_normalised.pth"], image)
    assert ours["relu4_1"].shape == (1, 512, 5, 7) and ours["relu5_1"].shape == (1, 512, 3, 4)
    for level in ("relu4_1", "relu5_1"):
        torch.testing.assert_close(ours[level], reference[level], rtol=1e-4, atol=1e-4)
    decoded = sanet_model.decoder(reference["relu4_1"])
    torch.testing.assert_close(decoded, ref_decode(files["decoder_iter_500000.pth"], reference["relu4_1"]),
                               rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------------------------------
# Weights files: missing or wrong
# --------------------------------------------------------------------------------------------------


def linked_dir(tmp_path: Path, source: Path, names: list[str]) -> Path:
    target = tmp_path / "weights"
    target.mkdir()
    for name in names:
        (target / name).symlink_to(source / name)
    return target


@pytest.mark.parametrize("name, files_needed", [
    ("adain", ["vgg_normalised.pth", "decoder.pth"]),
    ("sanet", ["vgg_normalised.pth", "decoder_iter_500000.pth", "transformer_iter_500000.pth"]),
])
def test_missing_weights_file_names_it_and_the_fetch_command(tmp_path, vgg_family_weights_dir, name,
                                                           files_needed) -> None:
    assert get_entry("stylizer", name).weight_files == tuple(files_needed)
    missing = files_needed[-1]
    directory = linked_dir(tmp_path, vgg_family_weights_dir, files_needed[:-1])
    with pytest.raises(WeightsError) as info:
        create_stylizer(name, BuildOptions(weights_dir=directory))
    message = str(info.value)
    assert missing in message and f"vcamstyle weights fetch {name}" in message

    with pytest.raises(WeightsError, match=f"vcamstyle weights fetch {name}"):
        create_stylizer(name, BuildOptions(weights_dir=None))


def test_all_missing_files_are_listed(tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(WeightsError) as info:
        create_stylizer("sanet", BuildOptions(weights_dir=empty))
    message = str(info.value)
    for name in ("vgg_normalised.pth", "decoder_iter_500000.pth", "transformer_iter_500000.pth"):
        assert name in message
    assert "vcamstyle weights fetch sanet" in message


def test_mismatching_files_are_refused_by_the_factories(tmp_path, vgg_family_weights_dir, files) -> None:
    directory = linked_dir(tmp_path, vgg_family_weights_dir, ["vgg_normalised.pth"])
    transformer = dict(files["transformer_iter_500000.pth"])
    transformer["merge_conv.weight"] = torch.zeros(512, 512, 1, 1)
    torch.save(transformer, directory / "transformer_iter_500000.pth")
    decoder = dict(files["decoder.pth"])
    del decoder["28.bias"]
    torch.save(decoder, directory / "decoder.pth")
    (directory / "decoder_iter_500000.pth").symlink_to(vgg_family_weights_dir / "decoder_iter_500000.pth")

    with pytest.raises(WeightsError) as info:
        create_stylizer("adain", BuildOptions(weights_dir=directory))
    assert str(directory / "decoder.pth") in str(info.value) and "28.bias" in str(info.value)

    with pytest.raises(WeightsError) as info:
        create_stylizer("sanet", BuildOptions(weights_dir=directory))
    assert str(directory / "transformer_iter_500000.pth") in str(info.value)
    assert "merge_conv.weight" in str(info.value)


def test_random_weights_need_no_files(method) -> None:
    model = create_stylizer(method, BuildOptions(random_weights=True))
    assert isinstance(model, Stylizer)
    model.style_short_side = None
    code = model.encode_style(test_image(32, 32, seed=5))
    out = model.stylize(test_image(24, 40, seed=6), half_mask(24, 40), RegionStyle(code), None)
    assert out.shape == (1, 3, 24, 40) and torch.isfinite(out).all()


def test_half_precision_is_cuda_only() -> None:
    policy = ComputePolicy.from_options(BuildOptions(half=True))
    assert policy.dtype == torch.float32 and not policy.channels_last
    model = create_stylizer("adain", BuildOptions(random_weights=True, half=True))
    assert next(model.decoder.parameters()).dtype == torch.float32


def test_cpu_bfloat16_policy_comes_from_the_build_options() -> None:
    policy = ComputePolicy.from_options(BuildOptions(cpu_bfloat16=True))
    assert policy.dtype == torch.bfloat16 and policy.channels_last
    assert ComputePolicy.from_options(BuildOptions(device=torch.device("cuda"), cpu_bfloat16=True)).dtype == torch.float32
    assert ComputePolicy.from_options(BuildOptions(device=torch.device("cuda"), half=True)).dtype == torch.float16


def test_bfloat16_factory_build_stays_close_to_float32(method, vgg_family_weights_dir, request) -> None:
    """``precision: auto`` on a CPU with native bfloat16: the factory builds bfloat16 weights, channels_last,
    float32 statistics and softmax; the result is bfloat16 rounding away from float32."""
    reference = request.getfixturevalue(f"{method}_model")
    model = create_stylizer(method, BuildOptions(weights_dir=vgg_family_weights_dir, cpu_bfloat16=True))
    model.style_short_side = None
    assert next(model.decoder.parameters()).dtype == torch.bfloat16
    content, mask = test_image(H, W, seed=19), half_mask(H, W)
    outs = []
    for m in (reference, model):
        outs.append(m.stylize(content, mask, RegionStyle(m.encode_style(STYLE_A), 0.7),
                              RegionStyle(m.encode_style(STYLE_B))))
    assert outs[1].dtype == torch.float32 and outs[1].is_contiguous()
    difference = (outs[1] - outs[0]).abs()
    assert difference.mean().item() < 0.006 and difference.max().item() < 0.05  # measured 0.002 and 0.01


def test_float16_channels_last_policy_matches_float32(method, vgg_family_weights_dir, request) -> None:
    """The CUDA policy (fp16 weights, channels_last, fp32 statistics and softmax), emulated on the CPU."""
    reference = request.getfixturevalue(f"{method}_model")
    model = create_stylizer(method, BuildOptions(weights_dir=vgg_family_weights_dir))
    model.style_short_side = None
    model.policy = ComputePolicy(torch.device("cpu"), torch.float16, channels_last=True)
    for part in ("encoder", "decoder", "transform"):
        if hasattr(model, part):
            model.policy.prepare_module(getattr(model, part))
    assert next(model.decoder.parameters()).dtype == torch.float16
    content, mask = test_image(H, W, seed=19), half_mask(H, W)
    outs = []
    for m in (reference, model):
        outs.append(m.stylize(content, mask, RegionStyle(m.encode_style(STYLE_A), 0.7),
                              RegionStyle(m.encode_style(STYLE_B))))
    assert outs[1].dtype == torch.float32 and outs[1].is_contiguous()
    torch.testing.assert_close(outs[1], outs[0], rtol=0, atol=5e-3)


# --------------------------------------------------------------------------------------------------
# AdaIN maths
# --------------------------------------------------------------------------------------------------


def test_adain_output_carries_the_style_statistics() -> None:
    g = torch.Generator().manual_seed(0)
    content = torch.randn(1, 512, 9, 11, generator=g) * 3 + 1
    style = torch.randn(1, 512, 13, 7, generator=g) * torch.rand(1, 512, 1, 1, generator=g) * 4 - 2
    style_mean, style_std = channel_mean_std(style)
    out = adain(content, style_mean, style_std)
    flat = out.reshape(512, -1)
    torch.testing.assert_close(flat.mean(-1), style.reshape(512, -1).mean(-1), rtol=0, atol=1e-4)
    torch.testing.assert_close(flat.std(-1, unbiased=True), (style.reshape(512, -1).var(-1) + 1e-5).sqrt(),
                               rtol=0, atol=1e-4)
    torch.testing.assert_close(out, ref_adain(content, style), rtol=1e-5, atol=1e-5)


def test_adain_statistics_are_float32_for_half_features() -> None:
    feat = (torch.randn(1, 8, 5, 6) * 50 + 100).half()
    mean, std = channel_mean_std(feat)
    assert mean.dtype == std.dtype == torch.float32
    out = adain(feat, mean, std)
    assert out.dtype == torch.float16
    torch.testing.assert_close(out.float(), feat.float(), rtol=2e-3, atol=0.3)


def test_adain_single_position_has_no_nan() -> None:
    feat = torch.randn(1, 4, 1, 1)
    mean, std = channel_mean_std(feat)
    assert torch.isfinite(adain(feat, mean, std)).all()


def test_adain_style_code_is_relu4_1_statistics(adain_model, files) -> None:
    code = adain_model.encode_style(STYLE_A)
    assert isinstance(code, AdaINStyleCode)
    mean, std = ref_mean_std(ref_encode(files["vgg_normalised.pth"], STYLE_A, stop="relu4_1")["relu4_1"])
    torch.testing.assert_close(code.mean, mean, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(code.std, std, rtol=1e-4, atol=1e-5)


def test_style_image_short_side_is_resized() -> None:
    assert style_input_size(64, 80, 512) == (512, 640)
    assert style_input_size(1024, 768, 512) == (683, 512)
    assert style_input_size(300, 200, None) == (300, 200)
    assert create_stylizer("adain", BuildOptions(random_weights=True)).style_short_side == 512
    assert create_stylizer("sanet", BuildOptions(random_weights=True)).style_short_side == 512


def test_encode_style_uses_the_short_side(adain_model) -> None:
    try:
        adain_model.style_short_side = 40
        resized = adain_model.encode_style(STYLE_B)            # 48x80 -> 40x67
    finally:
        adain_model.style_short_side = None
    direct = adain_model.encode_style(resize(STYLE_B, (40, 67)))
    torch.testing.assert_close(resized.mean, direct.mean, rtol=1e-4, atol=1e-5)
    unresized = adain_model.encode_style(STYLE_B)
    assert not torch.allclose(resized.std, unresized.std, rtol=1e-3, atol=1e-4)


# --------------------------------------------------------------------------------------------------
# Forward passes
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("regions", ["person", "background", "both"])
def test_forward_shape_range_finite(model, regions) -> None:
    content = test_image(70, 90, seed=1)
    person = RegionStyle(model.encode_style(STYLE_A), 0.8) if regions in ("person", "both") else None
    background = RegionStyle(model.encode_style(STYLE_B), 1.0) if regions in ("background", "both") else None
    out = model.stylize(content, half_mask(70, 90), person, background)
    assert out.shape == content.shape and out.dtype == torch.float32
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    assert not torch.allclose(out, content, atol=1e-2)
    assert 0.05 < out.std() and (out > 0).float().mean() > 0.5, "test weights should give a non-degenerate image"


@pytest.mark.parametrize("size", [(37, 53), (17, 100), (5, 7)])
def test_any_frame_size_works(model, size) -> None:
    content = test_image(*size, seed=2)
    out = model.stylize(content, half_mask(*size), RegionStyle(model.encode_style(STYLE_A)),
                        RegionStyle(model.encode_style(STYLE_B), 0.5))
    assert out.shape == content.shape and torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_mask_at_another_resolution_is_resized(model) -> None:
    content = test_image(H, W, seed=4)
    a, b = RegionStyle(model.encode_style(STYLE_A)), RegionStyle(model.encode_style(STYLE_B))
    small = torch.rand(1, 1, 11, 15)
    out_small = model.stylize(content, small, a, b)
    out_full = model.stylize(content, resize(small, (H, W)), a, b)
    torch.testing.assert_close(out_small, out_full)


def test_no_region_returns_the_content(model) -> None:
    content = test_image(20, 30, seed=7)
    assert torch.equal(model.stylize(content, half_mask(20, 30), None, None), content)


# --------------------------------------------------------------------------------------------------
# Strength, regions, blends
# --------------------------------------------------------------------------------------------------


def test_adain_strength_zero_is_the_decoder_reconstruction(adain_model, files) -> None:
    content = test_image(H, W, seed=8)
    features = ref_encode(files["vgg_normalised.pth"], ref_pad(content, 8), stop="relu4_1")["relu4_1"]
    reference = finish(ref_decode(files["decoder.pth"], features), H, W)
    a, b = adain_model.encode_style(STYLE_A), adain_model.encode_style(STYLE_B)
    for person, background in ((RegionStyle(a, 0.0), RegionStyle(b, 0.0)), (RegionStyle(a, 0.0), None)):
        out = adain_model.stylize(content, half_mask(H, W), person, background)
        torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-4)


def test_adain_strength_is_upstream_alpha(adain_model, files) -> None:
    content = test_image(H, W, seed=9)
    c = ref_encode(files["vgg_normalised.pth"], ref_pad(content, 8), stop="relu4_1")["relu4_1"]
    s = ref_encode(files["vgg_normalised.pth"], STYLE_A, stop="relu4_1")["relu4_1"]
    reference = finish(ref_decode(files["decoder.pth"], 0.4 * ref_adain(c, s) + 0.6 * c), H, W)
    out = adain_model.stylize(content, half_mask(H, W), RegionStyle(adain_model.encode_style(STYLE_A), 0.4), None)
    torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-4)


def test_sanet_full_strength_matches_the_reference_transform(sanet_model, files) -> None:
    content = test_image(H, W, seed=10)
    vgg, t = files["vgg_normalised.pth"], files["transformer_iter_500000.pth"]
    c, s = ref_encode(vgg, ref_pad(content, 16)), ref_encode(vgg, STYLE_A)
    transformed = ref_merge(t, ref_pre_merge(t, c["relu4_1"], s["relu4_1"], c["relu5_1"], s["relu5_1"]))
    reference = finish(ref_decode(files["decoder_iter_500000.pth"], transformed), H, W)
    out = sanet_model.stylize(content, half_mask(H, W), RegionStyle(sanet_model.encode_style(STYLE_A)), None)
    torch.testing.assert_close(out, reference, rtol=1e-4, atol=2e-4)


def test_sanet_strength_zero_is_the_content_self_attention_path(sanet_model, files) -> None:
    content = test_image(H, W, seed=12)
    vgg, t = files["vgg_normalised.pth"], files["transformer_iter_500000.pth"]
    c = ref_encode(vgg, ref_pad(content, 16))
    transformed = ref_merge(t, ref_pre_merge(t, c["relu4_1"], c["relu4_1"], c["relu5_1"], c["relu5_1"]))
    reference = finish(ref_decode(files["decoder_iter_500000.pth"], transformed), H, W)
    a, b = sanet_model.encode_style(STYLE_A), sanet_model.encode_style(STYLE_B)
    for person, background in ((RegionStyle(a, 0.0), RegionStyle(b, 0.0)), (None, RegionStyle(b, 0.0))):
        out = sanet_model.stylize(content, half_mask(H, W), person, background)
        torch.testing.assert_close(out, reference, rtol=1e-4, atol=2e-4)


def test_sanet_strength_blends_transform_outputs(sanet_model, files) -> None:
    content = test_image(H, W, seed=13)
    vgg, t = files["vgg_normalised.pth"], files["transformer_iter_500000.pth"]
    c, s = ref_encode(vgg, ref_pad(content, 16)), ref_encode(vgg, STYLE_B)
    styled = ref_merge(t, ref_pre_merge(t, c["relu4_1"], s["relu4_1"], c["relu5_1"], s["relu5_1"]))
    itself = ref_merge(t, ref_pre_merge(t, c["relu4_1"], c["relu4_1"], c["relu5_1"], c["relu5_1"]))
    reference = finish(ref_decode(files["decoder_iter_500000.pth"], 0.3 * styled + 0.7 * itself), H, W)
    out = sanet_model.stylize(content, half_mask(H, W), None, RegionStyle(sanet_model.encode_style(STYLE_B), 0.3))
    torch.testing.assert_close(out, reference, rtol=1e-4, atol=2e-4)


def soft_mask() -> torch.Tensor:
    """H x W mask: background (0) in columns 0-7, soft values in [0.25, 0.75] in 8-39, person (1) from 40.

    The edges fall on relu4_1 cells (8 px) but inside relu5_1 cells (16 px)."""
    g = torch.Generator().manual_seed(21)
    mask = torch.zeros(1, 1, H, W)
    mask[..., 8:40] = 0.25 + 0.5 * torch.rand(1, 1, H, 32, generator=g)
    mask[..., 40:] = 1.0
    return mask


def ref_feature_mask(mask: torch.Tensor, multiple: int, size: tuple[int, int]) -> torch.Tensor:
    h, w = mask.shape[-2:]
    padded = F.pad(mask, (0, (-w) % multiple, 0, (-h) % multiple), mode="replicate")
    return F.interpolate(padded, size=size, mode="area")


def test_adain_two_regions_match_the_reference_mix(adain_model, files) -> None:
    content, mask = test_image(H, W, seed=22), soft_mask()
    vgg = files["vgg_normalised.pth"]
    c = ref_encode(vgg, ref_pad(content, 8), stop="relu4_1")["relu4_1"]
    styled = [ref_adain(c, ref_encode(vgg, s, stop="relu4_1")["relu4_1"]) for s in (STYLE_A, STYLE_B)]
    m = ref_feature_mask(mask, 8, c.shape[-2:])
    feat = c + m * 0.6 * (styled[0] - c) + (1 - m) * 0.9 * (styled[1] - c)
    reference = finish(ref_decode(files["decoder.pth"], feat), H, W)
    out = adain_model.stylize(content, mask, RegionStyle(adain_model.encode_style(STYLE_A), 0.6),
                              RegionStyle(adain_model.encode_style(STYLE_B), 0.9))
    torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("strengths", [(1.0, 1.0), (0.6, 1.0), (1.0, 0.3)])
def test_sanet_two_regions_match_the_reference_mix(sanet_model, files, strengths) -> None:
    content, mask = test_image(H, W, seed=23), soft_mask()
    vgg, t = files["vgg_normalised.pth"], files["transformer_iter_500000.pth"]
    c = ref_encode(vgg, ref_pad(content, 16))
    pre = []
    for s in (ref_encode(vgg, STYLE_A), ref_encode(vgg, STYLE_B), c):
        pre.append(ref_pre_merge(t, c["relu4_1"], s["relu4_1"], c["relu5_1"], s["relu5_1"]))
    person, background, itself = pre
    m = ref_feature_mask(mask, 16, person.shape[-2:])
    mixed = itself + m * strengths[0] * (person - itself) + (1 - m) * strengths[1] * (background - itself)
    reference = finish(ref_decode(files["decoder_iter_500000.pth"], ref_merge(t, mixed)), H, W)
    out = sanet_model.stylize(content, mask, RegionStyle(sanet_model.encode_style(STYLE_A), strengths[0]),
                              RegionStyle(sanet_model.encode_style(STYLE_B), strengths[1]))
    torch.testing.assert_close(out, reference, rtol=1e-4, atol=2e-4)


def test_the_two_regions_get_their_own_styles(model) -> None:
    h, w = 48, 176                                   # seam at x = 88; compare 44 px away from it
    content = test_image(h, w, seed=14)
    a, b = RegionStyle(model.encode_style(STYLE_A)), RegionStyle(model.encode_style(STYLE_B))
    mask = half_mask(h, w)
    both = model.stylize(content, mask, a, b)
    person_only = model.stylize(content, mask, a, None)
    background_only = model.stylize(content, mask, None, b)
    left, right = (..., slice(0, 44)), (..., slice(132, 176))
    torch.testing.assert_close(both[left], person_only[left], rtol=0, atol=1e-4)
    torch.testing.assert_close(both[right], background_only[right], rtol=0, atol=1e-4)
    assert (person_only - background_only).abs().mean() > 0.02, "the two styles should look different"
    assert (both[left] - background_only[left]).abs().mean() > 0.02
    assert (both[right] - person_only[right]).abs().mean() > 0.02


def test_blend_with_weights_one_zero_is_the_first_style(model) -> None:
    content = test_image(H, W, seed=15)
    a, b = model.encode_style(STYLE_A), model.encode_style(STYLE_B)
    first = model.stylize(content, half_mask(H, W), RegionStyle(a), None)
    blended = model.stylize(content, half_mask(H, W), RegionStyle(model.blend_codes([a, b], [1, 0])), None)
    torch.testing.assert_close(blended, first, rtol=0, atol=1e-5)
    middle = model.stylize(content, half_mask(H, W), RegionStyle(model.blend_codes([a, b], [1, 1])), None)
    second = model.stylize(content, half_mask(H, W), RegionStyle(b), None)
    assert (middle - first).abs().mean() > 1e-3 and (middle - second).abs().mean() > 1e-3


def test_adain_blend_equals_interpolating_adain_features(adain_model, files) -> None:
    content = test_image(H, W, seed=16)
    vgg = files["vgg_normalised.pth"]
    c = ref_encode(vgg, ref_pad(content, 8), stop="relu4_1")["relu4_1"]
    feats = [ref_adain(c, ref_encode(vgg, s, stop="relu4_1")["relu4_1"]) for s in (STYLE_A, STYLE_B)]
    reference = finish(ref_decode(files["decoder.pth"], 0.25 * feats[0] + 0.75 * feats[1]), H, W)
    code = adain_model.blend_codes([adain_model.encode_style(STYLE_A), adain_model.encode_style(STYLE_B)], [1, 3])
    out = adain_model.stylize(content, half_mask(H, W), RegionStyle(code), None)
    torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-4)


def test_sanet_blend_is_the_weighted_transform_output(sanet_model, files) -> None:
    content = test_image(H, W, seed=17)
    vgg, t = files["vgg_normalised.pth"], files["transformer_iter_500000.pth"]
    c = ref_encode(vgg, ref_pad(content, 16))
    outs = []
    for style in (STYLE_A, STYLE_B):
        s = ref_encode(vgg, style)
        outs.append(ref_merge(t, ref_pre_merge(t, c["relu4_1"], s["relu4_1"], c["relu5_1"], s["relu5_1"])))
    reference = finish(ref_decode(files["decoder_iter_500000.pth"], 0.25 * outs[0] + 0.75 * outs[1]), H, W)
    code = sanet_model.blend_codes([sanet_model.encode_style(STYLE_A), sanet_model.encode_style(STYLE_B)], [1, 3])
    out = sanet_model.stylize(content, half_mask(H, W), RegionStyle(code), None)
    torch.testing.assert_close(out, reference, rtol=1e-4, atol=2e-4)


def test_sanet_blends_of_blends_multiply_weights(sanet_model) -> None:
    a, b, c = (sanet_model.encode_style(s) for s in (STYLE_A, STYLE_B, test_image(32, 32, seed=18)))
    ab = sanet_model.blend_codes([a, b], [1, 3])
    abc = sanet_model.blend_codes([ab, c], [1, 1])
    assert isinstance(abc, SANetStyleCode)
    assert [round(p.weight, 6) for p in abc.parts] == [0.125, 0.375, 0.5]
    assert sanet_model.blend_codes([a, b], [0, 2]).parts == b.parts


@pytest.mark.parametrize("weights", [[1], [1, -1], [0, 0], [float("nan"), 1]])
def test_bad_blend_weights_are_refused(model, weights) -> None:
    code = model.encode_style(STYLE_A)
    with pytest.raises(ValueError):
        model.blend_codes([code, code], weights)


def test_codes_of_the_other_method_are_refused(adain_model, sanet_model) -> None:
    sanet_code = sanet_model.encode_style(STYLE_A)
    with pytest.raises(TypeError, match="AdaINStyleCode"):
        adain_model.stylize(test_image(16, 16, seed=1), half_mask(16, 16), RegionStyle(sanet_code), None)


# --------------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------------


def test_padded_size_rounds_up_and_respects_the_minimum() -> None:
    assert padded_size(360, 640, 16, 32) == (368, 640)
    assert padded_size(720, 1280, 8, 16) == (720, 1280)
    assert padded_size(5, 7, 8, 16) == (16, 16)


def test_snap_mask_only_moves_values_near_the_ends() -> None:
    mask = torch.tensor([0.0, 0.0005, 0.002, 0.5, 0.998, 0.9995, 1.0])
    assert snap_mask(mask).tolist() == pytest.approx([0.0, 0.0, 0.002, 0.5, 0.998, 1.0, 1.0])


def test_feature_mask_averages_the_pixels_each_position_covers() -> None:
    mask = torch.zeros(1, 1, 20, 28)
    mask[..., 12:] = 1.0                       # seam inside the second 8-px cell
    out = feature_mask(mask, (20, 28), (24, 32), (3, 4), like=torch.zeros(1))
    assert out.shape == (1, 1, 3, 4)
    assert out[0, 0, 0].tolist() == pytest.approx([0.0, 0.5, 1.0, 1.0])
    assert torch.equal(out[0, 0, 0], out[0, 0, 2])   # bottom padding repeats the last row
