"""The seed-algorithm baseline (``vcamstyle.models.seed.baseline``) and ``bench --seed-baseline``.

Random weights at tiny sizes: 64x96 frames, 64x64 style squares. Work is counted with forward hooks
(style and content encodes, decodes, eigendecompositions); outputs are compared with the current
stylizers on the same network instances. No wall-clock assertions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from vcamstyle import cli
from vcamstyle.bench import runner
from vcamstyle.config import load_config
from vcamstyle.errors import ConfigError
from vcamstyle.frames import to_numpy, to_tensor
from vcamstyle.models.seed import baseline as seed_baseline
from vcamstyle.models.seed.adain import AdaINStylizer
from vcamstyle.models.seed.avatarnet import AvatarNetStylizer
from vcamstyle.models.base import RegionStyle
from vcamstyle.models.registry import BuildOptions, create_stylizer
from vcamstyle.models.seed.sanet import SANetStylizer
from vcamstyle.models.seed.baseline import (
    SeedAdaIN,
    SeedAvatarNet,
    SeedSANet,
    build_seed_baseline,
    hard_mask,
    seed_style_square,
)

CPU = torch.device("cpu")
HEIGHT, WIDTH = 64, 96
STYLE_SIDE = 64
FRAMES = 3


# --------------------------------------------------------------------------------------------------
# Fixtures: networks (random weights, built once), a fake segmenter, frames and styles
# --------------------------------------------------------------------------------------------------


def he_init(*modules: nn.Module) -> None:
    """He-normal convolutions, zero biases: random features keep their scale through the ReLUs (with
    PyTorch's default init the random decoder's output is nearly constant, which would hide mistakes)."""
    with torch.no_grad():
        for module in modules:
            for layer in module.modules():
                if isinstance(layer, nn.Conv2d):
                    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                    nn.init.zeros_(layer.bias)


@pytest.fixture(scope="module")
def adain_model() -> AdaINStylizer:
    torch.manual_seed(0)
    model = create_stylizer("adain", BuildOptions(random_weights=True))
    he_init(model.encoder, model.decoder)
    return model


@pytest.fixture(scope="module")
def sanet_model() -> SANetStylizer:
    torch.manual_seed(1)
    model = create_stylizer("sanet", BuildOptions(random_weights=True))
    he_init(model.encoder, model.transform, model.decoder)
    return model


@pytest.fixture(scope="module")
def avatarnet_model() -> AvatarNetStylizer:
    torch.manual_seed(2)
    return create_stylizer("avatarnet", BuildOptions(random_weights=True))


class RampSegmenter:
    """A stand-in segmenter: person probability rising left to right over a 16x16 grid (or a constant),
    counting its calls."""

    name = "ramp"

    def __init__(self, constant: float | None = None) -> None:
        self.constant = constant
        self.calls = 0

    def segment(self, frame: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.constant is not None:
            return torch.full((1, 1, 16, 16), self.constant)
        return torch.linspace(0.0, 1.0, 16).view(1, 1, 1, 16).expand(1, 1, 16, 16).clone()


def random_frame(seed: int) -> np.ndarray:
    generator = np.random.default_rng(seed)
    return generator.integers(0, 256, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)


@pytest.fixture
def styles() -> tuple[torch.Tensor, torch.Tensor]:
    generator = np.random.default_rng(7)
    images = [generator.integers(0, 256, size=(90, 120, 3), dtype=np.uint8) for _ in range(2)]
    return tuple(to_tensor(seed_style_square(image, STYLE_SIDE)) for image in images)  # type: ignore[return-value]


class CallLog:
    """Forward hooks that record the spatial size of every input a module receives."""

    def __init__(self) -> None:
        self.sizes: dict[str, list[tuple[int, int]]] = {}
        self._handles: list[Any] = []

    def watch(self, name: str, module: nn.Module) -> None:
        self.sizes[name] = []

        def hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...], _output: Any) -> None:
            self.sizes[name].append(tuple(inputs[0].shape[-2:]))

        self._handles.append(module.register_forward_hook(hook))

    def count(self, name: str, size: tuple[int, int] | None = None) -> int:
        return sum(1 for s in self.sizes[name] if size is None or s == size)

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


@pytest.fixture
def call_log() -> Iterator[CallLog]:
    log = CallLog()
    yield log
    log.close()


# --------------------------------------------------------------------------------------------------
# Pixel preparation and the hard mask
# --------------------------------------------------------------------------------------------------


def test_style_square_is_the_centred_square_resized() -> None:
    image = np.zeros((100, 160, 3), dtype=np.uint8)
    image[:, :30] = (255, 0, 0)
    image[:, 130:] = (0, 0, 255)
    image[:, 30:130] = (0, 255, 0)
    square = seed_style_square(image, 48)
    assert square.shape == (48, 48, 3) and square.dtype == np.uint8
    assert (square == np.array([0, 255, 0], dtype=np.uint8)).all()  # the side bands are cropped away
    same = seed_style_square(image[:, 30:130].copy(), 100)
    assert np.array_equal(same, image[:, 30:130])


def test_hard_mask_has_only_zeros_and_ones_cut_at_one_half() -> None:
    probability = torch.linspace(0.0, 1.0, 11).view(1, 1, 1, 11)
    mask = hard_mask(probability, (1, 11))
    assert mask.dtype == torch.float32
    assert mask.flatten().tolist() == [0.0] * 6 + [1.0] * 5  # 0.5 itself is background, like round()
    resized = hard_mask(torch.rand(1, 1, 16, 16), (HEIGHT, WIDTH))
    assert resized.shape == (1, 1, HEIGHT, WIDTH)
    assert set(torch.unique(resized).tolist()) <= {0.0, 1.0}


def test_fp32_module_shares_float32_modules_and_copies_others() -> None:
    module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    assert seed_baseline.fp32_module(module, CPU) is module
    half = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).half()  # what the pipeline holds on CUDA
    copy = seed_baseline.fp32_module(half, CPU)
    assert copy is not half and not copy.training
    assert all(p.dtype == torch.float32 and not p.requires_grad for p in copy.parameters())
    assert all(p.dtype == torch.float16 for p in half.parameters())  # the pipeline's module is untouched
    torch.testing.assert_close(copy[0].weight, half[0].weight.float())


# --------------------------------------------------------------------------------------------------
# AdaIN
# --------------------------------------------------------------------------------------------------


def test_adain_reencodes_both_styles_and_the_content_per_style_every_frame(adain_model, styles, call_log) -> None:
    segmenter = RampSegmenter()
    baseline = build_seed_baseline("adain", adain_model, segmenter, CPU, styles, (0.7, 1.0))
    assert isinstance(baseline, SeedAdaIN)
    assert baseline.encoder is adain_model.encoder and baseline.decoder is adain_model.decoder  # shared on CPU
    call_log.watch("encoder", baseline.encoder.layers[0])
    call_log.watch("decoder", baseline.decoder)
    for i in range(FRAMES):
        baseline.process(random_frame(i))
    assert call_log.count("encoder", (STYLE_SIDE, STYLE_SIDE)) == 2 * FRAMES
    assert call_log.count("encoder", (HEIGHT, WIDTH)) == 2 * FRAMES
    assert call_log.count("encoder") == 4 * FRAMES
    assert call_log.count("decoder") == 2 * FRAMES
    assert segmenter.calls == FRAMES


def test_adain_composite_is_a_hard_cut_of_two_full_frame_stylizations(adain_model, styles) -> None:
    baseline = build_seed_baseline("adain", adain_model, RampSegmenter(), CPU, styles, (0.7, 1.0))
    frame = random_frame(3)
    result = baseline.process(frame)
    assert result.image.shape == frame.shape and result.image.dtype == np.uint8
    assert result.mask.shape == (HEIGHT, WIDTH)
    assert set(np.unique(result.mask).tolist()) == {0.0, 1.0}
    with torch.inference_mode():
        person, background = baseline.region_outputs(to_tensor(frame))
    weight = torch.from_numpy(result.mask).view(1, 1, HEIGHT, WIDTH)
    expected = to_numpy(torch.where(weight > 0, person, background).clamp(0, 1))
    assert np.array_equal(result.image, expected)
    assert not torch.allclose(person, background, atol=1e-3)  # two different styles really ran
    assert set(result.stage_ms) == {"convert", "segment", "style", "composite"}


def test_networks_can_run_at_a_smaller_size_and_the_result_is_resized_back(adain_model, styles, call_log) -> None:
    baseline = build_seed_baseline("adain", adain_model, RampSegmenter(), CPU, styles, (1.0, 1.0),
                                   network_size=(32, 48))
    call_log.watch("encoder", baseline.encoder.layers[0])
    result = baseline.process(random_frame(9))
    assert result.image.shape == (HEIGHT, WIDTH, 3) and result.mask.shape == (HEIGHT, WIDTH)
    assert call_log.count("encoder", (32, 48)) == 2 and call_log.count("encoder", (STYLE_SIDE, STYLE_SIDE)) == 2


@pytest.mark.parametrize("strength", [1.0, 0.4])
def test_adain_per_style_output_equals_the_current_stylizer(adain_model, styles, strength) -> None:
    baseline = build_seed_baseline("adain", adain_model, RampSegmenter(), CPU, styles, (strength, 1.0))
    current = AdaINStylizer(adain_model.encoder, adain_model.decoder, adain_model.policy, style_short_side=None)
    content = to_tensor(random_frame(4))
    with torch.inference_mode():
        seed_out = baseline.stylize_one(content, styles[0], strength).clamp(0, 1)
        person = RegionStyle(current.encode_style(styles[0]), strength)
        ours = current.stylize(content, torch.ones(1, 1, HEIGHT, WIDTH), person, None)
    torch.testing.assert_close(seed_out, ours, atol=1e-4, rtol=1e-4)


# --------------------------------------------------------------------------------------------------
# SANet
# --------------------------------------------------------------------------------------------------


def test_sanet_reencodes_styles_and_content_per_style_and_decodes_twice(sanet_model, styles, call_log) -> None:
    baseline = build_seed_baseline("sanet", sanet_model, RampSegmenter(), CPU, styles, (0.7, 1.0))
    assert isinstance(baseline, SeedSANet)
    call_log.watch("encoder", baseline.encoder.layers[0])
    call_log.watch("transform", baseline.transform)
    call_log.watch("decoder", baseline.decoder)
    for i in range(FRAMES):
        result = baseline.process(random_frame(i))
        assert set(np.unique(result.mask).tolist()) == {0.0, 1.0}
    assert call_log.count("encoder", (STYLE_SIDE, STYLE_SIDE)) == 2 * FRAMES
    assert call_log.count("encoder", (HEIGHT, WIDTH)) == 2 * FRAMES
    assert call_log.count("transform") == 2 * FRAMES
    assert call_log.count("decoder") == 2 * FRAMES


def test_sanet_per_style_output_equals_the_current_stylizer_at_full_strength(sanet_model, styles) -> None:
    baseline = build_seed_baseline("sanet", sanet_model, RampSegmenter(), CPU, styles, (1.0, 1.0))
    current = SANetStylizer(sanet_model.encoder, sanet_model.transform, sanet_model.decoder, sanet_model.policy,
                            style_short_side=None)
    content = to_tensor(random_frame(5))
    with torch.inference_mode():
        seed_out = baseline.stylize_one(content, styles[1], 1.0).clamp(0, 1)
        background = RegionStyle(current.encode_style(styles[1]), 1.0)
        ours = current.stylize(content, torch.zeros(1, 1, HEIGHT, WIDTH), None, background)
    torch.testing.assert_close(seed_out, ours, atol=1e-4, rtol=1e-4)


# --------------------------------------------------------------------------------------------------
# Avatar-Net
# --------------------------------------------------------------------------------------------------


def test_avatarnet_one_forward_per_frame_with_the_style_side_recomputed(avatarnet_model, styles, call_log,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    baseline = build_seed_baseline("avatarnet", avatarnet_model, RampSegmenter(), CPU, styles, (0.7, 1.0))
    assert isinstance(baseline, SeedAvatarNet)
    eigh_calls = []
    real_eigh = torch.linalg.eigh

    def counting_eigh(*args: Any, **kwargs: Any) -> Any:
        eigh_calls.append(1)
        return real_eigh(*args, **kwargs)

    monkeypatch.setattr(torch.linalg, "eigh", counting_eigh)
    call_log.watch("encoder", baseline.net.encoder)
    call_log.watch("decoder", baseline.net.decoder.decoder[0])
    for i in range(FRAMES):
        result = baseline.process(random_frame(i))
        assert set(np.unique(result.mask).tolist()) == {0.0, 1.0}
    assert call_log.count("encoder", (STYLE_SIDE, STYLE_SIDE)) == 2 * FRAMES
    assert call_log.count("encoder", (HEIGHT, WIDTH)) == FRAMES  # content once: one forward per frame
    assert call_log.count("decoder") == FRAMES
    # Per style: whiten the content, whiten the style, colour with the style: 6 per frame, as the seed.
    assert len(eigh_calls) == 6 * FRAMES


def test_avatarnet_seed_weights_halve_the_mixed_features(avatarnet_model, styles, call_log) -> None:
    frame = random_frame(6)
    inputs: dict[str, torch.Tensor] = {}

    def capture(name: str) -> Callable[..., None]:
        def hook(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            inputs[name] = args[0].clone()
        return hook

    block = avatarnet_model.net.decoder.decoder[0]
    for name, weights in (("seed", (0.5, 0.5)), ("full", (1.0, 1.0))):
        baseline = SeedAvatarNet(avatarnet_model, RampSegmenter(), CPU, styles, (1.0, 1.0),
                                 interpolation_weights=weights)
        handle = block.register_forward_pre_hook(capture(name))
        try:
            baseline.process(frame)
        finally:
            handle.remove()
    torch.testing.assert_close(inputs["seed"], 0.5 * inputs["full"])
    assert inputs["full"].abs().max() > 0


def test_avatarnet_full_weights_on_one_region_equal_the_current_stylizer(avatarnet_model, styles) -> None:
    baseline = SeedAvatarNet(avatarnet_model, RampSegmenter(constant=1.0), CPU, styles, (1.0, 1.0),
                             interpolation_weights=(1.0, 1.0))
    current = AvatarNetStylizer(avatarnet_model.net, CPU, style_short_side=STYLE_SIDE)
    frame = random_frame(8)
    content = to_tensor(frame)
    with torch.inference_mode():
        mask = torch.ones(1, 1, HEIGHT, WIDTH)
        (seed_out,) = baseline.stylize(content, mask)
        person = RegionStyle(current.encode_style(styles[0]), 1.0)
        ours = current.stylize(content, mask, person, None)
    torch.testing.assert_close(seed_out.clamp(0, 1), ours, atol=2e-3, rtol=1e-3)


# --------------------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------------------


def test_magenta_and_mismatched_stylizers_are_refused(adain_model, styles) -> None:
    with pytest.raises(ConfigError, match="magenta has no seed counterpart"):
        seed_baseline.check_seed_method("magenta")
    with pytest.raises(TypeError):
        build_seed_baseline("sanet", adain_model, RampSegmenter(), CPU, styles, (1.0, 1.0))


# --------------------------------------------------------------------------------------------------
# The comparison and the command line
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def tiny_config(tmp_path: Path, make_video, adain_model, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config over a 96x64 video with the random-weight UNet; the Engine hands out ``adain_model``;
    style squares of ``STYLE_SIDE``."""
    import vcamstyle.pipeline.scene as scene

    video = make_video(tmp_path / "camera.avi", frames=4, size=(WIDTH, HEIGHT))
    path = tmp_path / "config.yaml"
    path.write_text(f"camera:\n  device: {video}\noutput:\n  width: {WIDTH}\n  height: {HEIGHT}\n"
                    "segmentation:\n  model: unet_resnet18\nstyle:\n  method: adain\ndevice: cpu\n")
    real = scene.create_stylizer

    def stylizer(name: str, options: BuildOptions) -> Any:
        if name == "adain" and options.random_weights and str(options.device) == "cpu":
            return adain_model
        return real(name, options)

    monkeypatch.setattr(scene, "create_stylizer", stylizer)
    monkeypatch.setattr(seed_baseline, "SEED_STYLE_SIDE", STYLE_SIDE)
    return path


