"""The recording from a real daemon subprocess whose pipeline runs below the camera's 30 fps: the
file lasts as long as the wall time it covers (within 2 %), and it plays after SIGTERM and after
SIGKILL (up to about its last two seconds)."""

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


def _start_recording(daemon: Daemon, recording: Path, sends: Path | None = None) -> float:
    """Start the throttled daemon writing ``recording`` (logging each frame's send time to ``sends``);
    returns the wall time at which the test saw its first frame (up to about 0.6 s after it was sent:
    status.json is rewritten twice a second)."""
    daemon.config.write_text(daemon.config.read_text().replace(f"  path: {daemon.out}/\n", f"  path: {recording}\n"))
    env = {**daemon.env, "VCAMSTYLE_TEST_SENDS": str(sends)} if sends else daemon.env
    daemon.process = subprocess.Popen([sys.executable, str(SLOW_DAEMON), str(DELAY_S), "run", "--config",
                                       str(daemon.config)], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT)
    daemon.wait_for(lambda: (daemon.status() or {}).get("frames", 0) >= 1, timeout=120, what="the first frame")
    return time.monotonic()


def test_the_recording_keeps_wall_time_and_plays_after_sigterm(daemon: Daemon, tmp_path: Path) -> None:
    recording, sends_log = tmp_path / "rec.mp4", tmp_path / "sends.txt"
    seen = _start_recording(daemon, recording, sends_log)
    time.sleep(10.0)
    stopped = time.monotonic()
    assert daemon.stop(signal.SIGTERM) == 0
    log = daemon.output()
    found = contents(recording)
    written = int(re.search(r"recorded (\d+) frame\(s\) to " + re.escape(str(recording)), log).group(1))
    sends = [float(line) for line in sends_log.read_text().split()]
    assert found.frames == written == len(sends)  # every frame sent was written, and every one decodes
    assert sends[0] <= seen and sends[-1] >= stopped - 1.0  # the recording ran the whole time
    covered = sends[-1] - sends[0]
    assert (len(sends) - 1) / covered < 20  # the pipeline really ran below the camera's 30 fps
    # The file lasts the wall time from the first frame to the last, plus the last frame's own
    # showing time (one mean interval): not frames / 30 fps, which would be about 0.4 of it.
    assert found.video_seconds == pytest.approx(covered * len(sends) / (len(sends) - 1), rel=0.02)


def test_the_recording_plays_after_sigkill(daemon: Daemon, tmp_path: Path) -> None:
    """Killed without warning, the file still plays up to about its last two seconds: measured on the
    daemon's own send log (when each frame was handed to the sink), not the test's clock."""
    recording, sends_log = tmp_path / "rec.mkv", tmp_path / "sends.txt"
    _start_recording(daemon, recording, sends_log)
    time.sleep(6.0)
    daemon.stop(signal.SIGKILL)
    found = contents(recording)
    sends = [float(line) for line in sends_log.read_text().split()]
    assert len(sends) > 20
    kept = [t for t in sends if t <= sends[-1] - 2.0]  # everything but the last two seconds of sends
    assert len(kept) > 10
    assert found.frames >= len(kept)
    assert found.video_seconds >= kept[-1] - sends[0]
