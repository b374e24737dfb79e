"""PidFile: the daemon holds a lock on it; identity by lock and start time, never by command line.

Also: untrusted files (symlink, FIFO, huge, another user's) are never believed or blocked on; the
atomic writer used for status.json; status.json itself.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from vcamstyle.daemon import pidfile as pidfile_module
from vcamstyle.daemon.pidfile import PidFile, atomic_write_text, parse_record, process_exists, process_start_ticks
from vcamstyle.daemon.statusfile import read_status, remove_status, write_status
from vcamstyle.errors import ControlError

REPO_ROOT = Path(__file__).resolve().parents[2]

HOLDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from vcamstyle.daemon.pidfile import PidFile
    pidfile = PidFile(Path(sys.argv[1]))
    pidfile.create()
    print("locked", flush=True)
    sys.stdin.read()
""")


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process that created the pidfile and holds its lock (a stand-in for the daemon)."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "vcamstyle.pid")], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None and process.stdout.readline().strip() == "locked"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


@pytest.fixture
def unrelated_process() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not the daemon, with "vcamstyle" in its command line (``tail -f vcamstyle.log``)."""
    process = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()", "tail", "-f",
                                "/home/u/.local/state/vcamstyle/vcamstyle.log"], stdin=subprocess.PIPE)
    yield process
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=10)


@pytest.fixture
def fast_lock_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pidfile_module, "LOCK_RETRY_S", 0.05)


def test_create_records_pid_and_start_time_with_mode_0600_and_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "vcamstyle.pid"
    pidfile = PidFile(path)
    pidfile.create()
    try:
        record = parse_record(path.read_text())
        assert record is not None and record.pid == os.getpid()
        assert record.start_ticks == process_start_ticks(os.getpid()) is not None
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        other = PidFile(path)  # another reader, e.g. `vcamstyle status`
        assert other.lock_held() is True
        assert other.live_pid() == os.getpid()
    finally:
        assert pidfile.unlink() is True
    assert not path.exists()


def test_a_second_daemon_is_refused_while_the_lock_is_held(tmp_path: Path, holder, fast_lock_retry) -> None:
    with pytest.raises(ControlError, match=f"already running \\(pid {holder.pid}\\)"):
        PidFile(tmp_path / "vcamstyle.pid").create()
    assert PidFile(tmp_path / "vcamstyle.pid").live_pid() == holder.pid


def test_a_killed_daemon_leaves_a_stale_file_that_is_taken_over(tmp_path: Path, holder) -> None:
    path = tmp_path / "vcamstyle.pid"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    assert path.exists()
    assert PidFile(path).lock_held() is False
    assert PidFile(path).live_pid() is None
    assert PidFile(path).is_stale()
    ours = PidFile(path)
    ours.create()
    assert PidFile(path).live_pid() == os.getpid()
    ours.unlink()


def test_pid_reuse_by_an_unrelated_process_is_never_taken_for_the_daemon(tmp_path: Path, unrelated_process) -> None:
    """Issue 10, fault 8: the pidfile's pid now belongs to `tail -f .../vcamstyle.log`."""
    path = tmp_path / "vcamstyle.pid"
    start = process_start_ticks(unrelated_process.pid)
    path.write_text(f"{unrelated_process.pid} {start}\n")  # even its own start time: no lock, no daemon
    path.chmod(0o600)
    assert PidFile(path).live_pid() is None
    path.write_text(f"{unrelated_process.pid}\n")  # an old-style file without a start time
    assert PidFile(path).live_pid() is None


def test_a_held_lock_with_another_start_time_is_not_the_recorded_process(tmp_path: Path, unrelated_process) -> None:
    """The lock is held (by us here) but the recorded pid started at another time: pid reuse."""
    path = tmp_path / "vcamstyle.pid"
    ours = PidFile(path)
    ours.create()
    try:
        real = process_start_ticks(unrelated_process.pid)
        assert real is not None
        path.write_text(f"{unrelated_process.pid} {real + 12345}\n")  # rewrite the content, keep our lock
        assert PidFile(path).lock_held() is True
        assert PidFile(path).live_pid() is None
        path.write_text(f"{unrelated_process.pid} {real}\n")
        assert PidFile(path).live_pid() == unrelated_process.pid
    finally:
        ours.unlink()


