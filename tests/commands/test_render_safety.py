"""``vcamstyle render`` never destroys a file and writes a faithful video: the input is never the
output (by identity), an existing output needs --force or a yes, videos keep the input's frame rate
and audio, a terminal shows progress and anything else stays quiet, and Ctrl-C leaves a playable
partial file (or nothing for an image) and never a cut-off file under the output's name."""

from __future__ import annotations

import io
import os
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from avfiles import contents, write_clip
from vcamstyle import cli
from vcamstyle.commands.render import RenderInterrupted, RenderRefused, render_file
from vcamstyle.config import parse_config
from vcamstyle.pipeline.core import Pipeline

runner = CliRunner()
CONFIG = "person:\n  effect: original\nbackground:\n  effect: color\n  color: '#00ff00'\ndevice: cpu\n"
RATE = Fraction(30000, 1001)


@pytest.fixture(autouse=True)
def quiet_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "setup_logging", lambda level="INFO": None)


@pytest.fixture
def config(tmp_path: Path):
    return parse_config(CONFIG, tmp_path / "config.yaml")


@pytest.fixture
def photo(tmp_path: Path, grace_hopper_rgb: np.ndarray) -> Path:
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), cv2.cvtColor(grace_hopper_rgb, cv2.COLOR_RGB2BGR))
    return path


def _invoke(tmp_path: Path, *args: str):
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    return runner.invoke(cli.app, ["render", *args, "--config", str(config)], catch_exceptions=False)


@pytest.mark.parametrize("how", ["same name", "symlink", "hard link", "another spelling"])
def test_the_output_is_never_the_input(tmp_path: Path, isolated_xdg, photo: Path, how: str) -> None:
    before = photo.read_bytes()
    output = {"same name": photo, "symlink": tmp_path / "link.png", "hard link": tmp_path / "hard.png",
              "another spelling": tmp_path / "sub" / ".." / "photo.png"}[how]
    if how == "symlink":
        output.symlink_to(photo)
    elif how == "hard link":
        os.link(photo, output)
    result = _invoke(tmp_path, str(photo), str(output), "--force")
    assert result.exit_code == 2, result.output
    assert "is the input" in result.output and "fix: give a new output file name" in result.output
    assert photo.read_bytes() == before


def test_an_existing_output_is_kept_without_force(tmp_path: Path, isolated_xdg, reuse_offline_models,
                                                  photo: Path) -> None:
    output = tmp_path / "out.png"
    output.write_bytes(b"the user's own picture")
    result = _invoke(tmp_path, str(photo), str(output))
    assert result.exit_code == 2
    assert "already exists" in result.output and "--force" in result.output
    assert output.read_bytes() == b"the user's own picture"
    result = _invoke(tmp_path, str(photo), str(output), "--force")
    assert result.exit_code == 0, result.output
    assert cv2.imread(str(output)).shape[:2] == cv2.imread(str(photo)).shape[:2]
    assert not list(tmp_path.glob("*.partial*"))


def test_a_yes_on_the_terminal_replaces_and_a_no_keeps(tmp_path: Path, config, reuse_offline_models,
                                                       photo: Path) -> None:
    output = tmp_path / "out.png"
    output.write_bytes(b"keep me")
    asked: list[Path] = []
    with pytest.raises(RenderRefused, match="already exists"):
        render_file(config, photo, output, confirm=lambda path: asked.append(path) or False)
    assert asked == [output] and output.read_bytes() == b"keep me"
    assert render_file(config, photo, output, confirm=lambda path: True) == 1
    assert cv2.imread(str(output)) is not None


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".avi"])
def test_a_video_keeps_its_frame_rate_and_its_audio(tmp_path: Path, config, reuse_offline_models,
                                                    suffix: str) -> None:
    source = write_clip(tmp_path / "clip.mp4", frames=15, fps=RATE, tone_hz=440.0)
    before = contents(source)
    output = tmp_path / f"out{suffix}"
    assert render_file(config, source, output) == 15
    after = contents(output)
    assert after.frames == 15 and after.size == before.size
    assert after.video_seconds == pytest.approx(before.video_seconds, abs=1.5 / float(RATE))
    assert after.audio_codec == "aac"  # copied, not re-encoded
    assert after.audio_peak_hz == pytest.approx(440.0, abs=5)
    assert after.audio_seconds == pytest.approx(before.audio_seconds, abs=0.05)
    import av

    with av.open(str(output)) as container:
        video = container.streams.video[0]
        times = [float(frame.pts * video.time_base) for frame in container.decode(video)]
    steps = np.diff(times)[1:]  # the first frame may absorb the audio's priming offset
    assert np.allclose(steps, 1 / float(RATE), atol=1.01e-3)


