"""The ``vcamstyle`` command line through typer's CliRunner, in isolated XDG directories.

Model-backed commands (render, doctor) reuse the session's real offline models (see tests/conftest.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from vcamstyle import cli, paths
from vcamstyle.config import dump_default
from vcamstyle.devices import v4l2, v4l2_abi

runner = CliRunner()


@pytest.fixture(autouse=True)
def quiet_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands reconfigure the root logger onto the runner's temporary stderr; keep pytest's own."""
    monkeypatch.setattr(cli, "setup_logging", lambda level="INFO": None)


def invoke(*args: str) -> Any:
    return runner.invoke(cli.app, list(args), catch_exceptions=False)


def count_frames(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


# ------------------------------------------------------------------------------------------ config

def test_help_lists_the_commands() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("run", "start", "stop", "reload", "logs", "status", "render", "bench", "config", "doctor", "weights"):
        assert command in result.output


def test_config_path_default_and_explicit(isolated_xdg, tmp_path: Path) -> None:
    result = invoke("config", "path")
    assert result.exit_code == 0
    assert result.output.strip() == str(isolated_xdg.config_file)
    result = invoke("config", "path", "--config", str(tmp_path / "other.yaml"))
    assert result.output.strip() == str((tmp_path / "other.yaml").absolute())
    assert not isolated_xdg.config_file.exists()  # `path` creates nothing


def test_config_init_writes_the_template_and_refuses_to_overwrite(isolated_xdg) -> None:
    result = invoke("config", "init")
    assert result.exit_code == 0, result.output
    target = isolated_xdg.config_file
    assert target.read_text() == dump_default() == paths.template_config_path().read_text()

    target.write_text("device: cpu\n")
    result = invoke("config", "init")
    assert result.exit_code == 2
    assert "already exists" in result.output and "--force" in result.output
    assert target.read_text() == "device: cpu\n"  # untouched

    result = invoke("config", "init", "--force")
    assert result.exit_code == 0
    assert target.read_text() == dump_default()


def test_config_check_valid_file(isolated_xdg, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(dump_default())
    result = invoke("config", "check", "--config", str(path))
    assert result.exit_code == 0, result.output
    assert "is valid" in result.output and "magenta" in result.output


@pytest.mark.parametrize("text, key", [
    ("segmentation:\n  smoothing: 2\n", "segmentation.smoothing"),
    ("background:\n  colour: '#ffffff'\n", "background.colour"),
    ("camera:\n  fps: fast\n", "camera.fps"),
])
def test_config_check_invalid_file(isolated_xdg, tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    result = invoke("config", "check", "--config", str(path))
    assert result.exit_code == 2
    assert key in result.output
    assert str(path) in result.output


def test_config_check_missing_file(isolated_xdg, tmp_path: Path) -> None:
    result = invoke("config", "check", "--config", str(tmp_path / "absent.yaml"))
    assert result.exit_code == 2
    assert "not found" in result.output
    assert not (tmp_path / "absent.yaml").exists()  # check never creates the file


def test_unknown_style_method_lists_the_valid_ones(isolated_xdg, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("style:\n  method: picasso\n")
    for args in (("config", "check", "--config", str(path)),
                 ("render", str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--config", str(path))):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        assert "style.method" in result.output and "picasso" in result.output
        for method in ("magenta", "adain", "sanet", "avatarnet"):
            assert method in result.output


# ------------------------------------------------------------------------------------------ daemon control

def test_status_when_not_running(isolated_xdg) -> None:
    result = invoke("status")
    assert result.exit_code == 3
    assert "not running" in result.output
    result = invoke("status", "--json")
    assert result.exit_code == 3
    assert json.loads(result.stdout) == {"running": False}


def test_status_when_running(isolated_xdg, monkeypatch: pytest.MonkeyPatch) -> None:
    from vcamstyle.daemon import control

    info = {"pid": 4242, "uptime_s": 12.5, "fps": 29.8, "stage_ms": {"segment": 4.0, "style": 30.0},
            "config": "/x/config.yaml", "person": "style a.png @0.7", "background": "blur 25", "last_error": None,
            "style_size": 192, "style_size_auto": True}
    monkeypatch.setattr(control, "status", lambda **kwargs: dict(info))
    result = invoke("status", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"running": True, **info}
    result = invoke("status")
    assert result.exit_code == 0
    assert "pid 4242" in result.output and "segment 4.0" in result.output and "last error: none" in result.output
    assert "style size: 192 (auto" in result.output


def test_stop_when_not_running(isolated_xdg) -> None:
    result = invoke("stop")
    assert result.exit_code == 0
    assert "not running" in result.output


# ------------------------------------------------------------------------------------------ weights

def test_weights_path_prints_a_directory(isolated_xdg, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result = invoke("weights", "path")
    assert result.exit_code == 0
    printed = Path(result.output.strip())
    assert printed.is_absolute() and printed.name == "weights"
    monkeypatch.setenv("VCAMSTYLE_WEIGHTS_DIR", str(tmp_path / "my_weights"))
    result = invoke("weights", "path")
    assert result.output.strip() == str(tmp_path / "my_weights")


def test_weights_path_follows_the_config(isolated_xdg, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"weights_dir: {tmp_path / 'w'}\n")
    result = invoke("weights", "path", "--config", str(config))
    assert result.exit_code == 0
    assert result.output.strip() == str(tmp_path / "w")


# ------------------------------------------------------------------------------------------ render

def test_render_photo_with_compare(isolated_xdg, reuse_offline_models, tmp_path: Path, astronaut_rgb: np.ndarray) -> None:
    source = tmp_path / "astronaut.png"
    cv2.imwrite(str(source), cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2BGR))
    out = tmp_path / "compare.png"
    result = invoke("render", str(source), str(out), "--compare")
    assert result.exit_code == 0, result.output
    assert "1 frame" in result.output
    assert isolated_xdg.config_file.exists()  # created from the template on first use
    image = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    assert image.shape == (512, 3 * 512, 3)
    np.testing.assert_array_equal(image[:, :512], astronaut_rgb)  # original | ...
    mask = image[:, 512:1024]
    assert (mask[..., 0] == mask[..., 1]).all() and (mask[..., 1] == mask[..., 2]).all()  # grey mask
    assert 0.1 < (mask[..., 0] > 127).mean() < 0.9  # a person and a background
    result_part = image[:, 1024:].astype(np.int16)
    assert np.abs(result_part - astronaut_rgb).mean() > 10  # restyled by the default config


def test_render_photo_without_compare(isolated_xdg, reuse_offline_models, tmp_path: Path,
                                      grace_hopper_rgb: np.ndarray) -> None:
    source = tmp_path / "grace.jpg"
    cv2.imwrite(str(source), cv2.cvtColor(grace_hopper_rgb, cv2.COLOR_RGB2BGR))
    config = tmp_path / "config.yaml"
    config.write_text("person:\n  effect: original\nbackground:\n  effect: color\n  color: '#00ff00'\n")
    out = tmp_path / "out.png"
    result = invoke("render", str(source), str(out), "--config", str(config))
    assert result.exit_code == 0, result.output
    image = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    assert image.shape == grace_hopper_rgb.shape
    green = (image[..., 1] > 240) & (image[..., 0] < 15) & (image[..., 2] < 15)
    assert 0.05 < green.mean() < 0.9  # the background became green, the person did not


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_render_video_keeps_the_frame_count(isolated_xdg, reuse_offline_models, tmp_path: Path, make_video,
                                            suffix: str) -> None:
    source = make_video(tmp_path / "clip.mp4", frames=4, size=(96, 64))
    assert count_frames(source) == 4
    out = tmp_path / f"out{suffix}"
    result = invoke("render", str(source), str(out))
    assert result.exit_code == 0, result.output
    assert "4 frames" in result.output
    assert count_frames(out) == 4
    capture = cv2.VideoCapture(str(out))
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (96, 64)
    capture.release()


def test_render_video_with_compare(isolated_xdg, reuse_offline_models, tmp_path: Path, make_video) -> None:
    source = make_video(tmp_path / "clip.mp4", frames=3, size=(96, 64))
    out = tmp_path / "compare.mp4"
    result = invoke("render", str(source), str(out), "--compare")
    assert result.exit_code == 0, result.output
    capture = cv2.VideoCapture(str(out))
    assert capture.get(cv2.CAP_PROP_FRAME_WIDTH) == 3 * 96
    capture.release()
    assert count_frames(out) == 3


def test_render_missing_input(isolated_xdg, tmp_path: Path) -> None:
    result = invoke("render", str(tmp_path / "nothing.png"), str(tmp_path / "out.png"))
    assert result.exit_code == 1
    assert "does not exist" in result.output


# ------------------------------------------------------------------------------------------ doctor

def test_doctor_reports_the_missing_loopback_with_the_fix(isolated_xdg, reuse_offline_models,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(v4l2, "list_devices", lambda *a, **k: [])  # like this machine: no /dev/video*
    result = invoke("doctor")
    assert result.exit_code == 1  # a failing check
    assert "[FAIL] virtual camera" in result.output
    assert "fix: vcamstyle setup loopback" in result.output
    assert result.output.splitlines()[-1] == "next: vcamstyle setup loopback"
    assert "no camera found" in result.output
    assert "offline segmenter" in result.output and "offline stylizer" in result.output
    assert "compute" in result.output


def test_doctor_passes_with_a_loopback_device(isolated_xdg, reuse_offline_models,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    loopback = v4l2.VideoDevice("/dev/video10", card="vcamstyle", driver=v4l2.LOOPBACK_DRIVER,
                                caps=v4l2_abi.V4L2_CAP_VIDEO_OUTPUT)
    camera = v4l2.VideoDevice("/dev/video0", card="Webcam", driver="uvcvideo", caps=v4l2_abi.V4L2_CAP_VIDEO_CAPTURE)
    monkeypatch.setattr(v4l2, "list_devices", lambda *a, **k: [camera, loopback])
    result = invoke("doctor")
    assert "FAIL" not in result.output, result.output
    assert result.exit_code == 0
    assert "/dev/video10 (vcamstyle)" in result.output and "/dev/video0 (Webcam)" in result.output


def test_doctor_flags_an_invalid_config(isolated_xdg, reuse_offline_models, monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    monkeypatch.setattr(v4l2, "list_devices", lambda *a, **k: [])
    config = tmp_path / "config.yaml"
    config.write_text("person:\n  effect: sparkle\n")
    result = invoke("doctor", "--config", str(config))
    assert result.exit_code == 1
    assert "[FAIL] config" in result.output and "person.effect" in result.output


# ------------------------------------------------------------------------------------------ issue 10: messages

def test_help_reads_cleanly() -> None:
    """No rich markup eating "[default: ...]", no ``<bool>`` on flags, usage names the arguments plainly."""
    check = invoke("config", "check", "--help").output
    assert "(default: $XDG_CONFIG_HOME/vcamstyle/config.yaml)" in " ".join(check.split())
    assert "Config file ." not in check
    assert "config check [OPTIONS] [FILE]" in check
    render = invoke("render", "--help").output
    assert "render [OPTIONS] INPUT OUTPUT" in render and "{" not in render.splitlines()[0]
    for args in (("--help",), ("render", "--help"), ("status", "--help"), ("logs", "--help"), ("bench", "--help")):
        assert "<bool>" not in invoke(*args).output, args


def test_config_check_takes_the_file_as_an_argument(isolated_xdg, tmp_path: Path) -> None:
    good = tmp_path / "my.yaml"
    good.write_text("background:\n  effect: blur\n")
    result = invoke("config", "check", str(good))
    assert result.exit_code == 0 and "is valid" in result.output
    assert invoke("config", "check", "-c", str(good)).exit_code == 0  # the option keeps working
    bad = tmp_path / "bad.yaml"
    bad.write_text("background:\n  blurr: 3\n")
    result = invoke("config", "check", str(bad))
    assert result.exit_code == 2 and "background.blurr" in result.output
    result = invoke("config", "check", str(good), "-c", str(bad))
    assert result.exit_code == 2 and "two different files" in result.output


def test_a_bogus_log_level_is_refused() -> None:
    result = runner.invoke(cli.app, ["run", "--log-level", "BOGUS"])
    assert result.exit_code == 2
    assert "'BOGUS' is not a log level" in result.output and "DEBUG, INFO, WARNING, ERROR" in result.output
    with pytest.raises(typer.BadParameter):
        cli.check_log_level("verbose")
    assert cli.check_log_level("debug") == "DEBUG"


def test_watchfiles_change_reports_are_debug_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """watchfiles logs every change it sees at INFO: the daemon's log shows them only at DEBUG."""
    import logging

    monkeypatch.undo()  # the real setup_logging, not quiet_logging's stand-in
    try:
        cli.setup_logging("INFO")
        assert logging.getLogger("watchfiles").getEffectiveLevel() == logging.WARNING
        cli.setup_logging("debug")
        assert logging.getLogger("watchfiles").getEffectiveLevel() == logging.DEBUG
    finally:
        logging.getLogger("watchfiles").setLevel(logging.NOTSET)
        logging.getLogger().handlers.clear()


def test_first_run_says_it_created_the_config(isolated_xdg, monkeypatch: pytest.MonkeyPatch) -> None:
    from vcamstyle.daemon import control

    monkeypatch.setattr(v4l2, "list_devices", lambda *a, **k: [])
    started: list[Path] = []
    monkeypatch.setattr(control, "start", lambda path, timeout: started.append(path))
    result = runner.invoke(cli.app, ["start"])
    assert f"created the config file {isolated_xdg.config_file}" in result.output
    assert isolated_xdg.config_file.exists()


def test_start_without_a_loopback_device_says_so_first_and_loads_nothing(isolated_xdg,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from vcamstyle.daemon import control

    isolated_xdg.config_file.parent.mkdir(parents=True, exist_ok=True)
    isolated_xdg.config_file.write_text("")
    monkeypatch.setattr(v4l2, "list_devices", lambda *a, **k: [])
    monkeypatch.setattr(control, "start", lambda *a, **k: pytest.fail("the daemon must not be started"))
    result = runner.invoke(cli.app, ["start"])
    assert result.exit_code == 1
    first = result.output.splitlines()[0]
    assert first.startswith("vcamstyle: no v4l2loopback device")
    assert "fix: run `vcamstyle setup loopback`" in result.output
    assert "sudo apt install v4l2loopback-dkms" in result.output and "sudo modprobe v4l2loopback" in result.output
    assert "no camera" not in result.output and "cannot open camera" not in result.output
    assert "fix the error above" not in result.output


def test_bench_runs_with_the_configured_threads(isolated_xdg, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import torch

    from vcamstyle.bench import runner as bench_runner

    seen: list[int] = []

    def fake_bench(cfg, **kwargs):
        seen.append(torch.get_num_threads())
        return {"fake": True}

    monkeypatch.setattr(bench_runner, "run_bench", fake_bench)
    monkeypatch.setattr(bench_runner, "format_report", lambda report: "report")
    config = tmp_path / "bench.yaml"
    before = torch.get_num_threads()
    for threads in (1, 3):
        config.write_text(f"threads: {threads}\n")
        assert invoke("bench", "-c", str(config)).exit_code == 0
    assert seen == [1, 3]
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("extra", [["--width", "1280"], ["--threads", "1"], ["--random-weights"], ["--soak"],
                                   ["--height", "720", "--latency"]])
def test_bench_quality_refuses_options_it_would_ignore(isolated_xdg, monkeypatch: pytest.MonkeyPatch,
                                                       extra: list[str]) -> None:
    """``bench --quality`` measures its own clips with the real weights: a size, thread count, random
    weights or another mode given with it is refused (exit 2) rather than silently ignored."""
    from vcamstyle.bench import quality

    monkeypatch.setattr(quality, "run_quality", lambda *a, **k: pytest.fail("the benchmark must not run"))
    result = runner.invoke(cli.app, ["bench", "--quality", *extra])
    assert result.exit_code == 2
    assert "cannot be combined with --quality" in result.output and extra[0] in result.output


def test_bench_quality_takes_the_options_it_uses(isolated_xdg, monkeypatch: pytest.MonkeyPatch) -> None:
    from vcamstyle.bench import quality

    seen = []
    monkeypatch.setattr(quality, "run_quality", lambda cfg: seen.append(cfg) or {"fake": True})
    monkeypatch.setattr(quality, "format_quality", lambda report: "quality table")
    result = runner.invoke(cli.app, ["bench", "--quality", "--size", "160", "--segmentation", "selfie"])
    assert result.exit_code == 0, result.output
    assert "quality table" in result.output
    assert seen[0].style.size == 160 and seen[0].segmentation.model == "selfie" and seen[0].device == "cpu"


def test_version_prints_the_package_version() -> None:
    from vcamstyle import __version__
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output == f"vcamstyle {__version__}\n"
