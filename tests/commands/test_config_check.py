"""``vcamstyle config check`` reports the referenced pictures ``run`` would refuse, with key path and line."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from vcamstyle import cli, paths
from vcamstyle.commands import check_config_files
from vcamstyle.config import ConfigValidationError, load_config

STYLES = paths.bundled_styles_dir()


@pytest.fixture(autouse=True)
def quiet_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "setup_logging", lambda level="INFO": None)


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(body)
    return path


def test_missing_unreadable_and_huge_pictures_are_reported(tmp_path: Path, isolated_xdg, png_claiming_size) -> None:
    shutil.copy(STYLES / "waves.png", tmp_path / "good.png")
    png_claiming_size(tmp_path / "huge.png", 30000, 30000)
    Image.new("RGB", (1200, 3)).save(tmp_path / "strip.png")
    locked = tmp_path / "locked.png"
    shutil.copy(STYLES / "waves.png", locked)
    locked.chmod(0)
    path = _config(tmp_path, "person:\n"
                             "  effect: style\n"
                             "  style:\n"
                             "    - {image: good.png, weight: 1}\n"
                             "    - {image: missing.png, weight: 1}\n"
                             "background:\n"
                             "  effect: image\n"
                             "  image: huge.png\n")
    with pytest.raises(ConfigValidationError) as info:
        check_config_files(load_config(path), path)
    problems = info.value.problems
    assert len(problems) == 2
    assert problems[0].startswith("person.style[1].image: style image") and "does not exist" in problems[0]
    assert problems[0].endswith("(line 5)")
    assert problems[1].startswith("background.image: background image") and "too large" in problems[1]
    assert problems[1].endswith("(line 8)")

    path.write_text("person:\n  effect: original\nbackground:\n  effect: style\n  style: strip.png\n")
    with pytest.raises(ConfigValidationError, match=r"background.style: .*1200x3.*too thin.*\(line 5\)"):
        check_config_files(load_config(path), path)
    if os.geteuid() != 0:
        path.write_text("background:\n  effect: image\n  image: locked.png\n")
        with pytest.raises(ConfigValidationError, match=r"background.image: .*not readable.*\(line 3\)"):
            check_config_files(load_config(path), path)


def test_truncated_picture_is_reported(tmp_path: Path, isolated_xdg, grace_hopper_rgb) -> None:
    full = tmp_path / "full.jpg"
    Image.fromarray(grace_hopper_rgb).save(full, quality=95)
    (tmp_path / "half.jpg").write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    path = _config(tmp_path, "background:\n  effect: image\n  image: half.jpg\n")
    with pytest.raises(ConfigValidationError, match=r"background.image: .*cannot be read"):
        check_config_files(load_config(path), path)


def test_unused_pictures_are_not_checked(tmp_path: Path, isolated_xdg) -> None:
    """A region whose effect is not ``image`` may keep a stale ``image:`` path: run does not read it."""
    path = _config(tmp_path, "background:\n  effect: blur\n  image: gone.png\n")
    check_config_files(load_config(path), path)


def test_cli_config_check_exits_2_with_the_problem(tmp_path: Path, isolated_xdg) -> None:
    path = _config(tmp_path, "background:\n  effect: image\n  image: ~/nowhere/beach.jpg\n")
    result = CliRunner().invoke(cli.app, ["config", "check", "--config", str(path)])
    assert result.exit_code == 2
    assert "background.image" in result.output and "does not exist" in result.output and "line 3" in result.output
    good = _config(tmp_path, "background:\n  effect: blur\n")
    result = CliRunner().invoke(cli.app, ["config", "check", "--config", str(good)])
    assert result.exit_code == 0 and "is valid" in result.output
