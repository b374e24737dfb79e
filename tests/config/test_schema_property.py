"""Issue 26: one validation. Generated configs (extreme, tiny, huge, non-finite and odd numbers, numbers
YAML reads as text, odd sizes per format, unusual paths) either fail ``config check`` with messages
that each name a key path and a line, or build a scene and process frames without an internal error.

Hypothesis runs derandomized (the same examples on every run, so CI is deterministic) and bounded:
``VALIDATION_EXAMPLES`` documents through ``config check`` alone, ``RUN_EXAMPLES`` accepted ones through
``Engine.build`` and two frames of ``Pipeline.process`` (random network weights: the same code and
shapes as the real ones, no download).
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from vcamstyle import paths  # noqa: E402
from vcamstyle.commands import check_config_files  # noqa: E402
from vcamstyle.config import Config, ConfigValidationError, parse_config, schema_keys  # noqa: E402
from vcamstyle.daemon import output_geometry  # noqa: E402
from vcamstyle.errors import VcamstyleError  # noqa: E402

VALIDATION_EXAMPLES = 400
RUN_EXAMPLES = 30
#: The run property keeps the output at or under this many pixels (the networks and composite run on
#: 2 shared CPU cores); larger accepted sizes are covered by ``test_the_largest_accepted_output_runs``.
RUN_MAX_PIXELS = 320 * 240
ROOT = Path("/property")  # the config's folder (paths resolve beside it)
STYLES = paths.bundled_styles_dir()

# ------------------------------------------------------------------ values

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 0.5, 1.0e308, -1.0e308, 5e-324, 1e-300, 16, 8192, 8193, 15, 641, 361, 2160, 64,
                     63, 240, 240.0001, 200, 201, 3600, 0.9999999999999999, 1.0000000000000002]),
    st.sampled_from(["1e3", "1E-2", "0.5", "inf", ".nan", "1_000", "0x10", "", "auto", "12px"]),
    st.booleans(),
    st.none(),
)
#: Paths: relative to the config's folder (fixtures placed there), bundled styles, and odd ones.
PATHS = st.sampled_from([
    "ok.png", "styles/waves.png", "styles/neon.png", "dir", "dir/", "empty.png", "text.png", "missing.png",
    "new\nline.png", "tab\tname.png", "esc\x1bname.png", "  ", "", "~", "/", "/dev/null", "../ok.png",
    "ünïcödé.png", "a" * 300 + ".png", "/proc/self/status", ".", "ok.png/",
])


def sometimes(strategy: st.SearchStrategy, other: st.SearchStrategy = NUMBERS) -> st.SearchStrategy:
    """Mostly a value from ``strategy``, sometimes anything odd."""
    return st.one_of(strategy, strategy, strategy, other)


SIZES = st.one_of(st.integers(min_value=16, max_value=8192), st.sampled_from([16, 17, 18, 641, 640, 361, 360, 8192]))
FRACTION = st.floats(min_value=0, max_value=1)
WEIGHT = st.one_of(st.floats(min_value=5e-324, max_value=1.0e308), st.sampled_from([1, 3, 1.0e308, 1.7e308, 5e-324]))
STYLE_LIST = st.one_of(
    PATHS,
    st.lists(st.one_of(PATHS, st.fixed_dictionaries({"image": PATHS}, optional={"weight": sometimes(WEIGHT)})),
             min_size=0, max_size=4),
    st.none(), NUMBERS,
)


def region(person: bool) -> st.SearchStrategy[dict[str, Any]]:
    keys = {
        "effect": sometimes(st.sampled_from(["original", "blur", "color", "image", "style", "Style", "none"])),
        "style": STYLE_LIST,
        "strength": sometimes(FRACTION),
        "blur": sometimes(st.integers(min_value=1, max_value=200)),
        "color": sometimes(st.sampled_from(["#202020", "#fff", "#12345", "red", "#ABCDEF"])),
        "image": st.one_of(PATHS, st.none()),
    }
    if person:
        keys["face_strength"] = sometimes(FRACTION)
    return st.fixed_dictionaries({}, optional=keys)


SECTIONS: dict[str, st.SearchStrategy] = {
    "camera": st.fixed_dictionaries({}, optional={
        "device": sometimes(st.sampled_from(["auto", 0, "camera.png"]), PATHS),
        "width": sometimes(SIZES), "height": sometimes(SIZES),
        "fps": sometimes(st.floats(min_value=1e-300, max_value=240)),
        "fourcc": sometimes(st.sampled_from(["MJPG", "YUYV", "auto", "mjpg"])),
        "mirror": sometimes(st.booleans())}),
    "output": st.fixed_dictionaries({}, optional={
        "backend": st.just("none"),  # the property runs the pipeline; sinks have their own tests
        "format": sometimes(st.sampled_from(["yuyv", "i420", "rgb"])),
        "width": sometimes(SIZES), "height": sometimes(SIZES),
        "fps": sometimes(st.floats(min_value=1e-300, max_value=240)),
        "fit": sometimes(st.sampled_from(["cover", "contain"])),
        "on_demand": sometimes(st.booleans()),
        "on_demand_grace_s": sometimes(st.floats(min_value=0, max_value=3600))}),
    "segmentation": st.fixed_dictionaries({}, optional={
        "model": sometimes(st.sampled_from(["auto", "selfie", "selfie_landscape", "unet_resnet18"])),
        "smoothing": sometimes(FRACTION), "threshold": sometimes(FRACTION),
        "softness": sometimes(st.floats(min_value=0, max_value=0.5)),
        "feather": sometimes(st.integers(min_value=0, max_value=200))}),
    "style": st.fixed_dictionaries({}, optional={
        "method": sometimes(st.sampled_from(["magenta", "magenta", "magenta", "adain", "sanet", "avatarnet"])),
        "size": sometimes(st.one_of(st.just("auto"), st.integers(min_value=64, max_value=2160))),
        "preserve_color": sometimes(st.booleans()),
        "smoothing": sometimes(FRACTION)}),
    "person": region(True),
    "background": region(False),
}
TOP = {"device": sometimes(st.sampled_from(["auto", "cpu"]), st.sampled_from(["gpu", "cuda:x", ""])),
       "precision": sometimes(st.sampled_from(["auto", "float32", "half"])),
       "threads": sometimes(st.one_of(st.just("auto"), st.integers(min_value=1, max_value=64)))}
DOCUMENTS = st.fixed_dictionaries({}, optional={**SECTIONS, **TOP})

# ------------------------------------------------------------------ the folder the configs live in


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("property")
    shutil.copy(STYLES / "waves.png", root / "ok.png")
    shutil.copy(STYLES / "mosaic.png", root / "camera.png")
    (root / "dir").mkdir()
    (root / "empty.png").write_bytes(b"")
    (root / "text.png").write_text("not a picture")
    shutil.copy(STYLES / "neon.png", root / "new\nline.png")
    return root


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


OUTCOMES: list[str] = []


def check(text: str, folder: Path) -> Config | None:
    """``config check`` on ``text``: the config, or None when it was refused (with good messages)."""
    file = folder / "config.yaml"
    try:
        config = parse_config(text, file)
        assert_sane(config)
        file.write_text(text, encoding="utf-8")
        check_config_files(config, file)
    except ConfigValidationError as error:
        assert_refused_well(error)
        OUTCOMES.append("refused")
        return None
    OUTCOMES.append("accepted")
    return config


@settings(max_examples=VALIDATION_EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(document=DOCUMENTS)
def test_config_check_accepts_a_sane_config_or_names_every_problem(document: dict[str, Any], folder: Path) -> None:
    check(to_yaml(document), folder)


# ------------------------------------------------------------------ accepted configs run


@pytest.fixture(scope="module")
def engine():
    from vcamstyle.pipeline import Engine

    return Engine(random_weights=True, cpu_flags=frozenset())


CAMERA_SIZES = st.tuples(st.integers(min_value=16, max_value=400), st.integers(min_value=16, max_value=300))


def run_frames(config: Config, camera: tuple[int, int], engine) -> np.ndarray:
    """What the daemon does with ``config`` (output geometry, scene, two frames); the last frame."""
    from vcamstyle.pipeline import FrameFitter, Pipeline

    width, height, fps = output_geometry(config, (*camera, 30.0))
    assert width % 2 == 0 and height % 2 == 0 and math.isfinite(fps) and fps > 0
    scene = engine.build(config, (height, width), None)
    pipeline = Pipeline(scene.segmenter, scene.stylizer, scene.settings, scene.device)
    rng = np.random.default_rng(0)
    fit = FrameFitter()
    for _ in range(2):
        frame = fit(rng.integers(0, 256, (camera[1], camera[0], 3), dtype=np.uint8), (height, width),
                    config.output.fit)
        result = pipeline.process(frame)
    assert result.image.shape == (height, width, 3) and result.image.dtype == np.uint8
    return result.image


def small_enough(document: dict[str, Any]) -> bool:
    output = document.get("output") or {}
    width, height = output.get("width"), output.get("height")
    return not (isinstance(width, int) and isinstance(height, int)) or width * height <= RUN_MAX_PIXELS


@settings(max_examples=RUN_EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
@given(document=DOCUMENTS.filter(small_enough), camera=CAMERA_SIZES)
def test_every_accepted_config_builds_and_processes_frames(document: dict[str, Any], camera: tuple[int, int],
                                                           folder: Path, engine) -> None:
    config = check(to_yaml(document), folder)
    if config is None:
        return
    try:
        run_frames(config, camera, engine)
    except VcamstyleError as error:  # a clear runtime message is not an internal error, but say which
        pytest.fail(f"config check accepted what the pipeline refused: {error}\n{to_yaml(document)}")


def test_the_largest_accepted_output_runs(folder: Path, engine) -> None:
    """8192x8192 (the largest size accepted) with the cheap effects; 8192x16 with the network."""
    config = check("output:\n  backend: none\n  width: 8192\n  height: 8192\n"
                   "person:\n  effect: blur\n  blur: 200\nbackground:\n  effect: color\n", folder)
    assert config is not None
    run_frames(config, (64, 48), engine)
    config = check("output:\n  backend: none\n  width: 8192\n  height: 16\nstyle:\n  size: 2160\n"
                   "person:\n  style: ok.png\nbackground:\n  effect: blur\n  blur: 200\n", folder)
    assert config is not None
    run_frames(config, (400, 16), engine)
