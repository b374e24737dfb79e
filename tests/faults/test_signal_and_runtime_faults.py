"""Issue 10's process-level faults against the real daemon: a stalled daemon must read "not
responding", a status file that cannot be written must not stop the video, and signal storms are
harmless (SIGTERM still stops it in the middle of one)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from harness import FaultDaemon

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def cli_status(daemon: FaultDaemon) -> tuple[int, dict]:
    result = subprocess.run([sys.executable, "-m", "vcamstyle", "status", "--json"], env=daemon.env,
                            capture_output=True, text=True, timeout=60)
    return result.returncode, json.loads(result.stdout.strip().splitlines()[-1])


def test_a_stalled_daemon_reads_not_responding(daemon: FaultDaemon) -> None:
    """Issue 10, fault 2: during a freeze `status` said "running" with the last fps and no error."""
    code, info = cli_status(daemon)
    assert (code, info["state"]) == (0, "streaming")
    assert daemon.process is not None
    os.kill(daemon.process.pid, signal.SIGSTOP)  # the frame loop stops publishing, the process exists
    try:
        time.sleep(6.0)  # longer than control.STALE_STATUS_S
        code, info = cli_status(daemon)
        assert code == 4
        assert info["state"] == "not responding" and info["ready"] is False
        assert info["last_state"] == "streaming" and info["status_age_s"] > 5
        assert "no status published" in info["last_error"]
    finally:
        os.kill(daemon.process.pid, signal.SIGCONT)
    daemon.wait_for(lambda: cli_status(daemon)[0] == 0, timeout=20, what="responding again")
    assert cli_status(daemon)[1]["state"] == "streaming"


def test_a_status_file_that_cannot_be_written_does_not_stop_the_video(daemon: FaultDaemon) -> None:
    """Issue 10, fault 10 (a full runtime directory made status writes raise in the frame loop):
    here the status path becomes a directory, so every write fails."""
    baseline = daemon.resources()
    daemon.status_path.unlink()
    daemon.status_path.mkdir()
    try:
        daemon.wait_for(lambda: "cannot write the status file" in daemon.log_text(), timeout=10,
                        what="the status write failure logged")
        time.sleep(1.0)
        assert daemon.alive()
    finally:
        daemon.status_path.rmdir()
    daemon.frames_flow()  # status.json is written again, and the frame counter went on meanwhile
    assert daemon.save_good() < 2.0
    daemon.settle_resources(baseline)


def test_a_removed_runtime_directory_is_made_again(daemon: FaultDaemon) -> None:
    """The runtime directory cleaned under the daemon (pidfile and status.json gone): `status` finds
    the daemon again once it has republished, and `stop` would still work."""
    import shutil

    shutil.rmtree(daemon.status_path.parent)
    daemon.wait_for(lambda: cli_status(daemon)[0] == 0, timeout=20, what="status finds the daemon again")
    assert (daemon.status_path.parent / "vcamstyle.pid").exists()


def test_a_sighup_storm_is_harmless(daemon: FaultDaemon) -> None:
    """Issue 10, fault 4: 100 SIGHUPs 10 ms apart deadlocked the daemon (3 runs in 4). SIGUSR1/2,
    whose default action ends a process, are ignored."""
    assert daemon.process is not None
    baseline = daemon.resources()
    for signum in (signal.SIGHUP, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        for _ in range(100):
            os.kill(daemon.process.pid, signum)
            time.sleep(0.01)
        daemon.frames_flow()
    assert daemon.alive()
    assert daemon.save_good() < 2.0
    daemon.settle_resources(baseline)


def test_sigterm_in_the_middle_of_a_sighup_storm_stops_the_daemon(daemon: FaultDaemon) -> None:
    assert daemon.process is not None
    pid = daemon.process.pid
    for i in range(200):
        os.kill(pid, signal.SIGHUP)
        if i == 100:
            os.kill(pid, signal.SIGTERM)
        time.sleep(0.002)
        if daemon.process.poll() is not None:
            break
    assert daemon.process.wait(timeout=15) == 0
    assert not daemon.status_path.exists()