def test_comparison_report_has_both_sides_and_the_speedup(tiny_config: Path) -> None:
    report = runner.run_seed_comparison(load_config(tiny_config), frames=2, warmup=1, random_weights=True)
    for key in ("fps", "frame_ms", "stage_ms", "seed", "current", "seed_fps", "speedup", "memory"):
        assert key in report
    for side in (report["current"], report["seed"]):
        assert side["fps"] > 0
        assert 0 < side["frame_ms"]["median"] <= side["frame_ms"]["p95"]
        assert all(values["median"] >= 0 for values in side["stage_ms"].values())
    assert report["seed"]["network_size"] == [HEIGHT, WIDTH]
    assert report["seed_fps"] == report["seed"]["fps"]
    assert report["speedup"] == pytest.approx(report["fps"] / report["seed_fps"], rel=0.02)
    assert report["memory"]["host_peak_mib"] > 0 and report["memory"]["gpu_peak_mib"] is None
    assert (report["method"], report["width"], report["height"]) == ("adain", WIDTH, HEIGHT)
    text = runner.format_report(report)
    assert "speed-up" in text and "seed" in text


def test_comparison_with_one_style_everywhere_still_segments_for_the_seed(tiny_config: Path) -> None:
    """The same style at the same strength in both regions and no face sparing: the current pipeline needs
    no mask (its scene has no segmenter), the seed baseline segments every frame as the seed did."""
    from vcamstyle.pipeline import Engine

    same = "  effect: style\n  style: styles/waves.png\n  strength: 1.0\n"
    tiny_config.write_text(tiny_config.read_text() + f"person:\n{same}  face_strength: 1.0\nbackground:\n{same}")
    config = load_config(tiny_config)
    assert Engine(random_weights=True).build(config, (HEIGHT, WIDTH), None).segmenter is None
    report = runner.run_seed_comparison(config, frames=2, warmup=1, random_weights=True)
    assert report["seed"]["fps"] > 0 and report["seed"]["stage_ms"]["segment"]["median"] > 0
    assert report["stage_ms"]["segment"]["median"] == 0  # the current pipeline ran no segmentation


