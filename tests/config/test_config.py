"""Config: valid and invalid files with their messages, path resolution, stage diffing, the template."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from vcamstyle import config as cfg
from vcamstyle import paths
from vcamstyle.config import (
    Config,
    ConfigValidationError,
    diff_stages,
    dump_default,
    ensure_config,
    load_config,
    schema_keys,
)
from vcamstyle.errors import ConfigError

TEMPLATE = paths.template_config_path()


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str) -> Config:
    return load_config(write(tmp_path, text))


def error_for(tmp_path: Path, text: str) -> ConfigValidationError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigValidationError) as info:
        load_config(path)
    return info.value


# --------------------------------------------------------------------------------------------------
# Valid files
# --------------------------------------------------------------------------------------------------


def test_empty_file_means_all_defaults(tmp_path: Path) -> None:
    config = load_text(tmp_path, "")
    assert config.camera.width == 1280 and config.camera.height == 720 and config.camera.fps == 30
    assert config.camera.device == "auto" and config.camera.fourcc == "MJPG" and config.camera.mirror is False
    assert config.output.backend == "auto" and config.output.format == "yuyv" and config.output.path is None
    assert config.segmentation.model == "auto" and config.segmentation.smoothing == 0.6
    assert config.style.method == "magenta" and config.style.size == "auto"
    assert config.person.effect == "style" and config.person.strength == 0.7
    assert config.background.effect == "style" and config.background.strength == 1.0
    assert [ref.image.name for ref in config.person.style] == ["brush_strokes.png"]
    assert [ref.image.name for ref in config.background.style] == ["stained_glass.png"]
    assert config.device == "auto" and config.weights_dir is None


def test_comment_only_file_and_empty_sections_mean_defaults(tmp_path: Path) -> None:
    config = load_text(tmp_path, "# nothing here\ncamera:\nperson:\n")
    assert config == load_text(tmp_path, "")


def test_minimal_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    config = load_text(tmp_path, "background:\n  effect: blur\n  blur: 40\n")
    assert config.background.effect == "blur" and config.background.blur == 40
    # Other background keys keep the background's own defaults, not the person's.
    assert config.background.strength == 1.0
    assert config.background.style[0].image.name == "stained_glass.png"
    assert config.person == load_text(tmp_path, "").person


def test_template_loads_and_equals_defaults(tmp_path: Path) -> None:
    copy = tmp_path / "config.yaml"
    copy.write_text(TEMPLATE.read_text(encoding="utf-8"), encoding="utf-8")
    empty = write(tmp_path, "", "empty.yaml")
    assert load_config(copy) == load_config(empty)
    # The shipped file in place resolves its styles inside config/styles.
    shipped = load_config(TEMPLATE)
    assert shipped.person.style[0].image == TEMPLATE.parent / "styles" / "brush_strokes.png"
    assert shipped.background.style[0].image == TEMPLATE.parent / "styles" / "stained_glass.png"


def test_weighted_style_list_is_normalised(tmp_path: Path) -> None:
    config = load_text(
        tmp_path,
        """
        person:
          style:
            - {image: a.png, weight: 3}
            - {image: b.png, weight: 1}
            - c.png
        """,
    )
    refs = config.person.style
    assert [ref.image for ref in refs] == [tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"]
    assert [ref.weight for ref in refs] == pytest.approx([0.6, 0.2, 0.2])
    assert config.summary_region("person") == "style a.png 60% + b.png 20% + c.png 20% @0.7"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("camera:\n  device: 2\n", 2),
        ("camera:\n  device: /dev/video4\n", "/dev/video4"),
        ("camera:\n  device: HD Pro Webcam\n", "HD Pro Webcam"),
    ],
)
def test_camera_device_forms(tmp_path: Path, text: str, expected: object) -> None:
    assert load_text(tmp_path, text).camera.device == expected


def test_camera_file_device_resolves_beside_the_config(tmp_path: Path) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"")
    assert load_text(tmp_path, "camera:\n  device: clip.mp4\n").camera.device == str(tmp_path / "clip.mp4")
    assert load_text(tmp_path, "camera:\n  device: videos/me.mp4\n").camera.device == str(tmp_path / "videos/me.mp4")


def test_file_backend_with_path(tmp_path: Path) -> None:
    config = load_text(tmp_path, "output:\n  backend: file\n  path: out/result.mp4\n  width: 640\n  height: 360\n")
    assert config.output.backend == "file"
    assert config.output.path == tmp_path / "out" / "result.mp4"
    assert (config.output.width, config.output.height) == (640, 360)


def test_registered_backend_name_is_accepted(tmp_path: Path) -> None:
    assert load_text(tmp_path, "output:\n  backend: my_test-backend2\n").output.backend == "my_test-backend2"


def test_other_values_normalised(tmp_path: Path) -> None:
    config = load_text(
        tmp_path,
        """
        background: {effect: color, color: "#ABC"}
        camera: {fps: 29.97, width: 640.0}
        device: cuda:1
        """,
    )
    assert config.background.color == "#aabbcc" and config.background.color_rgb == (170, 187, 204)
    assert config.camera.fps == pytest.approx(29.97) and config.camera.width == 640
    assert isinstance(config.camera.width, int)
    assert config.device == "cuda:1"


def test_model_lists_can_be_passed_in(tmp_path: Path) -> None:
    path = write(tmp_path, "segmentation:\n  model: custom_seg\nstyle:\n  method: custom_style\n")
    config = load_config(path, segmenters=["custom_seg"], stylizers=["custom_style"])
    assert (config.segmentation.model, config.style.method) == ("custom_seg", "custom_style")
    with pytest.raises(ConfigValidationError, match="segmentation.model: expected one of auto \\| selfie"):
        load_config(path)


def test_config_is_immutable(tmp_path: Path) -> None:
    config = load_text(tmp_path, "")
    with pytest.raises(Exception, match="frozen"):
        config.person.strength = 0.1  # type: ignore[misc]


# --------------------------------------------------------------------------------------------------
# Invalid files and their messages
# --------------------------------------------------------------------------------------------------

INVALID = [
    # (id, yaml text, message fragment)
    ("out of range", "person:\n  strength: 1.7\n", "person.strength: expected a number in [0, 1], got 1.7"),
    ("bool for number", "background:\n  strength: true\n", "background.strength: expected a number in [0, 1], got true"),
    ("quoted number", "camera:\n  width: '640'\n", "camera.width: expected an integer in [16, 8192], got '640' (text: remove the quotes)"),
    ("fractional integer", "camera:\n  height: 720.5\n", "camera.height: expected an integer in [16, 8192], got 720.5"),
    ("open interval", "segmentation:\n  smoothing: 1.0\n", "segmentation.smoothing: expected a number in [0, 1), got 1.0"),
    ("threshold zero", "segmentation:\n  threshold: 0\n", "segmentation.threshold: expected a number in (0, 1), got 0"),
    ("softness", "segmentation:\n  softness: 0.6\n", "segmentation.softness: expected a number in [0, 0.5], got 0.6"),
    ("feather negative", "segmentation:\n  feather: -1\n", "segmentation.feather: expected an integer in [0, 200], got -1"),
    ("style size", "style:\n  size: 32\n", "style.size: expected auto or an integer in [64, 2160], got 32"),
    ("blur range", "background:\n  blur: 0\n", "background.blur: expected an integer in [1, 200], got 0"),
    ("bool type", "camera:\n  mirror: 'yes'\n", "camera.mirror: expected true or false, got 'yes'"),
    ("unknown top key", "segmentaton:\n  model: selfie\n", "segmentaton: unknown key (did you mean 'segmentation'?)"),
    ("unknown nested key", "background:\n  blurr: 3\n", "background.blurr: unknown key (did you mean 'blur'?)"),
    ("unknown key no match", "camera:\n  zzz: 1\n", "camera.zzz: unknown key (valid keys: device, width, height, fps, fourcc, mirror)"),
    ("unknown style entry key", "person:\n  style: [{image: a.png, wieght: 1}]\n", "person.style[0].wieght: unknown key (did you mean 'weight'?)"),
    ("non-text key", "1: 2\n", "1: unknown key"),
    ("bad colour", "background:\n  color: '#12345'\n", 'background.color: expected a colour "#rrggbb" or "#rgb", e.g. "#202020", got \'#12345\''),
    ("unquoted colour", "background:\n  color: #202020\n", "background.color: expected a colour \"#rrggbb\" or \"#rgb\", got null (quote the colour"),
    ("bad effect", "person:\n  effect: blurr\n", "person.effect: expected one of original | blur | color | image | style, got 'blurr' (did you mean 'blur'?)"),
    ("bad method", "style:\n  method: adian\n", "style.method: expected one of magenta | adain | sanet | avatarnet, got 'adian' (did you mean 'adain'?)"),
    ("bad segmenter", "segmentation:\n  model: modnet\n", "segmentation.model: expected one of auto | selfie | selfie_landscape | unet_resnet18, got 'modnet'"),
    ("bad format", "output:\n  format: YUY2\n", "output.format: expected one of yuyv | i420 | rgb, got 'YUY2'"),
    ("bad fourcc", "camera:\n  fourcc: H264\n", "camera.fourcc: expected one of MJPG | YUYV | auto, got 'H264'"),
    ("bad backend", "output:\n  backend: V4L2 loopback\n", "output.backend: expected one of auto | v4l2loopback | obs | unitycapture | file | none (or the name of a backend registered"),
    ("output device int", "output:\n  device: 10\n", "output.device: expected auto or a device path such as /dev/video10, got 10 (write the device path, e.g. /dev/video10)"),
    ("camera device negative", "camera:\n  device: -1\n", "camera.device: expected auto, a device path (/dev/video0), a camera index"),
    ("compute device", "device: gpu\n", "device: expected auto | cpu | cuda | cuda:N (N = the GPU index), got 'gpu'"),
    ("precision", "precision: half\n", "precision: expected one of auto | float32, got 'half'"),
    ("threads zero", "threads: 0\n", "threads: expected auto or a whole number of threads in [1, 64], got 0"),
    ("threads text", "threads: many\n", "threads: expected auto or a whole number of threads in [1, 64], got 'many'"),
    ("threads bool", "threads: true\n", "threads: expected auto or a whole number of threads in [1, 64], got true"),
    ("image effect without image", "background:\n  effect: image\n", "background.image: expected an image path when effect is image, got null"),
    ("style effect without style", "person:\n  style: null\n", "person.style: expected a style image (or a list of them) when effect is style, got null"),
    ("file backend without path", "output:\n  backend: file\n", "output.path: expected a file path when backend is file, got null"),
    ("width without height", "output:\n  width: 640\n", "output.height: expected an integer when output.width is set, got null"),
    ("odd yuyv width", "output:\n  width: 641\n  height: 360\n", "output.width: expected an even number for format yuyv, got 641"),
    ("zero weight", "person:\n  style: [{image: a.png, weight: 0}]\n", "person.style[0].weight: expected a number > 0, got 0"),
    ("entry without image", "person:\n  style: [{weight: 1}]\n", "person.style[0].image: missing"),
    ("style wrong type", "person:\n  style: 5\n", "person.style: expected a style image path or a list of {image: path, weight: number}, got 5"),
    ("empty style list", "person:\n  style: []\n", "person.style: expected a style image path or a list of {image: path, weight: number}, got a list (0 items)"),
    ("section not mapping", "camera: 5\n", "camera: expected a mapping of camera settings (key: value lines), got 5"),
    ("top-level list", "- camera\n- output\n", "expected a mapping of settings (key: value lines) at the top level, got a list (2 items)"),
    ("top-level scalar", "hello\n", "expected a mapping of settings (key: value lines) at the top level, got 'hello'"),
    ("duplicate key", "person:\n  strength: 0.5\n  strength: 0.6\n", "person.strength: duplicate key (first at line 2"),
    ("recursive alias", "a: &x [*x]\n", "recursive YAML alias"),
]


@pytest.mark.parametrize(("text", "fragment"), [row[1:] for row in INVALID], ids=[row[0] for row in INVALID])
def test_invalid_file_message(tmp_path: Path, text: str, fragment: str) -> None:
    err = error_for(tmp_path, text)
    message = str(err)
    assert fragment in message
    assert str(tmp_path / "config.yaml") in message  # names the file
    assert isinstance(err, ConfigError) and err.exit_code == 2


def test_message_carries_line_numbers(tmp_path: Path) -> None:
    err = error_for(tmp_path, "camera:\n  width: 1280\n\nperson:\n  strength: 1.7\n")
    assert err.problems == ("person.strength: expected a number in [0, 1], got 1.7 (line 5)",)
    assert err.message == f"{tmp_path / 'config.yaml'}: person.strength: expected a number in [0, 1], got 1.7 (line 5)"


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    err = error_for(tmp_path, "camera:\n  width: 1280\n  height: [720\nperson:\n  strength: 1\n")
    assert len(err.problems) == 1
    assert re.search(r"YAML syntax error at line \d+, column \d+: ", err.problems[0])
    assert "while parsing a flow sequence at line 3, column 11" in err.problems[0]


def test_yaml_syntax_error_bad_indentation(tmp_path: Path) -> None:
    err = error_for(tmp_path, "camera:\n  width: 1280\n height: 720\n")
    assert "YAML syntax error at line 3, column" in str(err)


def test_all_problems_reported_one_per_line_in_file_order(tmp_path: Path) -> None:
    err = error_for(
        tmp_path,
        """
        device: gpu
        camera:
          width: 5
        background:
          blurr: 3
        person:
          strength: 2
        """,
    )
    lines = str(err.message).splitlines()
    assert len(lines) == len(err.problems) == 4
    assert [line.split(": ")[1] for line in lines] == ["device", "camera.width", "background.blurr", "person.strength"]
    assert all(line.startswith(f"{tmp_path / 'config.yaml'}: ") for line in lines)
    assert err.summary == lines[0] + " (and 3 more problems)"


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found") as info:
        load_config(tmp_path / "absent.yaml")
    assert "vcamstyle config init" in str(info.value)


def test_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"device: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


# --------------------------------------------------------------------------------------------------
# Path resolution
# --------------------------------------------------------------------------------------------------


def test_paths_resolve_relative_to_the_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")
    folder = tmp_path / "conf"
    folder.mkdir()
    config = load_config(
        write(
            folder,
            """
            person: {effect: image, image: ../pictures/beach.jpg, style: my/art.png}
            output: {backend: file, path: out.mp4}
            weights_dir: weights
            """,
        )
    )
    assert config.person.image == tmp_path / "pictures" / "beach.jpg"
    assert config.person.style[0].image == folder / "my" / "art.png"
    assert config.output.path == folder / "out.mp4"
    assert config.weights_dir == folder / "weights"


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = load_text(tmp_path, "background: {style: ~/art/a.png}\nweights_dir: ~/w\n")
    assert config.background.style[0].image == tmp_path / "home" / "art" / "a.png"
    assert config.weights_dir == tmp_path / "home" / "w"


def test_absolute_paths_stay(tmp_path: Path) -> None:
    config = load_text(tmp_path, "background: {effect: image, image: /srv/pics/x.png}\n")
    assert config.background.image == Path("/srv/pics/x.png")


@pytest.fixture
def bundled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake bundled styles folder holding brush_strokes.png and mosaic.png."""
    styles = tmp_path / "bundled" / "styles"
    styles.mkdir(parents=True)
    for name in ("brush_strokes.png", "mosaic.png"):
        (styles / name).write_bytes(b"png")
    monkeypatch.setattr(cfg.paths, "bundled_styles_dir", lambda: styles)
    return styles


