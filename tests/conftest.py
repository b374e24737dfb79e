"""Fixtures shared by every test folder (unit, integration, models).

- ``astronaut_rgb`` / ``grace_hopper_rgb``: real person photos as ``HxWx3 uint8 RGB`` numpy arrays
  (scikit-image's astronaut, 512x512; matplotlib's grace_hopper.jpg, 600x512). Read-only copies.
- ``make_video(path, frames=10, size=(160, 120), fps=15)``: writes a small video of the astronaut
  photo with a slight left-right drift (a camera stand-in) and returns its path. ``size`` is
  ``(width, height)`` as OpenCV writes it. ``.mp4`` uses the ``mp4v`` codec, ``.avi`` MJPG.
- ``isolated_xdg``: HOME and the XDG base directories inside ``tmp_path``, ``VCAMSTYLE_NO_SYSTEMD=1``
  and no systemd/journald hand-over variables, so control/config code never touches the real user's
  files or units. Returns an ``XdgDirs`` with each path.
- ``png_claiming_size(path, width, height)``: writes a tiny valid PNG whose header claims a huge size
  (e.g. 30000x30000) without allocating it; a bad-style-image stand-in.
- ``injected_cpu_flags`` (autouse): ``vcamstyle.compute.host_cpu_flags`` returns ``AVX2_ONLY_FLAGS``
  (an x86-64 CPU without bfloat16), so no test reads the host's CPU features; a test that wants
  another CPU sets ``compute.host_cpu_flags`` itself (or passes ``flags=``).
- ``offline_models`` (session) and ``reuse_offline_models``: the real embedded selfie segmenter and
  Magenta stylizer loaded once on the CPU, and a patch that makes ``vcamstyle`` hand out these same
  instances instead of loading them again (keeps CLI/scene tests fast).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np
import pytest

# --------------------------------------------------------------------------------------------------
# CPU features: injected, never read from the host
# --------------------------------------------------------------------------------------------------

#: An x86-64 CPU with AVX2 and no native bfloat16 (what most developer laptops and CI runners are).
AVX2_ONLY_FLAGS = frozenset({"fpu", "sse2", "avx", "avx2", "fma"})
#: A CPU with native bfloat16 (AMD Zen 4).
ZEN4_FLAGS = AVX2_ONLY_FLAGS | {"avx512f", "avx512_bf16"}


@pytest.fixture(autouse=True)
def restored_thread_policy() -> Iterator[None]:
    """The thread policy (``compute.set_threads``) and torch's count as they were before each test."""
    import torch

    from vcamstyle import compute

    saved = (compute._network_threads, compute._torch_networks, torch.get_num_threads())
    yield
    compute._network_threads, compute._torch_networks = saved[0], saved[1]
    if torch.get_num_threads() != saved[2]:
        torch.set_num_threads(saved[2])


@pytest.fixture(autouse=True)
def injected_cpu_flags(monkeypatch: pytest.MonkeyPatch) -> frozenset[str]:
    """Every test runs on the same pretend CPU, whatever machine runs the suite."""
    from vcamstyle import compute

    monkeypatch.setattr(compute, "host_cpu_flags", lambda: AVX2_ONLY_FLAGS)
    return AVX2_ONLY_FLAGS


# --------------------------------------------------------------------------------------------------
# Real person photos
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _astronaut_master() -> np.ndarray:
    import skimage.data

    image = np.ascontiguousarray(skimage.data.astronaut()[..., :3], dtype=np.uint8)
    image.flags.writeable = False
    return image


@pytest.fixture(scope="session")
def _grace_hopper_master() -> np.ndarray:
    import matplotlib.cbook
    from PIL import Image

    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    with Image.open(path) as img:
        image = np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    image.flags.writeable = False
    return image


@pytest.fixture
def astronaut_rgb(_astronaut_master: np.ndarray) -> np.ndarray:
    """scikit-image's astronaut photo, ``512x512x3 uint8 RGB`` (a fresh, writable copy)."""
    return _astronaut_master.copy()


@pytest.fixture
def grace_hopper_rgb(_grace_hopper_master: np.ndarray) -> np.ndarray:
    """matplotlib's grace_hopper.jpg, ``600x512x3 uint8 RGB`` (a fresh, writable copy)."""
    return _grace_hopper_master.copy()


# --------------------------------------------------------------------------------------------------
# Small videos
# --------------------------------------------------------------------------------------------------


def write_video(path: Path, frames_rgb: list[np.ndarray], fps: float = 15.0) -> Path:
    """Write ``HxWx3 uint8 RGB`` frames (all one size) to ``path`` (``.mp4``: mp4v, else MJPG)."""
    path = Path(path)
    height, width = frames_rgb[0].shape[:2]
    codec = "mp4v" if path.suffix.lower() == ".mp4" else "MJPG"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path} with {codec}")
    try:
        for frame in frames_rgb:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path


def drifting_frames(photo: np.ndarray, frames: int, size: tuple[int, int]) -> list[np.ndarray]:
    """``frames`` crops of ``photo`` moving 2 px right per frame (slight motion), scaled to ``size = (W, H)``."""
    width, height = size
    h, w = photo.shape[:2]
    margin = min(2 * frames, w // 4)
    crop_w = w - margin
    crop_h = min(h, int(round(crop_w * height / width)))
    top = (h - crop_h) // 2
    out = []
    for i in range(frames):
        left = min(2 * i, margin)
        crop = photo[top:top + crop_h, left:left + crop_w]
        out.append(cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA))
    return out