def test_cli_seed_baseline_prints_json_with_seed_fps_and_speedup(tiny_config: Path, isolated_xdg,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "setup_logging", lambda level="INFO": None)
    result = CliRunner().invoke(cli.app, ["bench", "--config", str(tiny_config), "--seed-baseline", "--json",
                                          "--random-weights", "--method", "adain", "--frames", "2", "--warmup", "1"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["seed_fps"] > 0 and last["speedup"] > 0
    assert last["method"] == "adain"
    assert "speed-up" in result.stdout


def test_cli_seed_baseline_refuses_magenta(tiny_config: Path, isolated_xdg, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "setup_logging", lambda level="INFO": None)
    result = CliRunner().invoke(cli.app, ["bench", "--config", str(tiny_config), "--seed-baseline",
                                          "--random-weights", "--method", "magenta", "--frames", "1"])
    assert result.exit_code == 2
    assert "magenta has no seed counterpart" in result.output


def test_cli_seed_size_style_runs_the_seed_at_the_pipeline_size(tiny_config: Path, isolated_xdg,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "setup_logging", lambda level="INFO": None)
    args = ["bench", "--config", str(tiny_config), "--seed-baseline", "--json", "--random-weights",
            "--method", "adain", "--frames", "1", "--warmup", "0"]
    doubled = ["--width", str(2 * WIDTH), "--height", str(2 * HEIGHT), "--size", str(HEIGHT)]
    result = CliRunner().invoke(cli.app, [*args, *doubled, "--seed-size", "style"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["seed_size"] == "style"
    assert report["seed"]["network_size"] == report["current"]["network_size"] == [HEIGHT, WIDTH]
    at_output = CliRunner().invoke(cli.app, [*args, *doubled], catch_exceptions=False)
    assert json.loads(at_output.stdout.strip().splitlines()[-1])["seed"]["network_size"] == [2 * HEIGHT, 2 * WIDTH]
    refused = CliRunner().invoke(cli.app, [*args, "--seed-size", "huge"])
    assert refused.exit_code == 2 and "huge" in refused.output