def test_styles_fall_back_to_the_bundled_folder(tmp_path: Path, bundled: Path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    config = load_config(write(user, "person: {style: styles/mosaic.png}\nbackground: {style: styles/mine.png}\n"))
    assert config.person.style[0].image == bundled / "mosaic.png"
    # Not bundled either: stays beside the config, where the pipeline will report it missing.
    assert config.background.style[0].image == user / "styles" / "mine.png"


def test_user_styles_win_over_bundled(tmp_path: Path, bundled: Path) -> None:
    user = tmp_path / "user"
    (user / "styles").mkdir(parents=True)
    (user / "styles" / "mosaic.png").write_bytes(b"mine")
    config = load_config(write(user, "person: {style: styles/mosaic.png}\n"))
    assert config.person.style[0].image == user / "styles" / "mosaic.png"


def test_fallback_only_for_the_styles_folder(tmp_path: Path, bundled: Path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    config = load_config(write(user, "person: {style: mosaic.png}\nbackground: {style: other/mosaic.png}\n"))
    assert config.person.style[0].image == user / "mosaic.png"
    assert config.background.style[0].image == user / "other" / "mosaic.png"


def test_defaults_find_the_real_bundled_styles(tmp_path: Path) -> None:
    config = load_text(tmp_path, "")
    assert config.person.style[0].image == paths.bundled_styles_dir() / "brush_strokes.png"


# --------------------------------------------------------------------------------------------------
# ensure_config / dump_default
# --------------------------------------------------------------------------------------------------


def test_ensure_config_creates_from_the_template_once(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "config.yaml"
    assert ensure_config(target) is True
    assert target.read_text(encoding="utf-8") == TEMPLATE.read_text(encoding="utf-8")
    target.write_text("device: cpu\n", encoding="utf-8")
    assert ensure_config(target) is False
    assert target.read_text(encoding="utf-8") == "device: cpu\n"
    assert load_config(target).device == "cpu"


def test_created_config_loads_with_bundled_styles(tmp_path: Path) -> None:
    target = tmp_path / "fresh" / "config.yaml"
    ensure_config(target)
    config = load_config(target)
    assert config.person.style[0].image == paths.bundled_styles_dir() / "brush_strokes.png"
    assert config.background.style[0].image == paths.bundled_styles_dir() / "stained_glass.png"


def test_dump_default_is_the_template() -> None:
    assert dump_default() == TEMPLATE.read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# Stage diffing
# --------------------------------------------------------------------------------------------------

DIFFS = [
    ("background:\n  color: '#ff0000'\n", {"effects"}),
    ("background:\n  strength: 0.5\n", {"effects"}),
    ("person:\n  effect: blur\n", {"effects"}),
    ("person:\n  blur: 9\n", {"effects"}),
    ("background:\n  effect: image\n  image: beach.jpg\n", {"effects"}),
    ("camera:\n  width: 640\n", {"camera"}),
    ("camera:\n  mirror: true\n", {"camera"}),
    ("output:\n  format: i420\n", {"output"}),
    ("segmentation:\n  model: unet_resnet18\n", {"segmenter"}),
    ("segmentation:\n  feather: 8\n", {"mask"}),
    ("segmentation:\n  smoothing: 0\n  threshold: 0.4\n", {"mask"}),
    ("style:\n  method: adain\n", {"stylizer"}),
    ("style:\n  size: 480\n", {"effects"}),
    ("style:\n  preserve_color: true\n", {"effects"}),
    ("person:\n  style: styles/mosaic.png\n", {"styles"}),
    ("person:\n  style: [{image: styles/brush_strokes.png, weight: 1}, {image: styles/waves.png, weight: 1}]\n", {"styles"}),
    ("person:\n  style: styles/mosaic.png\n  strength: 0.2\n", {"styles", "effects"}),
    ("device: cpu\n", {"device"}),
    ("precision: float32\n", {"device"}),
    ("threads: 1\n", {"effects"}),
    ("weights_dir: /tmp/w\n", {"stylizer", "segmenter"}),
    ("camera:\n  fps: 15\nstyle:\n  method: sanet\n", {"camera", "stylizer"}),
    ("", set()),
]


@pytest.mark.parametrize(("change", "stages"), DIFFS, ids=[text.replace("\n", " ")[:40] or "nothing" for text, _ in DIFFS])
def test_diff_stages(tmp_path: Path, change: str, stages: set[str]) -> None:
    old = load_config(write(tmp_path, "", "old.yaml"))
    new = load_config(write(tmp_path, change, "new.yaml"))
    result = diff_stages(old, new)
    assert result == stages
    assert result <= cfg.STAGES
    assert diff_stages(new, old) == stages


def test_every_leaf_key_has_stages() -> None:
    leaves = set(cfg.leaf_values(Config()))
    assert leaves == set(cfg.KEY_STAGES)
    assert all(stages and stages <= cfg.STAGES for stages in cfg.KEY_STAGES.values())


# --------------------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------------------

SUMMARIES = [
    ("", "person", "style brush_strokes.png @0.7"),
    ("", "background", "style stained_glass.png @1"),
    ("background: {effect: blur}\n", "background", "blur 25"),
    ("background: {effect: blur, blur: 9, strength: 0.5}\n", "background", "blur 9 @0.5"),
    ("background: {effect: color}\n", "background", "color #202020"),
    ("background: {effect: image, image: pics/beach.jpg}\n", "background", "image beach.jpg"),
    ("person: {effect: original}\n", "person", "original"),
]


@pytest.mark.parametrize(("text", "region", "summary"), SUMMARIES)
def test_region_summary(tmp_path: Path, text: str, region: str, summary: str) -> None:
    assert load_text(tmp_path, text).summary_region(region) == summary  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# The template documents every key
# --------------------------------------------------------------------------------------------------


def _template_keys(data: dict, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, value in data.items():
        keys.add(prefix + key)
        if isinstance(value, dict):
            keys |= _template_keys(value, prefix + key + ".")
    return keys


def test_template_has_every_schema_key() -> None:
    data = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    assert _template_keys(data) == set(schema_keys())


def test_every_template_key_line_has_a_comment() -> None:
    key_line = re.compile(r"^\s*([a-z_]+):")
    seen = set()
    for line in TEMPLATE.read_text(encoding="utf-8").splitlines():
        match = key_line.match(line)
        if match and not line.lstrip().startswith("#"):
            seen.add(match.group(1))
            value_and_comment = line.split(":", 1)[1]
            assert re.search(r"\s#\s\S", value_and_comment), f"no comment on template line: {line!r}"
    assert {key.rsplit(".", 1)[-1] for key in schema_keys()} <= seen


def test_template_header_explains_reload_and_paths() -> None:
    header = TEMPLATE.read_text(encoding="utf-8").split("\ncamera:")[0].lower()
    for phrase in ("reload", "relative", "styles/", "bundled", "quote"):
        assert phrase in header


def test_template_uses_two_different_bundled_styles() -> None:
    config = load_config(TEMPLATE)
    assert config.person.effect == config.background.effect == "style"
    assert config.person.style != config.background.style
    assert config.person.strength == 0.7 and config.background.strength == 1.0


def test_module_does_not_import_torch() -> None:
    code = "import sys, vcamstyle.config; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# --------------------------------------------------------------------------------------------------
# Overrides (command-line options such as `bench --method`)
# --------------------------------------------------------------------------------------------------


def test_override_replaces_dotted_keys_and_skips_none(tmp_path: Path) -> None:
    base = load_text(tmp_path, "person:\n  style: [{image: a.png, weight: 3}, {image: b.png, weight: 1}]\n")
    changed = cfg.override(base, {"style.method": "adain", "output.width": 640, "output.height": 360, "device": None})
    assert changed.style.method == "adain" and (changed.output.width, changed.output.height) == (640, 360)
    assert changed.device == base.device
    assert changed.person == base.person  # paths and normalised weights survive the round trip
    assert diff_stages(base, changed) == {"stylizer", "output"}


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"style.methd": "adain"}, "command line: style.methd: unknown key (did you mean 'style.method'?)"),
        ({"style.size": 10}, "command line: style.size: expected auto or an integer in [64, 2160], got 10"),
        ({"output.width": 640}, "command line: output.height: expected an integer when output.width is set"),
    ],
)
def test_override_errors(tmp_path: Path, changes: dict, fragment: str) -> None:
    with pytest.raises(ConfigValidationError) as info:
        cfg.override(load_text(tmp_path, ""), changes)
    assert fragment in str(info.value)
