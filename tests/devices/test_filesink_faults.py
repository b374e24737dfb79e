"""The recording under faults found by hostile testing: a disk that is full before the first byte,
and a recording file (or its folder) deleted while it is being written."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from vcamstyle.devices.filesink import FileSink
from vcamstyle.errors import SinkError

FULL_BEFORE_HEADER = textwrap.dedent("""\
    import resource, signal, sys
    import numpy as np
    from vcamstyle.devices.filesink import FileSink
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))  # as a full disk: no byte fits
    sink = FileSink(sys.argv[1], 64, 48, 30)
    try:
        for i in range(60):
            sink.send(np.full((48, 64, 3), i, np.uint8))
    except Exception as exc:
        print("send:", type(exc).__name__, exc, flush=True)
    try:
        sink.close()
    except Exception as exc:
        print("close:", type(exc).__name__, exc, flush=True)
    print("survived", flush=True)
""")


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_disk_full_before_the_header_is_an_error_not_a_segfault(tmp_path: Path, suffix: str) -> None:
    """ENOSPC on the very first write (the container header), then close: the daemon's reopen loop
    does exactly this and died with SIGSEGV (rc 139) in ``VideoWriter.close`` muxing into a container
    whose header never got written."""
    done = subprocess.run([sys.executable, "-X", "faulthandler", "-c", FULL_BEFORE_HEADER,
                           str(tmp_path / f"rec{suffix}")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"rc {done.returncode}: {done.stdout}{done.stderr[-1500:]}"
    assert "survived" in done.stdout
    assert "Traceback" not in done.stderr


def test_a_recording_whose_file_was_deleted_is_not_reported_as_recorded(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The folder (or file) removed mid-recording: every later frame goes to an unlinked inode and is
    lost at close; the log must not claim "recorded N frame(s) to <path>" for a path that is gone,
    and must say the file was removed (a warning or an error naming it)."""
    folder = tmp_path / "videos"
    folder.mkdir()
    path = folder / "rec.mp4"
    sink = FileSink(path, 64, 48, 30)
    for i in range(10):
        sink.send(np.full((48, 64, 3), i * 20, np.uint8))
    path.unlink()
    folder.rmdir()
    for i in range(10):
        try:
            sink.send(np.full((48, 64, 3), i * 20, np.uint8))
        except SinkError:
            break
    with caplog.at_level(logging.INFO, logger="vcamstyle"):
        try:
            sink.close()
        except SinkError as exc:
            logging.getLogger("vcamstyle.test").error("%s", exc)
    assert not path.exists()
    claims = [r.getMessage() for r in caplog.records if "recorded" in r.getMessage() and str(path) in r.getMessage()
              and r.levelno < logging.WARNING]
    assert not claims, f"claims a recording that no longer exists: {claims}"
    assert any(str(path) in r.getMessage() and r.levelno >= logging.WARNING for r in caplog.records)


def test_a_recording_that_could_not_write_a_byte_leaves_no_empty_file(tmp_path: Path) -> None:
    """With the disk full the daemon reopens the output every second; each try took the next free
    name and left it behind empty (rec-1.mp4 ... rec-17.mp4 of 0 bytes after 17 s on a full tmpfs).
    A file the sink created itself and never wrote to is its own to remove."""
    done = subprocess.run([sys.executable, "-c", FULL_BEFORE_HEADER, str(tmp_path / "rec.mkv")],
                          capture_output=True, text=True, timeout=120)
    assert "survived" in done.stdout, done.stderr[-1500:]
    left = [(p.name, p.stat().st_size) for p in tmp_path.iterdir()]
    assert all(size > 0 for _, size in left), f"empty files left behind: {left}"


def test_a_deleted_recording_is_noticed_at_the_next_keyframe(tmp_path: Path) -> None:
    """The daemon reopens the output on a SinkError; so the deletion must surface as one, within a
    keyframe interval of wall time, and the reopened sink records at the same path again."""
    now = [0.0]
    path = tmp_path / "videos" / "rec.mkv"
    sink = FileSink(path, 64, 48, 30, clock=lambda: now[0])
    for _ in range(5):
        sink.send(np.zeros((48, 64, 3), np.uint8))
        now[0] += 0.125
    path.unlink()
    (tmp_path / "videos").rmdir()
    with pytest.raises(SinkError, match=r"rec\.mkv was deleted while it was written \(its 8 frame\(s\) are lost\)"):
        for _ in range(20):  # 2.5 s of frames: the next keyframe is at 1 s, after 8 frames
            sink.send(np.zeros((48, 64, 3), np.uint8))
            now[0] += 0.125
    sink.close()
    again = FileSink(path, 64, 48, 30)
    again.send(np.zeros((48, 64, 3), np.uint8))
    again.close()
    assert again.path == path and path.stat().st_size > 0
