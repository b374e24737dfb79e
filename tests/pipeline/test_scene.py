"""vcamstyle.pipeline.scene with the REAL embedded models (selfie + Magenta on the CPU, offline).

The models are loaded once per session (``offline_models`` in tests/conftest.py) and handed to every
``Engine`` by ``reuse_offline_models``; what is counted here (style encodes) is the engine's own work.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from vcamstyle import paths
from vcamstyle.config import Config, load_config, override
from vcamstyle.errors import ConfigError, StyleImageError
from vcamstyle.pipeline.core import Pipeline
from vcamstyle.pipeline.referenced import region_references
from vcamstyle.pipeline.scene import Engine, changed_references, parse_color, style_items
from vcamstyle.pipeline.style_size import AUTO_BOUNDS

STYLES = paths.bundled_styles_dir()
SIZE = (180, 180)  # (H, W) of the frames fed to the scene (the astronaut photo, shrunk)


@pytest.fixture
def engine(reuse_offline_models: Any) -> Engine:
    return Engine()


@pytest.fixture
def encode_spy(offline_models: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    """Records the shape of every image the real stylizer encodes (the one ``precision: auto`` gets here)."""
    stylizer = offline_models.stylizer_for(runtime_bfloat16())
    real = stylizer.encode_style
    calls: list[tuple[int, ...]] = []

    def spy(image: torch.Tensor) -> Any:
        calls.append(tuple(image.shape))
        return real(image)

    monkeypatch.setattr(stylizer, "encode_style", spy)
    return calls


@pytest.fixture
def frame(astronaut_rgb: np.ndarray) -> np.ndarray:
    """The astronaut photo at ``SIZE``, ``HxWx3 uint8 RGB`` (what ``Pipeline.process`` takes)."""
    import cv2

    return cv2.resize(astronaut_rgb, SIZE[::-1], interpolation=cv2.INTER_AREA)


def _with(config: Config, **changes: Any) -> Config:
    """``_with(cfg, person__strength=0.2)`` -> ``override(cfg, {"person.strength": 0.2})``."""
    return override(config, {key.replace("__", "."): value for key, value in changes.items()})


# ------------------------------------------------------------------------------------------ build

def test_build_default_config(engine: Engine, default_config: Config, frame: np.ndarray) -> None:
    scene = engine.build(default_config, SIZE, None)
    assert scene.device == torch.device("cpu")
    assert scene.segmenter.name == "selfie"
    assert scene.stylizer is not None and scene.stylizer.name == "magenta"
    s = scene.settings
    assert s.output_size == SIZE
    assert default_config.style.size == "auto" and s.style_size == AUTO_BOUNDS.start
    assert s.preserve_color is default_config.style.preserve_color
    assert (s.mask.smoothing, s.mask.threshold, s.mask.feather) == (
        default_config.segmentation.smoothing, default_config.segmentation.threshold, default_config.segmentation.feather)
    assert s.person.effect == "style" and s.background.effect == "style"
    assert s.person.style is not None and s.person.style.strength == pytest.approx(0.7)
    assert s.background.style is not None and s.background.style.strength == pytest.approx(1.0)
    assert engine.encode_count == 2  # two different bundled styles

    result = Pipeline(scene.segmenter, scene.stylizer, s, scene.device).process(frame)
    assert result.image.shape == frame.shape
    # The person (centre of the astronaut photo) is found and the image is really restyled.
    assert float(result.mask.mean()) > 0.2
    assert float(np.abs(result.image.astype(np.float32) - frame.astype(np.float32)).mean() / 255) > 0.05


def test_style_is_encoded_once_across_frames_and_rebuilds(engine: Engine, default_config: Config, tmp_path: Path,
                                                          frame: np.ndarray, encode_spy: list) -> None:
    scene = engine.build(default_config, SIZE, None)
    assert engine.encode_count == 2 and len(encode_spy) == 2
    pipeline = Pipeline(scene.segmenter, scene.stylizer, scene.settings, scene.device)
    for _ in range(4):
        pipeline.process(frame)
    assert engine.encode_count == 2 and len(encode_spy) == 2  # never per frame

    # A reload with an unchanged file (a new, equal Config object) reuses the codes.
    reloaded = _with(load_config(tmp_path / "config.yaml"), device="cpu", segmentation__feather=3)
    assert reloaded is not default_config
    scene2 = engine.build(reloaded, SIZE, None)
    assert engine.encode_count == 2 and len(encode_spy) == 2
    assert scene2.settings.person.style.code is scene.settings.person.style.code


def test_strength_change_does_not_re_encode(engine: Engine, default_config: Config) -> None:
    engine.build(default_config, SIZE, None)
    scene = engine.build(_with(default_config, person__strength=0.2, background__strength=0.5), SIZE, None)
    assert engine.encode_count == 2
    assert scene.settings.person.style.strength == pytest.approx(0.2)
    assert scene.settings.background.style.strength == pytest.approx(0.5)


def test_a_different_style_image_is_encoded(engine: Engine, default_config: Config, tmp_path: Path) -> None:
    engine.build(default_config, SIZE, None)
    scene = engine.build(_with(default_config, person__style=str(STYLES / "neon.png")), SIZE, None)
    assert engine.encode_count == 3
    # The same bytes under another name are recognised (the cache key is the content hash) ...
    copy = tmp_path / "my_neon.png"
    shutil.copyfile(STYLES / "neon.png", copy)
    scene2 = engine.build(_with(default_config, person__style=str(copy)), SIZE, None)
    assert engine.encode_count == 3
    assert scene2.settings.person.style.code is scene.settings.person.style.code


def test_edited_style_file_is_encoded_again(engine: Engine, default_config: Config, tmp_path: Path) -> None:
    mine = tmp_path / "mine.png"
    shutil.copyfile(STYLES / "waves.png", mine)
    config = _with(default_config, person__style=str(mine))
    first = engine.build(config, SIZE, None).settings.person.style.code
    count = engine.encode_count
    shutil.copyfile(STYLES / "mosaic.png", mine)  # the user saves another picture over it
    second = engine.build(config, SIZE, None).settings.person.style.code
    assert engine.encode_count == count + 1
    assert not torch.allclose(first, second)


def test_weighted_style_list_is_blended(engine: Engine, default_config: Config) -> None:
    blend = [{"image": str(STYLES / "neon.png"), "weight": 0.7}, {"image": str(STYLES / "waves.png"), "weight": 0.3}]
    scene = engine.build(_with(default_config, person__style=blend), SIZE, None)
    neon = engine.build(_with(default_config, person__style=str(STYLES / "neon.png")), SIZE, None)
    waves = engine.build(_with(default_config, person__style=str(STYLES / "waves.png")), SIZE, None)
    code = scene.settings.person.style.code
    expected = scene.stylizer.blend_codes([neon.settings.person.style.code, waves.settings.person.style.code], [0.7, 0.3])
    assert torch.allclose(code, expected, atol=1e-6)
    assert not torch.allclose(code, neon.settings.person.style.code)
    assert engine.encode_count == 3  # the background's default + neon + waves, each once


def test_no_stylizer_without_a_style_effect(engine: Engine, default_config: Config) -> None:
    config = _with(default_config, person__effect="original", background__effect="color", background__color="#ff8000")
    scene = engine.build(config, SIZE, None)
    assert scene.stylizer is None
    assert engine.encode_count == 0
    assert scene.settings.background.color == (255, 128, 0)  # RGB uint8


def test_image_effect_is_prepared_at_output_size(engine: Engine, default_config: Config) -> None:
    config = _with(default_config, person__effect="original", background__effect="image",
                   background__image=str(STYLES / "crystals.png"))
    scene = engine.build(config, (90, 160), None)
    image = scene.settings.background.image
    assert image is not None and tuple(image.shape) == (90, 160, 3)  # HxWx3 uint8 RGB at the output size
    assert image.dtype == np.uint8


# ------------------------------------------------------------------------------------------ bad images

def _bad_images(tmp_path: Path, png_claiming_size: Any) -> dict[str, tuple[Path, str]]:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"\xff\xd8 this is not really a jpeg " * 20)
    return {
        "missing": (tmp_path / "missing.png", "does not exist"),
        "zero-byte": (empty, "empty file"),
        "garbage": (garbage, "cannot be read"),
        "huge": (png_claiming_size(tmp_path / "huge.png", 30000, 30000), "too large"),
    }


@pytest.mark.parametrize("case", ["missing", "zero-byte", "garbage", "huge"])
def test_bad_style_image_raises_a_clear_error(engine: Engine, default_config: Config, tmp_path: Path,
                                              png_claiming_size: Any, case: str) -> None:
    good = engine.build(default_config, SIZE, None)
    path, words = _bad_images(tmp_path, png_claiming_size)[case]
    with pytest.raises(StyleImageError) as info:
        engine.build(_with(default_config, background__style=str(path)), SIZE, None)
    assert words in info.value.message
    assert str(path) in info.value.message and "style image" in info.value.message
    assert info.value.hint
    # The engine is still usable and its cache intact: the good config builds without re-encoding.
    count = engine.encode_count
    again = engine.build(default_config, SIZE, None)
    assert engine.encode_count == count
    assert again.settings.background.style.code is good.settings.background.style.code


def test_bad_background_image_raises(engine: Engine, default_config: Config, tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    config = _with(default_config, background__effect="image", background__image=str(tmp_path / "empty.jpg"))
    with pytest.raises(StyleImageError, match="background image .*empty file"):
        engine.build(config, SIZE, None)


# ------------------------------------------------------------------------------------------ helpers

@pytest.mark.parametrize("text, expected", [
    ("#ff0000", (1.0, 0.0, 0.0)),
    ("#00FF80", (0.0, 1.0, 128 / 255)),
    ("#202020", (32 / 255,) * 3),
    ("#f00", (1.0, 0.0, 0.0)),
    ("#abc", (0xAA / 255, 0xBB / 255, 0xCC / 255)),
])
def test_parse_color(text: str, expected: tuple[float, float, float]) -> None:
    assert parse_color(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["#12345", "#1234567", "#", ""])
def test_parse_color_rejects_wrong_length(text: str) -> None:
    with pytest.raises(ConfigError, match="#rrggbb"):
        parse_color(text)


def test_style_items_forms(default_config: Config) -> None:
    assert style_items(default_config.person) == [(STYLES / "brush_strokes.png", 1.0)]
    blended = _with(default_config, person__style=[{"image": "/x/a.png", "weight": 2}, {"image": "/x/b.png"}])
    items = style_items(blended.person)  # weights arrive normalised by the config
    assert [path for path, _ in items] == [Path("/x/a.png"), Path("/x/b.png")]
    assert [weight for _, weight in items] == pytest.approx([2 / 3, 1 / 3])
    assert style_items(SimpleNamespace(style=None)) == []
    assert style_items(SimpleNamespace(style="a.png")) == [(Path("a.png"), 1.0)]


# ------------------------------------------------------------------------------------------ devices

def test_build_on_an_unavailable_gpu_raises_device_error(engine: Engine, default_config: Config) -> None:
    from vcamstyle.errors import DeviceError

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    with pytest.raises(DeviceError, match="no CUDA GPU") as info:
        engine.build(_with(default_config, device="cuda"), SIZE, None)
    assert "device: cpu" in (info.value.hint or "")
    assert engine.encode_count == 0


def test_resolve_device_and_precision_policy() -> None:
    from vcamstyle import compute
    from vcamstyle.errors import DeviceError

    assert compute.resolve_device("cpu") == torch.device("cpu")
    assert compute.resolve_device(" CPU ") == torch.device("cpu")
    expected_auto = torch.device("cuda:0") if torch.cuda.is_available() else torch.device("cpu")
    assert compute.resolve_device("auto") == expected_auto
    with pytest.raises(DeviceError, match="unknown device"):
        compute.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError):
            compute.resolve_device("cuda:1")
    assert compute.use_half(torch.device("cpu")) is False
    assert compute.use_half(torch.device("cuda", 0)) is True
    assert "torch" in compute.describe()


def test_reduced_precision_follows_the_config_and_the_cpu_flags(tmp_path: Path) -> None:
    from vcamstyle import compute

    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    zen4 = frozenset({"fpu", "avx2", "avx512f", "avx512_bf16"})
    sapphire = frozenset({"avx512f", "amx_bf16", "amx_tile"})
    older = frozenset({"fpu", "avx2", "avx512f"})
    assert compute.use_cpu_bfloat16(cpu, "auto", zen4) and compute.use_cpu_bfloat16(cpu, "auto", sapphire)
    assert not compute.use_cpu_bfloat16(cpu, "auto", older)
    assert not compute.use_cpu_bfloat16(cpu, "float32", zen4)
    assert not compute.use_cpu_bfloat16(cuda, "auto", zen4)
    assert compute.use_half(cuda, "auto") and not compute.use_half(cuda, "float32")
    assert compute.precision_name(cuda, "auto") == "float16"
    assert compute.precision_name(cpu, "float32") == "float32"

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx512f avx512_bf16\n\n"
                       "processor\t: 1\nflags\t\t: fpu sse\n")
    assert compute.cpu_flags(cpuinfo) == frozenset({"fpu", "sse", "avx512f", "avx512_bf16"})
    assert compute.cpu_has_native_bfloat16(compute.cpu_flags(cpuinfo))
    assert compute.cpu_flags(tmp_path / "missing") == frozenset()
    cpuinfo.write_text("processor\t: 0\n")
    assert compute.cpu_flags(cpuinfo) == frozenset()


AVX2_ONLY_FLAGS = frozenset({"fpu", "sse2", "avx", "avx2", "fma"})
ZEN4_FLAGS = AVX2_ONLY_FLAGS | {"avx512f", "avx512_bf16"}


@pytest.mark.parametrize("flags, auto_dtype", [(ZEN4_FLAGS, torch.bfloat16), (AVX2_ONLY_FLAGS, torch.float32)],
                         ids=["cpu-with-bfloat16", "avx2-only-cpu"])
def test_precision_float32_builds_full_precision_models(engine: Engine, default_config: Config, monkeypatch,
                                                        flags: frozenset[str], auto_dtype: torch.dtype) -> None:
    """``precision: float32`` is float32 on every CPU; ``auto`` is bfloat16 only where the (injected)
    CPU flags say it runs natively."""
    from vcamstyle import compute

    monkeypatch.setattr(compute, "host_cpu_flags", lambda: flags)
    scene = engine.build(_with(default_config, precision="float32"), SIZE, None)
    assert scene.stylizer.dtype is torch.float32
    auto = engine.build(default_config, SIZE, None)
    assert auto.stylizer.dtype is auto_dtype
    # bfloat16 is another model; without it, auto and float32 are the same float32 network
    assert (auto.stylizer is not scene.stylizer) == (auto_dtype is not torch.float32)


@pytest.mark.parametrize(("flags", "dtype", "runtime"), [
    (frozenset({"avx2", "fma"}), torch.float32, "onnxruntime"),  # AVX2-only laptop
    (frozenset({"avx2", "avx512f", "avx512_bf16"}), torch.bfloat16, "torch"),  # Zen 4 / Cooper Lake
    (frozenset({"avx2", "avx512f", "amx_bf16"}), torch.bfloat16, "torch"),  # Sapphire Rapids
])
def test_each_cpu_kind_gets_its_style_path_from_injected_flags(default_config: Config, flags, dtype, runtime) -> None:
    """Whatever the host CPU: the flags decide bfloat16 in torch or float32 in onnxruntime."""
    scene = Engine(cpu_flags=flags).build(default_config, SIZE, None)
    assert scene.stylizer.dtype is dtype and scene.stylizer.runtime == runtime
    frame = np.full((*SIZE, 3), 128, np.uint8)
    frame[SIZE[0] // 4:, SIZE[1] // 3: 2 * SIZE[1] // 3] = 200
    result = Pipeline(scene.segmenter, scene.stylizer, scene.settings, scene.device).process(frame)
    assert result.image.shape == frame.shape and result.image.std() > 1.0


def runtime_bfloat16() -> bool:
    from vcamstyle import compute

    return compute.use_cpu_bfloat16(torch.device("cpu"))


_FAULT_PROBE = """
import resource, sys
import numpy as np
from vcamstyle import compute
if sys.argv[1] == "keep" and not compute.keep_freed_memory():
    print("unsupported"); sys.exit(0)

