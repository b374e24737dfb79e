"""PidFile: create / refuse live / replace stale / EPERM / pid reuse / unlink own pid only / 0600 / atomic."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vcamstyle.daemon import pidfile as pidfile_module
from vcamstyle.daemon.pidfile import (
    PidFile,
    atomic_write_text,
    is_vcamstyle_process,
    process_exists,
)
from vcamstyle.daemon.statusfile import read_status, remove_status, write_status
from vcamstyle.errors import ControlError


@pytest.fixture
def vcamstyle_like_process() -> Iterator[int]:
    """A live process whose command line contains "vcamstyle"."""
    process = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()", "vcamstyle-test-sleeper"],
                               stdin=subprocess.PIPE)
    yield process.pid
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=10)


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(timeout=10)
    return process.pid


def _wait_for_cmdline(pid: int) -> list[str] | None:
    """Right after spawning, /proc/<pid>/cmdline may still be empty; wait a little for the exec."""
    for _ in range(200):
        argv = pidfile_module.process_cmdline(pid)
        if argv is not None and "-c" in argv:
            return argv
        time.sleep(0.01)
    return None


def test_create_writes_own_pid_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "vcamstyle.pid"
    PidFile(path).create()
    assert path.read_text() == f"{os.getpid()}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_create_refuses_a_live_vcamstyle_pid(tmp_path: Path, vcamstyle_like_process: int) -> None:
    path = tmp_path / "vcamstyle.pid"
    path.write_text(f"{vcamstyle_like_process}\n")
    with pytest.raises(ControlError, match=f"already running \\(pid {vcamstyle_like_process}\\)") as info:
        PidFile(path).create()
    assert "vcamstyle stop" in (info.value.hint or "")
    assert path.read_text() == f"{vcamstyle_like_process}\n"


def test_create_replaces_a_stale_pid(tmp_path: Path, dead_pid: int) -> None:
    path = tmp_path / "vcamstyle.pid"
    path.write_text(f"{dead_pid}\n")
    pidfile = PidFile(path)
    assert pidfile.is_stale()
    pidfile.create()
    assert pidfile.read() == os.getpid()


@pytest.mark.parametrize("content", ["", "garbage\n", "0\n", "-5\n", "12abc"])
def test_unparsable_or_non_positive_content_counts_as_no_pid(tmp_path: Path, content: str) -> None:
    path = tmp_path / "vcamstyle.pid"
    path.write_text(content)
    pidfile = PidFile(path)
    assert pidfile.read() is None
    assert pidfile.live_pid() is None
    pidfile.create()
    assert pidfile.read() == os.getpid()


def test_a_live_process_that_is_not_vcamstyle_counts_as_stale(tmp_path: Path) -> None:
    """Pid reuse: the recorded pid now belongs to an unrelated program."""
    process = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        argv = _wait_for_cmdline(process.pid)
        if argv is None:
            pytest.skip("/proc/<pid>/cmdline is not readable here")
        assert not any("vcamstyle" in arg for arg in argv)
        path = tmp_path / "vcamstyle.pid"
        path.write_text(f"{process.pid}\n")
        assert PidFile(path).live_pid() is None
        PidFile(path).create()
        assert PidFile(path).read() == os.getpid()
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=10)


def test_eperm_counts_as_alive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def kill_denied(pid: int, sig: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(pidfile_module.os, "kill", kill_denied)
    monkeypatch.setattr(pidfile_module, "process_cmdline", lambda pid: None)  # /proc hides it (hidepid)
    monkeypatch.setattr(pidfile_module, "_is_zombie", lambda pid: False)
    path = tmp_path / "vcamstyle.pid"
    path.write_text("4242\n")
    assert process_exists(4242)
    assert PidFile(path).live_pid() == 4242
    with pytest.raises(ControlError, match="pid 4242"):
        PidFile(path).create()


def test_esrch_counts_as_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    def kill_missing(pid: int, sig: int) -> None:
        raise ProcessLookupError(3, "No such process")

    monkeypatch.setattr(pidfile_module.os, "kill", kill_missing)
    assert not process_exists(4242)
    assert not is_vcamstyle_process(4242)


def test_zombie_counts_as_gone() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
        if not Path(f"/proc/{process.pid}/stat").exists():
            pytest.skip("no /proc here")
        assert not process_exists(process.pid)
    finally:
        process.wait(timeout=10)


def test_unlink_removes_only_our_own_pid(tmp_path: Path, vcamstyle_like_process: int) -> None:
    path = tmp_path / "vcamstyle.pid"
    ours = PidFile(path)
    ours.create()
    path.write_text(f"{vcamstyle_like_process}\n")  # another daemon took the file over
    assert ours.unlink() is False
    assert path.exists()
    assert ours.unlink(vcamstyle_like_process) is True
    assert not path.exists()
    assert ours.unlink() is False  # already gone: no error


def test_context_manager_creates_and_removes(tmp_path: Path) -> None:
    path = tmp_path / "vcamstyle.pid"
    with PidFile(path) as pidfile:
        assert pidfile.read() == os.getpid()
    assert not path.exists()


def test_atomic_write_keeps_old_content_when_replace_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "vcamstyle.pid"
    path.write_text("111\n")

    def failing_replace(src: str, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pidfile_module.os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space"):
        atomic_write_text(path, "222\n")
    assert path.read_text() == "111\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vcamstyle.pid"]  # no temp file left behind


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "file.txt"
    for text in ("a", "bb", "ccc"):
        atomic_write_text(path, text)
    assert path.read_text() == "ccc"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_status_file_round_trip_and_corruption(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "status.json"
    assert read_status(path) is None
    write_status({"pid": 12, "state": "running", "fps": float("nan"), "stage_ms": {"seg": 1.5},
                  "config": tmp_path / "c.yaml", "ready": True}, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = read_status(path)
    assert data == {"pid": 12, "state": "running", "fps": None, "stage_ms": {"seg": 1.5},
                    "config": str(tmp_path / "c.yaml"), "ready": True}
    path.write_text("{truncated")
    with caplog.at_level("DEBUG", logger="vcamstyle.daemon.statusfile"):
        assert read_status(path) is None
    assert "not valid JSON" in caplog.text
    path.write_text("[1, 2]")
    assert read_status(path) is None


def test_remove_status_only_for_its_pid(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    write_status({"pid": 12}, path)
    assert remove_status(path, pid=13) is False
    assert path.exists()
    assert remove_status(path, pid=12) is True
    assert not path.exists()
    assert remove_status(path) is False
