"""The runtime directory: not predictable without XDG_RUNTIME_DIR, and checked for owner, kind and
mode every time (issue 10, fault 9)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from vcamstyle import paths


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir(mode=0o700)
    return tmp_path


def test_without_xdg_runtime_dir_the_runtime_dir_is_in_the_users_state_dir(xdg: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("TMPDIR", str(xdg / "shared-tmp"))
    runtime = paths.runtime_dir()
    assert runtime == xdg / "state" / "vcamstyle" / "run"
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
    assert not (xdg / "shared-tmp").exists()  # nothing in a directory other users can write


def test_a_runtime_dir_of_another_user_is_refused(xdg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    planted = xdg / "run" / "vcamstyle"
    planted.mkdir(mode=0o777)
    (planted / "vcamstyle.pid").write_text("1\n")  # what another user (or a planted file) would leave
    monkeypatch.setattr(paths.os, "geteuid", lambda: os.getuid() + 1000)
    with pytest.raises(paths.UnsafeDirectoryError, match="belongs to uid .* not to you") as info:
        paths.pidfile_path()
    assert "XDG_RUNTIME_DIR" in (info.value.hint or "")


def test_a_symlinked_runtime_dir_is_refused(xdg: Path) -> None:
    elsewhere = xdg / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (xdg / "run" / "vcamstyle").symlink_to(elsewhere)
    with pytest.raises(paths.UnsafeDirectoryError, match="not a directory"):
        paths.status_path()


def test_a_runtime_dir_of_ours_with_a_wide_mode_is_tightened(xdg: Path) -> None:
    mine = xdg / "run" / "vcamstyle"
    mine.mkdir()
    mine.chmod(0o755)
    assert paths.runtime_dir() == mine
    assert stat.S_IMODE(mine.stat().st_mode) == 0o700
