"""Issue 26: one validation. Generated configs (``config_strategies``: mostly well-typed values read
from the schema, a share of odd ones: extreme, tiny, huge, non-finite, numbers YAML reads as text, odd
sizes per format, unusual paths) either fail ``config check`` with messages that each name a key path
and a line, or run: the daemon's geometry, scene and two frames of ``Pipeline.process``, sent through
the sink the daemon opens (a video file or PNG folder that must decode, or the null sink's conversion
to the output format, the virtual camera's), and, for a few, what ``vcamstyle render`` runs.

Hypothesis runs derandomized (the same examples on every run, so CI is deterministic) and bounded.
The live reload has its own property (``test_schema_property_reload``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import config_strategies as gen  # noqa: E402
from vcamstyle.commands import check_config_files, render_file  # noqa: E402
from vcamstyle.config import Config, ConfigValidationError, parse_config, schema_keys  # noqa: E402
from vcamstyle.daemon import output_geometry  # noqa: E402
from vcamstyle.daemon.transaction import open_sink  # noqa: E402
from vcamstyle.errors import VcamstyleError  # noqa: E402

VALIDATION_EXAMPLES = 400
RUN_EXAMPLES = 30
RENDER_EXAMPLES = 4
#: The run property keeps the output at or under this many pixels (the networks and composite run on
#: 2 shared CPU cores); larger accepted sizes are covered by ``test_the_largest_accepted_output_runs``.
RUN_MAX_PIXELS = 320 * 240
SETTINGS = dict(derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gen.make_folder(tmp_path_factory.mktemp("property"))


def to_yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


KEY_PATH = re.compile(r"^(?P<key>[a-z_]+(?:\.[a-z_]+)?)(?:\[\d+\](?:\.(image|weight))?)?: ")


def assert_refused_well(error: ConfigValidationError) -> None:
    """Every problem names a schema key path and a line, and says what it expected."""
    assert error.problems
    for problem in error.problems:
        match = KEY_PATH.match(problem)
        assert match and match["key"] in schema_keys(), problem
        assert re.search(r"\(line \d+\)$", problem), problem
    assert all(line.startswith(f"{error.file}: ") for line in str(error).split("\n")), str(error)  # one line each


def assert_sane(config: Config) -> None:
    """What the daemon may rely on in an accepted configuration."""
    numbers = [config.camera.fps, config.output.on_demand_grace_s, config.segmentation.smoothing,
               config.segmentation.threshold, config.segmentation.softness, config.style.smoothing]
    for region_ in (config.person, config.background):
        numbers += [region_.strength, region_.blur]
        if region_.style:
            weights = [ref.weight for ref in region_.style]
            assert all(math.isfinite(w) and w >= 0 for w in weights) and math.isclose(sum(weights), 1.0)
    assert all(math.isfinite(n) for n in numbers)
    if config.output.width is not None:
        assert config.output.width % 2 == 0 and config.output.height % 2 == 0


def check(text: str, folder: Path) -> Config | None:
    """``config check`` on ``text``: the config, or None when it was refused (with good messages)."""
    file = folder / "config.yaml"
    file.write_text(text, encoding="utf-8")
    try:
        config = parse_config(text, file)
        assert_sane(config)
        check_config_files(config, file)
    except ConfigValidationError as error:
        assert_refused_well(error)
        return None
    return config


def test_config_check_accepts_a_sane_config_or_names_every_problem(folder: Path) -> None:
    """Also: the generator explores the accepted space (about half of the documents are valid)."""
    outcomes: list[bool] = []

    @settings(max_examples=VALIDATION_EXAMPLES, **SETTINGS)
    @given(document=gen.documents())
    def property_(document: dict[str, Any]) -> None:
        outcomes.append(check(to_yaml(document), folder) is not None)

    property_()
    share = sum(outcomes) / len(outcomes)
    print(f"config check accepted {sum(outcomes)} of {len(outcomes)} generated documents ({share:.0%})")
    assert 0.3 <= share <= 0.7, f"accepted {sum(outcomes)} of {len(outcomes)}: the generator lost its balance"


# ------------------------------------------------------------------ accepted configs run


@pytest.fixture(scope="module")
def engine():
    from vcamstyle.pipeline import Engine

    return Engine(random_weights=True, cpu_flags=frozenset())


def run_frames(config: Config, camera: tuple[int, int], engine) -> list[np.ndarray]:
    """What the daemon does with ``config`` (output geometry, scene, two frames); the frames it sends."""
    from vcamstyle.pipeline import FrameFitter, Pipeline

    width, height, fps = output_geometry(config, (*camera, 30.0))
    assert width % 2 == 0 and height % 2 == 0 and math.isfinite(fps) and fps > 0
    scene = engine.build(config, (height, width), None)
    pipeline = Pipeline(scene.segmenter, scene.stylizer, scene.settings, scene.device)
    rng = np.random.default_rng(0)
    fit, sent = FrameFitter(), []
    for _ in range(2):
        frame = fit(rng.integers(0, 256, (camera[1], camera[0], 3), dtype=np.uint8), (height, width),
                    config.output.fit)
        result = pipeline.process(frame)
        assert result.image.shape == (height, width, 3) and result.image.dtype == np.uint8
        sent.append(result.image)
    return sent


def png_frames(folder: Path) -> list[Path]:
    return sorted(folder.glob("frame_*.png")) if folder.is_dir() else []


def send_and_check(config: Config, frames: list[np.ndarray]) -> str:
    """Open the sink the daemon opens for ``config``, send ``frames``, close it, and read back what it wrote:
    a video file decodes to as many frames of the size; a PNG folder holds them; the null sink's last frame
    is in the output format (the virtual camera's conversion) and converts back to the picture. Returns
    what it checked: ``null <format>``, ``video <suffix>`` or ``png``."""
    from avfiles import contents

    height, width = frames[0].shape[:2]
    folder = Path(config.output.path) if config.output.backend == "file" else None
    before = png_frames(folder) if folder is not None else []
    sink = open_sink(config, (width, height, config.output.fps or 30.0))
    try:
        for frame in frames:
            sink.send(frame)
    finally:
        sink.close()
    if config.output.backend == "none":
        converted, fmt = sink.last, config.output.format
        back = {"yuyv": lambda: cv2.cvtColor(converted, cv2.COLOR_YUV2RGB_YUYV),
                "i420": lambda: cv2.cvtColor(converted, cv2.COLOR_YUV2RGB_I420), "rgb": lambda: converted}[fmt]()
        assert converted.shape == {"yuyv": (height, width, 2), "i420": (height * 3 // 2, width),
                                   "rgb": (height, width, 3)}[fmt]
        assert back.shape == frames[-1].shape
        # chroma is shared between neighbours: compare a blurred picture (random pixels differ in colour)
        soft = [cv2.blur(image, (5, 5)).astype(np.int16) for image in (back, frames[-1])]
        assert np.abs(soft[0] - soft[1]).mean() < 12
        return f"null {fmt}"
    written = sink.path
    if written.suffix.lower() in (".mp4", ".mkv", ".mov", ".avi") and not written.is_dir():
        found = contents(written)
        assert (found.frames, found.size) == (len(frames), (width, height)), written
        return f"video {written.suffix.lower()}"
    else:
        new = [p for p in png_frames(written) if p not in before]
        assert len(new) == len(frames), written
        assert all(cv2.imread(str(p)).shape == (height, width, 3) for p in new)
        return "png"


CAMERA_SIZES = st.tuples(st.integers(min_value=16, max_value=400), st.integers(min_value=16, max_value=300))
#: Sinks that open here: the null sink (the virtual camera's conversion) and the file sink (no loopback device).
RUN_DOCUMENTS = gen.forcing(gen.documents(max_pixels=RUN_MAX_PIXELS),
                            {"output.backend": st.sampled_from(["none", "file", "file"])})


def test_every_accepted_config_runs_to_its_output(folder: Path, engine) -> None:
    """Also: the run reached the render branch (enough accepted configs among the examples)."""
    rendered: list[Path] = []
    sinks: list[str] = []

    @settings(max_examples=RUN_EXAMPLES, **SETTINGS)
    @given(document=RUN_DOCUMENTS, camera=CAMERA_SIZES)
    @example(document={"output": {"backend": "file", "path": "png dir.d/", "width": 34, "height": 18}}, camera=(33, 17))
    @example(document={"output": {"backend": "file", "path": "out.avi", "fps": 1}}, camera=(31, 17))
    @example(document={"output": {"backend": "none", "format": "i420", "width": 642, "height": 18}}, camera=(16, 300))
    def property_(document: dict[str, Any], camera: tuple[int, int]) -> None:
        text = to_yaml(document)
        config = check(text, folder)
        if config is None:
            return
        try:
            frames = run_frames(config, camera, engine)
            sinks.append(send_and_check(config, frames))
            if len(rendered) < RENDER_EXAMPLES:  # what `vcamstyle render` runs, on a small picture
                output = folder / f"render-{len(rendered)}.png"
                assert render_file(config, folder / "camera.png", output, random_weights=True, force=True,
                                   config_file=folder / "config.yaml") == 1
                assert cv2.imread(str(output)).shape == cv2.imread(str(folder / "camera.png")).shape
                rendered.append(output)
        except VcamstyleError as error:  # a clear runtime message is not an internal error, but say which
            pytest.fail(f"config check accepted what the daemon refused: {error}\n{text}")

    property_()
    print(f"ran {len(sinks)} accepted configurations to their sinks: {sorted(sinks)}")
    assert len(rendered) == RENDER_EXAMPLES
    assert {kind.split()[0] for kind in sinks} == {"null", "video", "png"}, sinks


def test_the_largest_accepted_output_runs(folder: Path, engine) -> None:
    """8192x8192 (the largest size accepted) with the cheap effects; 8192x16 with the network."""
    config = check("output:\n  backend: none\n  width: 8192\n  height: 8192\n"
                   "person:\n  effect: blur\n  blur: 200\nbackground:\n  effect: color\n", folder)
    assert config is not None
    run_frames(config, (64, 48), engine)
    config = check("output:\n  backend: file\n  path: big.mkv\n  width: 8192\n  height: 16\nstyle:\n  size: 2160\n"
                   "person:\n  style: ok.png\nbackground:\n  effect: blur\n  blur: 200\n", folder)
    assert config is not None
    send_and_check(config, run_frames(config, (400, 16), engine))
