"""``output.path`` that is a file the configuration reads (the camera video, a style or background
picture, the config file itself) is refused by ``config check``, ``start``, ``run`` and a live reload,
with a message naming both keys; identity is compared, so symlinks and hard links are caught too."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vcamstyle import cli, paths
from vcamstyle.config import ConfigValidationError, check_output_not_input, load_config, output_overlaps

STYLES = paths.bundled_styles_dir()
runner = CliRunner()


@pytest.fixture(autouse=True)
def quiet_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "setup_logging", lambda level="INFO": None)


@pytest.fixture
def files(tmp_path: Path, make_video) -> dict[str, Path]:
    camera = make_video(tmp_path / "camera.mp4", frames=6, size=(64, 48))
    style = tmp_path / "style.png"
    shutil.copy(STYLES / "waves.png", style)
    backdrop = tmp_path / "backdrop.png"
    shutil.copy(STYLES / "waves.png", backdrop)
    return {"camera": camera, "style": style, "backdrop": backdrop, "config": tmp_path / "config.yaml"}


def _write(files: dict[str, Path], output: Path | str) -> Path:
    files["config"].write_text(
        f"camera:\n  device: {files['camera']}\n"
        f"output:\n  backend: file\n  path: {output}\n"
        f"person:\n  effect: style\n  style: {files['style']}\n"
        f"background:\n  effect: image\n  image: {files['backdrop']}\n"
        "device: cpu\n")
    return files["config"]


def _problems(files: dict[str, Path], output: Path | str) -> list[tuple[str, str]]:
    config = _write(files, output)
    return output_overlaps(load_config(config), config)


def test_the_camera_video_by_name_symlink_and_hard_link(files: dict[str, Path], tmp_path: Path) -> None:
    link = tmp_path / "link.mp4"
    link.symlink_to(files["camera"])
    hard = tmp_path / "hard.mp4"
    os.link(files["camera"], hard)
    for output in (files["camera"], link, hard, f"{tmp_path}/./sub/../camera.mp4"):
        (problem,) = _problems(files, output)
        assert problem[0] == "output.path" and "camera.device" in problem[1] and "overwrite" in problem[1]


@pytest.mark.parametrize("which, key", [("style", "person.style"), ("backdrop", "background.image")])
def test_a_style_or_background_picture(files: dict[str, Path], tmp_path: Path, which: str, key: str) -> None:
    hard = tmp_path / f"{which}-hard.mp4"  # a video name (anything else is refused before the overlap check)
    os.link(files[which], hard)
    (problem,) = _problems(files, hard)
    assert key in problem[1]


def test_the_config_file_itself(files: dict[str, Path], tmp_path: Path) -> None:
    link = tmp_path / "config-link.mkv"
    link.symlink_to(files["config"])
    (problem,) = _problems(files, link)
    assert "this config file" in problem[1]


def test_a_picture_the_current_effect_does_not_use_still_counts(files: dict[str, Path]) -> None:
    """The user's picture is theirs whether or not today's effect shows it."""
    config = files["config"]
    os.link(files["style"], files["config"].parent / "style-as.mp4")
    config.write_text(f"camera:\n  device: {files['camera']}\noutput:\n  backend: file\n  path: style-as.mp4\n"
                      f"person:\n  effect: original\n  style: {files['style']}\ndevice: cpu\n")
    (problem,) = output_overlaps(load_config(config), config)
    assert "person.style" in problem[1]


def test_other_paths_pass(files: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "old-recording.mp4").write_bytes(b"x")  # exists, but is no input: the sink numbers beside it
    assert _problems(files, tmp_path / "new.mp4") == []
    assert _problems(files, tmp_path / "old-recording.mp4") == []
    assert _problems(files, tmp_path / "frames/") == []


def test_config_check_names_both_keys_and_the_line(files: dict[str, Path], isolated_xdg) -> None:
    config = _write(files, files["camera"])
    result = runner.invoke(cli.app, ["config", "check", str(config)])
    assert result.exit_code == 2
    assert "output.path:" in result.output and "camera.device" in result.output and "(line 5)" in result.output
    assert "never records over a file it reads" in result.output


def test_start_refuses_before_the_daemon_runs(files: dict[str, Path], isolated_xdg,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from vcamstyle.daemon import control

    monkeypatch.setattr(control, "start", lambda *a, **k: pytest.fail("the daemon must not be started"))
    before = files["camera"].read_bytes()
    result = runner.invoke(cli.app, ["start", "--config", str(_write(files, files["camera"]))])
    assert result.exit_code == 2
    assert "output.path" in result.output and "camera.device" in result.output
    assert files["camera"].read_bytes() == before


def test_run_refuses_and_leaves_the_camera_video(files: dict[str, Path], isolated_xdg) -> None:
    from vcamstyle.daemon import Service

    before = files["camera"].read_bytes()
    service = Service(_write(files, files["camera"]), publish=False)
    with pytest.raises(ConfigValidationError, match="camera.device"):
        service.start()
    service.shutdown()
    assert files["camera"].read_bytes() == before


def test_a_live_reload_to_an_input_is_refused_and_the_recording_goes_on(files: dict[str, Path], tmp_path: Path,
                                                                       isolated_xdg) -> None:
    from vcamstyle.daemon import Service

    recording = tmp_path / "rec.mkv"
    config = _write(files, recording)
    service = Service(config, publish=False)
    service.start()
    try:
        sink = service.sink
        before = files["backdrop"].read_bytes()
        os.link(files["backdrop"], tmp_path / "backdrop.mp4")
        _write(files, tmp_path / "backdrop.mp4")
        service._reload()
        assert service._pending is None
        assert "output.path" in service.last_error and "background.image" in service.last_error
        assert service.sink is sink and sink.path == recording
        assert files["backdrop"].read_bytes() == before
    finally:
        service.shutdown()


def test_check_output_not_input_raises_with_the_hint(files: dict[str, Path]) -> None:
    os.link(files["style"], files["config"].parent / "style.mkv")
    config = _write(files, files["config"].parent / "style.mkv")
    with pytest.raises(ConfigValidationError) as info:
        check_output_not_input(load_config(config), config)
    assert info.value.hint and "new file name" in info.value.hint