@pytest.mark.parametrize("content", ["", "   \n", "abc\n", "0\n", "-5\n", "12 34 56\n", "1" * 300])
def test_unparsable_or_non_positive_content_counts_as_no_pid(tmp_path: Path, content: str) -> None:
    path = tmp_path / "vcamstyle.pid"
    path.write_text(content)
    assert PidFile(path).read() is None
    assert PidFile(path).live_pid() is None


def test_a_symlink_or_fifo_pidfile_is_not_trusted_and_never_blocks(tmp_path: Path, holder,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    link = tmp_path / "link.pid"
    link.symlink_to(tmp_path / "vcamstyle.pid")  # points at a live daemon's file: still not believed
    fifo = tmp_path / "fifo.pid"
    os.mkfifo(fifo)
    with caplog.at_level("WARNING", logger="vcamstyle.daemon.pidfile"):
        assert PidFile(link).live_pid() is None
        assert PidFile(fifo).read() is None  # O_NONBLOCK: returns at once
    assert "not trusting pidfile" in caplog.text
    with pytest.raises(ControlError, match="not a regular file"):
        PidFile(fifo).create()
    with pytest.raises(ControlError, match="refusing to use the pidfile: .* not a regular file"):
        PidFile(link).create()  # O_NOFOLLOW: a planted symlink is never followed


def test_a_pidfile_of_another_user_is_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "vcamstyle.pid"
    path.write_text(f"{os.getpid()}\n")
    monkeypatch.setattr(pidfile_module.os, "geteuid", lambda: os.getuid() + 1)
    assert PidFile(path).read() is None
    with pytest.raises(ControlError, match="belongs to uid"):
        PidFile(path).create()


def test_esrch_counts_as_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    def kill_missing(pid: int, sig: int) -> None:
        raise ProcessLookupError(3, "No such process")

    monkeypatch.setattr(pidfile_module.os, "kill", kill_missing)
    assert not process_exists(4242)


def test_eperm_counts_as_existing(monkeypatch: pytest.MonkeyPatch) -> None:
    def kill_denied(pid: int, sig: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(pidfile_module.os, "kill", kill_denied)
    monkeypatch.setattr(pidfile_module, "_is_zombie", lambda pid: False)
    assert process_exists(4242)


def test_zombie_counts_as_gone() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
        if not Path(f"/proc/{process.pid}/stat").exists():
            pytest.skip("no /proc here")
        assert not process_exists(process.pid)
    finally:
        process.wait(timeout=10)


def test_unlink_by_another_process_only_when_nobody_holds_the_lock(tmp_path: Path, holder) -> None:
    path = tmp_path / "vcamstyle.pid"
    assert PidFile(path).unlink(holder.pid) is False  # the daemon still holds it
    assert path.exists()
    assert holder.stdin is not None
    holder.stdin.close()  # the holder exits without removing its file, as after a crash
    holder.wait(timeout=10)
    assert PidFile(path).unlink(holder.pid + 1) is False  # records another pid
    assert PidFile(path).unlink(holder.pid) is True
    assert not path.exists()


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


def test_a_status_file_that_is_a_fifo_or_huge_is_not_read(tmp_path: Path) -> None:
    """`vcamstyle status` must not hang on a FIFO planted at status.json, nor read a runaway file."""
    fifo = tmp_path / "status.json"
    os.mkfifo(fifo)
    assert read_status(fifo) is None  # returns at once (non-blocking open, regular files only)
    huge = tmp_path / "huge.json"
    huge.write_text('{"pid": 1, "pad": "' + "x" * 100_000 + '"}')
    assert read_status(huge) is None


def test_ensure_puts_a_vanished_pidfile_back(tmp_path: Path) -> None:
    """The runtime directory cleaned under a running daemon: `status` and `stop` must still find it."""
    run = tmp_path / "run"
    pidfile = PidFile(run / "vcamstyle.pid")
    pidfile.create()
    try:
        assert pidfile.ensure() is False  # nothing to do
        (run / "vcamstyle.pid").unlink()
        run.rmdir()
        assert PidFile(run / "vcamstyle.pid").live_pid() is None
        assert pidfile.ensure() is True
        assert PidFile(run / "vcamstyle.pid").live_pid() == os.getpid()
    finally:
        pidfile.unlink()
