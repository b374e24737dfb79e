"""The recording (``FileSink``): frames stamped with the wall clock (the file lasts as long as the
recording, at any rate), playable after SIGKILL, and no existing file or frame is ever overwritten."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from avfiles import contents
from vcamstyle.devices.filesink import FileSink

W, H, FPS = 64, 48, 30


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _frame(i: int) -> np.ndarray:
    frame = np.full((H, W, 3), (i * 13) % 256, np.uint8)
    frame[:8, :8] = (250, 20, 20)
    return frame


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".mov", ".avi"])
def test_frames_keep_the_wall_clock_whatever_the_rate(tmp_path: Path, suffix: str) -> None:
    """9.5 frames/s into a 30 fps output: the file lasts the 4 s it covered, not 40/30 s."""
    clock = FakeClock()
    sink = FileSink(tmp_path / f"rec{suffix}", W, H, FPS, clock=clock)
    gaps = [0.1, 0.1, 0.12, 0.08, 0.1] * 8  # 40 frames over 4 s
    for i, gap in enumerate(gaps):
        sink.send(_frame(i))
        clock.now += gap
    clock.now += 3.0  # a slow shutdown adds no frozen tail
    sink.close()
    found = contents(tmp_path / f"rec{suffix}")
    assert found.frames == 40
    covered = sum(gaps[:-1]) + sum(gaps[:-1]) / 39  # first to last frame, plus one mean interval
    assert found.video_seconds == pytest.approx(covered, rel=0.02)


def test_a_burst_keeps_every_frame_in_order(tmp_path: Path) -> None:
    clock = FakeClock()
    sink = FileSink(tmp_path / "rec.avi", W, H, FPS, clock=clock)
    for i in range(5):  # all at the same instant
        sink.send(_frame(i))
    clock.now += 1.0
    for i in range(5, 8):
        sink.send(_frame(i))
        clock.now += 1 / FPS
    sink.close()
    assert contents(tmp_path / "rec.avi").frames == 8


def test_an_existing_file_is_never_truncated(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    mine = tmp_path / "rec.mp4"
    mine.write_bytes(b"the user's video")
    (tmp_path / "rec-1.mp4").write_bytes(b"an earlier recording")
    with caplog.at_level(logging.WARNING, logger="vcamstyle.devices.filesink"):
        sink = FileSink(mine, W, H, FPS)
    sink.send(_frame(0))
    sink.close()
    assert mine.read_bytes() == b"the user's video"
    assert (tmp_path / "rec-1.mp4").read_bytes() == b"an earlier recording"
    assert sink.path == tmp_path / "rec-2.mp4" and contents(sink.path).frames == 1
    assert f"{mine} exists and is kept: recording to {sink.path}" in caplog.text
    assert str(sink.path) in sink.describe()


def test_png_frames_number_on_after_the_ones_there(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "frame_000000.png").write_bytes(b"an earlier frame")
    (folder / "frame_000004.png").write_bytes(b"another")
    with FileSink(folder, W, H, FPS) as sink:
        sink.send(_frame(0))
        sink.send(_frame(1))
    assert (folder / "frame_000000.png").read_bytes() == b"an earlier frame"
    assert sorted(p.name for p in folder.iterdir())[-2:] == ["frame_000005.png", "frame_000006.png"]


WRITER = textwrap.dedent("""\
    import sys, time
    import numpy as np
    from vcamstyle.devices.filesink import FileSink
    sink = FileSink(sys.argv[1], 64, 48, 30)
    for i in range(100000):
        frame = np.full((48, 64, 3), (i * 13) % 256, np.uint8)
        sink.send(frame)
        print(i + 1, flush=True)
        time.sleep(1 / 30)
""")


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".avi"])
def test_a_killed_recording_plays_up_to_its_last_second(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"rec{suffix}"
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    sent = 0
    deadline = time.monotonic() + 60
    while sent < 75 and time.monotonic() < deadline:  # about 2.5 s of frames
        line = process.stdout.readline()
        assert line, "the writer stopped"
        sent = int(line)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    sent = max(sent, *(int(line) for line in process.stdout.read().split() or ["0"]))
    found = contents(path)
    assert sent - 1.5 * FPS <= found.frames <= sent  # at most about a second (one fragment) lost
    assert found.video_seconds > 1.0


def test_odd_sizes_are_padded_to_even_for_4_2_0_video(tmp_path: Path) -> None:
    from vcamstyle.devices.videofile import VideoWriter, create_exclusive

    path = tmp_path / "odd.mkv"
    writer = VideoWriter(create_exclusive(path), path, 63, 47, 25)
    writer.write(np.full((47, 63, 3), 120, np.uint8), 0)
    writer.close()
    assert contents(path).size == (64, 48)