@pytest.fixture
def make_video(_astronaut_master: np.ndarray) -> Callable[..., Path]:
    """Factory: ``make_video(path, frames=10, size=(W, H)=(160, 120), fps=15) -> path`` of a small video
    of the astronaut photo drifting slightly."""

    def factory(path: Path, frames: int = 10, size: tuple[int, int] = (160, 120), fps: float = 15.0) -> Path:
        return write_video(Path(path), drifting_frames(_astronaut_master, frames, size), fps)

    return factory


@pytest.fixture
def png_claiming_size() -> Callable[[Path, int, int], Path]:
    """Factory: ``png_claiming_size(path, width, height) -> path``: an 8x8 PNG whose IHDR claims
    ``width x height`` (CRC recomputed), so readers see a huge image that nobody allocates."""
    import io
    import struct
    import zlib

    from PIL import Image

    def factory(path: Path, width: int, height: int) -> Path:
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), (10, 20, 30)).save(buffer, "PNG")
        data = bytearray(buffer.getvalue())
        assert data[12:16] == b"IHDR"  # 8-byte signature, 4-byte chunk length, then the chunk type
        data[16:20] = struct.pack(">I", width)
        data[20:24] = struct.pack(">I", height)
        data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
        Path(path).write_bytes(bytes(data))
        return Path(path)

    return factory


# --------------------------------------------------------------------------------------------------
# Isolated user directories
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class XdgDirs:
    home: Path
    config: Path
    runtime: Path
    state: Path
    data: Path

    @property
    def config_file(self) -> Path:
        """Where vcamstyle looks for its config by default under these directories."""
        return self.config / "vcamstyle" / "config.yaml"


@pytest.fixture
def isolated_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> XdgDirs:
    """HOME and XDG_{CONFIG_HOME,RUNTIME_DIR,STATE_HOME,DATA_HOME} under ``tmp_path``; systemd off."""
    root = tmp_path / "xdg"
    dirs = XdgDirs(home=root / "home", config=root / "config", runtime=root / "runtime",
                   state=root / "state", data=root / "data")
    for path in (dirs.home, dirs.config, dirs.runtime, dirs.state, dirs.data):
        path.mkdir(parents=True, mode=0o700)
    monkeypatch.setenv("HOME", str(dirs.home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(dirs.config))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(dirs.runtime))
    monkeypatch.setenv("XDG_STATE_HOME", str(dirs.state))
    monkeypatch.setenv("XDG_DATA_HOME", str(dirs.data))
    monkeypatch.setenv("VCAMSTYLE_NO_SYSTEMD", "1")
    for variable in ("NOTIFY_SOCKET", "JOURNAL_STREAM", "INVOCATION_ID", "VCAMSTYLE_WEIGHTS_DIR"):
        monkeypatch.delenv(variable, raising=False)
    return dirs


# --------------------------------------------------------------------------------------------------
# The real offline models, loaded once
# --------------------------------------------------------------------------------------------------


@dataclass
class OfflineModels:
    segmenter: object  # vcamstyle.models.segmenters.selfie.SelfieSegmenter ("selfie")
    stylizer: object  # vcamstyle.models.magenta.stylizer.MagentaStylizer ("magenta"), float32
    _bfloat16_stylizer: object | None = None

    def stylizer_for(self, cpu_bfloat16: bool) -> object:
        """The float32 stylizer, or a bfloat16 one sharing its style predictor (made on first use)."""
        if not cpu_bfloat16:
            return self.stylizer
        if self._bfloat16_stylizer is None:
            import torch

            from vcamstyle.models.magenta import stylizer as magenta

            self._bfloat16_stylizer = magenta.MagentaStylizer(
                magenta.load_transformer(), self.stylizer.predictor, dtype=torch.bfloat16)  # type: ignore[attr-defined]
        return self._bfloat16_stylizer


@pytest.fixture(scope="session")
def offline_models() -> OfflineModels:
    """The embedded selfie segmenter and Magenta stylizer on the CPU, float32, real weights."""
    import torch

    from vcamstyle.models.registry import (
        BuildOptions,
        create_segmenter,
        create_stylizer,
    )

    options = BuildOptions(device=torch.device("cpu"))
    return OfflineModels(create_segmenter("selfie", options), create_stylizer("magenta", options))


@pytest.fixture
def reuse_offline_models(offline_models: OfflineModels, monkeypatch: pytest.MonkeyPatch) -> Iterator[OfflineModels]:
    """Make ``vcamstyle`` (scene engine, doctor, render) reuse ``offline_models`` for CPU ``selfie`` /
    ``magenta`` builds; other names or devices still go to the real factories."""
    import vcamstyle.models.registry as registry
    import vcamstyle.pipeline.scene as scene

    real_segmenter, real_stylizer = registry.create_segmenter, registry.create_stylizer

    def segmenter(name: str, options):  # type: ignore[no-untyped-def]
        if name == "selfie" and str(options.device) == "cpu" and not options.random_weights:
            return offline_models.segmenter
        return real_segmenter(name, options)

    def stylizer(name: str, options):  # type: ignore[no-untyped-def]
        if name == "magenta" and str(options.device) == "cpu" and not options.random_weights:
            return offline_models.stylizer_for(options.cpu_bfloat16)
        return real_stylizer(name, options)

    for module in (registry, scene):
        monkeypatch.setattr(module, "create_segmenter", segmenter)
        monkeypatch.setattr(module, "create_stylizer", stylizer)
    for model in (offline_models.stylizer, offline_models._bfloat16_stylizer):
        reset = getattr(model, "reset", None)
        if callable(reset):
            reset()  # no temporal content state leaks between tests
    yield offline_models
    if callable(reset):
        reset()