def faults(rounds):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(rounds):  # a frame's temporaries: several 720p float32 images alive at once
        big = [np.ones((720, 1280, 3), np.float32) for _ in range(4)]
        small = [np.ones((360, 640, 3), np.float32) for _ in range(3)]
        del big, small
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

faults(2)
print(faults(10))
"""


def test_keep_freed_memory_stops_refaulting_frame_sized_temporaries() -> None:
    import subprocess
    import sys

    def probe(mode: str) -> str:
        return subprocess.run([sys.executable, "-c", _FAULT_PROBE, mode], capture_output=True, text=True,
                              check=True).stdout.strip()

    kept = probe("keep")
    if kept == "unsupported":
        pytest.skip("not glibc")
    default = int(probe("default"))
    # glibc's defaults return the blocks to the kernel and fault them in again every round
    # (tens of thousands of faults); kept, the rounds reuse the same memory
    assert default > 10_000
    assert int(kept) < default / 20


def test_keep_freed_memory_reports_a_missing_c_library() -> None:
    from vcamstyle import compute

    assert compute.keep_freed_memory("libdoes-not-exist.so.9") is False


# ------------------------------------------------------------------------------------------ referenced files

def test_a_style_replaced_in_place_is_seen_and_re_encoded(engine: Engine, default_config: Config,
                                                          tmp_path: Path) -> None:
    """``cp new.png bg.png``: the scene reports the file as changed (stage ``styles``), and the rebuild
    encodes just that file again; the untouched style comes from the cache."""
    own = tmp_path / "bg.png"
    shutil.copy(STYLES / "crystals.png", own)
    config = _with(default_config, background__style=str(own))
    scene = engine.build(config, SIZE, None)
    assert changed_references(scene) == {}
    assert [r.key for r in scene.references] == ["person.style", "background.style"]
    count = engine.encode_count
    shutil.copy(STYLES / "mosaic.png", own)
    assert changed_references(scene) == {"background.style": "styles"}
    rebuilt = engine.build(config, SIZE, None)
    assert engine.encode_count == count + 1
    assert rebuilt.settings.person.style.code is scene.settings.person.style.code
    assert rebuilt.settings.background.style.code is not scene.settings.background.style.code
    assert changed_references(rebuilt) == {}


def test_a_background_replaced_in_place_is_seen_and_reloaded(engine: Engine, default_config: Config,
                                                             tmp_path: Path, grace_hopper_rgb: np.ndarray,
                                                             astronaut_rgb: np.ndarray) -> None:
    from PIL import Image

    own = tmp_path / "bg.jpg"
    Image.fromarray(astronaut_rgb).save(own)
    config = _with(default_config, person__effect="original", background__effect="image", background__image=str(own))
    scene = engine.build(config, (90, 160), None)
    count = engine.encode_count
    Image.fromarray(grace_hopper_rgb).save(own)
    assert changed_references(scene) == {"background.image": "effects"}
    rebuilt = engine.build(config, (90, 160), None)
    assert engine.encode_count == count  # no style work for a background picture
    assert np.abs(rebuilt.settings.background.image.astype(int) - scene.settings.background.image).mean() > 10
    own.unlink()
    assert changed_references(rebuilt) == {"background.image": "effects"}  # a deleted file is a change too


def test_unused_pictures_are_not_references(default_config: Config) -> None:
    config = _with(default_config, person__effect="original", background__effect="blur")
    assert region_references(config) == []


# ------------------------------------------------------------------------------------------ stages that run

def _count_calls(obj: Any, name: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = getattr(obj, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(obj, name, spy)
    return calls


@pytest.mark.parametrize("person, background, segments, stylizes", [
    ({"effect": "original"}, {"effect": "original"}, 0, 0),  # "effects off" during a call
    ({"effect": "color", "color": "#102030"}, {"effect": "color", "color": "#102030"}, 0, 0),
    ({"effect": "original"}, {"effect": "blur"}, 1, 0),
    ({"effect": "original"}, {"effect": "color"}, 1, 0),
    ({"effect": "style"}, {"effect": "original"}, 1, 1),
])
def test_stages_run_only_when_their_output_is_used(engine: Engine, default_config: Config, frame: np.ndarray,
                                                   monkeypatch: pytest.MonkeyPatch, person: dict, background: dict,
                                                   segments: int, stylizes: int) -> None:
    changes = {f"person.{k}": v for k, v in person.items()} | {f"background.{k}": v for k, v in background.items()}
    # every frame painted from itself (async, the CPU's default, skips frames: test_style_worker)
    scene = engine.build(override(default_config, {**changes, "style.schedule": "every_frame"}), SIZE, None)
    pipeline = Pipeline(scene.segmenter, scene.stylizer, scene.settings, scene.device)
    assert (scene.segmenter is None) == (segments == 0)  # no segmenter is even built when nothing needs the mask
    segment_calls = _count_calls(scene.segmenter, "segment", monkeypatch) if scene.segmenter is not None else []
    stylize_calls = _count_calls(scene.stylizer, "stylize", monkeypatch) if scene.stylizer is not None else []
    for _ in range(3):
        result = pipeline.process(frame)
    assert len(segment_calls) == 3 * segments
    assert len(stylize_calls) == 3 * stylizes
    if segments == 0 and person["effect"] == "original":
        assert np.array_equal(result.image, frame) and result.mask.max() == 0


def test_schedule_auto_is_async_on_the_cpu_and_every_frame_on_a_gpu(engine: Engine, default_config: Config) -> None:
    from vcamstyle.pipeline import style_schedule

    assert engine.build(default_config, SIZE, None).settings.schedule == "async"
    assert style_schedule("auto", torch.device("cpu")) == "async"
    assert style_schedule("auto", torch.device("cuda")) == "every_frame"
    assert style_schedule("every_frame", torch.device("cpu")) == "every_frame"