def test_progress_shows_on_a_terminal(tmp_path: Path, config, reuse_offline_models) -> None:
    source = write_clip(tmp_path / "clip.mp4", frames=6, tone_hz=None)
    screen = io.StringIO()
    render_file(config, source, tmp_path / "out.mp4",
                console=Console(file=screen, force_terminal=True, width=120, color_system=None))
    text = screen.getvalue()
    assert "6/6" in text and "frames" in text and "fps" in text and "left" in text


def test_render_is_quiet_when_not_a_terminal(tmp_path: Path, isolated_xdg, reuse_offline_models) -> None:
    source = write_clip(tmp_path / "clip.mp4", frames=6, tone_hz=None)
    output = tmp_path / "out.mp4"
    result = _invoke(tmp_path, str(source), str(output))
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {output} (6 frames)\n"


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, frames: int) -> None:
    real = Pipeline.process
    calls = {"n": 0}

    def process(self: Pipeline, frame: np.ndarray):
        calls["n"] += 1
        if calls["n"] > frames:
            raise KeyboardInterrupt
        return real(self, frame)

    monkeypatch.setattr(Pipeline, "process", process)


def test_ctrl_c_leaves_a_playable_partial_video_and_the_old_output(tmp_path: Path, config, reuse_offline_models,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_clip(tmp_path / "clip.mp4", frames=20, tone_hz=440.0)
    output = tmp_path / "out.mp4"
    output.write_bytes(b"an earlier render")
    _interrupt_after(monkeypatch, 7)
    with pytest.raises(RenderInterrupted) as info:
        render_file(config, source, output, force=True)
    assert info.value.exit_code == 130
    partial = tmp_path / "out.partial.mp4"
    assert str(partial) in info.value.message
    assert output.read_bytes() == b"an earlier render"  # never a cut-off file under the output's name
    assert contents(partial).frames == 7


def test_ctrl_c_on_an_image_leaves_nothing(tmp_path: Path, config, reuse_offline_models, photo: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _interrupt_after(monkeypatch, 0)
    with pytest.raises(KeyboardInterrupt):
        render_file(config, photo, tmp_path / "out.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_an_unknown_output_type_is_refused_before_any_work(tmp_path: Path, config, photo: Path) -> None:
    with pytest.raises(RenderRefused, match="unknown file type"):
        render_file(config, photo, tmp_path / "out.gif")


@pytest.mark.parametrize("which", ["config", "style"])
def test_the_output_is_never_a_file_the_config_reads(tmp_path: Path, isolated_xdg, photo: Path, which: str) -> None:
    style = tmp_path / "style.png"
    cv2.imwrite(str(style), np.full((64, 64, 3), 90, np.uint8))
    config = tmp_path / "render.yaml"
    config.write_text(f"person:\n  effect: original\nbackground:\n  effect: style\n  style: {style}\ndevice: cpu\n")
    target = {"config": config, "style": style}[which]
    before = target.read_bytes()
    link = tmp_path / f"link{target.suffix}.png"
    link.symlink_to(target)
    result = runner.invoke(cli.app, ["render", str(photo), str(link), "--force", "--config", str(config)],
                           catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert ("the config file" if which == "config" else "the file background.style names") in result.output
    assert target.read_bytes() == before


def test_an_audio_track_the_output_cannot_hold_is_a_clear_error(tmp_path: Path, config, reuse_offline_models) -> None:
    from vcamstyle.errors import SinkError

    source = write_clip(tmp_path / "clip.mkv", frames=6, tone_hz=440.0, audio_codec="libopus")
    with pytest.raises(SinkError, match="cannot hold the input's opus audio") as info:
        render_file(config, source, tmp_path / "out.avi")
    assert ".mkv" in info.value.hint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mkv"]
    render_file(config, source, tmp_path / "out.mkv")
    assert contents(tmp_path / "out.mkv").audio_codec in ("opus", "libopus")


def test_a_photo_into_a_video_and_a_video_into_a_photo(tmp_path: Path, config, reuse_offline_models,
                                                       photo: Path) -> None:
    assert render_file(config, photo, tmp_path / "still.mp4") == 1
    assert contents(tmp_path / "still.mp4").frames == 1
    source = write_clip(tmp_path / "clip.mp4", frames=5, tone_hz=None)
    assert render_file(config, source, tmp_path / "first.png") == 1
    assert cv2.imread(str(tmp_path / "first.png")).shape == (64, 96, 3)
