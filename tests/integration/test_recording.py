"""The recording from a real daemon subprocess whose pipeline runs below the camera's 30 fps: the
file lasts as long as the wall time it covers (within 2 %), and it plays after SIGTERM and after
SIGKILL (up to about its last second)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from daemon_harness import Daemon

from avfiles import contents

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SLOW_DAEMON = Path(__file__).with_name("slow_daemon.py")
#: Extra seconds per pipeline call: about 12 frames/s or fewer, well below the camera's 30.
DELAY_S = 0.08


def _start_recording(daemon: Daemon, recording: Path) -> float:
    """Start the throttled daemon writing ``recording``; returns the wall time of its first frame."""
    daemon.config.write_text(daemon.config.read_text().replace(f"  path: {daemon.out}/\n", f"  path: {recording}\n"))
    daemon.process = subprocess.Popen([sys.executable, str(SLOW_DAEMON), str(DELAY_S), "run", "--config",
                                       str(daemon.config)], env=daemon.env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT)
    daemon.wait_for(lambda: (daemon.status() or {}).get("frames", 0) >= 1, timeout=120, what="the first frame")
    return time.monotonic()


def test_the_recording_keeps_wall_time_and_plays_after_sigterm(daemon: Daemon, tmp_path: Path) -> None:
    recording = tmp_path / "rec.mp4"
    first = _start_recording(daemon, recording)
    time.sleep(10.0)
    stopped = time.monotonic()
    assert daemon.stop(signal.SIGTERM) == 0
    log = daemon.output()
    found = contents(recording)
    written = int(re.search(r"recorded (\d+) frame\(s\) to " + re.escape(str(recording)), log).group(1))
    assert found.frames == written  # every frame decodes
    assert written / (stopped - first) < 20  # the pipeline really ran below the camera's 30 fps
    assert found.video_seconds / (stopped - first) == pytest.approx(1.0, abs=0.02)


def test_the_recording_plays_after_sigkill(daemon: Daemon, tmp_path: Path) -> None:
    recording = tmp_path / "rec.mkv"
    first = _start_recording(daemon, recording)
    time.sleep(6.0)
    sent = (daemon.status() or {}).get("frames", 0)
    killed = time.monotonic()
    daemon.stop(signal.SIGKILL)
    found = contents(recording)
    assert sent > 20
    assert found.frames >= sent - 2 * 15  # all but about the last second or two
    assert found.video_seconds >= (killed - first) - 2.5
