"""control.start/stop/reload/status/logs against a fake daemon (a tiny script that behaves like
``vcamstyle run``: pidfile, status.json, SIGTERM/SIGHUP), and the systemd path with systemctl faked."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from vcamstyle import paths
from vcamstyle.daemon import control
from vcamstyle.daemon.logfile import startup_failure
from vcamstyle.daemon.pidfile import PidFile, process_exists
from vcamstyle.daemon.statusfile import read_status, write_status
from vcamstyle.errors import ControlError

REPO_ROOT = Path(__file__).resolve().parents[2]

FAKE_DAEMON = textwrap.dedent(
    """
    import signal, sys, time
    from vcamstyle.daemon.pidfile import PidFile
    from vcamstyle.daemon.statusfile import remove_status, write_status

    mode = sys.argv[sys.argv.index("--mode") + 1]
    print(f"fake daemon starting, mode {mode}", flush=True)
    if mode == "fail":
        print("loading config.yaml", flush=True)
        print("error: cannot open camera /dev/video0", flush=True)
        sys.exit(3)
    events = []
    signal.signal(signal.SIGTERM, lambda signum, frame: events.append("term"))
    signal.signal(signal.SIGHUP, lambda signum, frame: events.append("hup"))
    if mode == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    pidfile = PidFile()
    pidfile.create()
    started_at = time.time()
    reloads = 0

    def report(state, ready):
        write_status({"pid": pidfile.read(), "state": state, "ready": ready, "started_at": started_at,
                      "uptime_s": time.time() - started_at, "fps": 30.0, "stage_ms": {"segment": 4.0},
                      "frames": 1, "config": sys.argv[sys.argv.index("--config") + 1], "person": "starry",
                      "background": "blur", "method": "fake", "segmentation": "fake", "last_error": None,
                      "reloads": reloads})

    if mode == "foreign-ready":  # a status file that is ready but not ours must not count
        write_status({"pid": 1, "state": "running", "ready": True})
        mode = "never-ready"
    else:
        report("starting", False)
    if mode != "never-ready":
        time.sleep(0.1)
        report("running", True)
    while True:
        while events:
            event = events.pop(0)
            print(f"got {event}", flush=True)
            if event == "hup":
                reloads += 1
                report("running", mode != "never-ready")
            else:
                report("stopping", False)
                if mode.startswith("slow-stop-"):  # a long shutdown (a recording being finalised)
                    time.sleep(float(mode.removeprefix("slow-stop-")))
                remove_status()
                pidfile.unlink()
                sys.exit(0)
        time.sleep(0.02)
    """
)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every path vcamstyle uses lives under tmp_path; systemd is never used unless a test says so."""
    for var, sub in (("XDG_RUNTIME_DIR", "run"), ("XDG_STATE_HOME", "state"), ("XDG_CONFIG_HOME", "config"),
                     ("HOME", "home")):
        (tmp_path / sub).mkdir()
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("VCAMSTYLE_NO_SYSTEMD", "1")
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    return tmp_path


@pytest.fixture
def fake_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Route control.start to the fake daemon; kill whatever a test left running."""
    script = tmp_path / "fake_vcamstyle.py"  # "vcamstyle" in its command line, like the real daemon
    script.write_text(FAKE_DAEMON)

    def command(config_path: Path, extra_args: Sequence[str] = ()) -> list[str]:
        return [sys.executable, str(script), "--config", str(config_path), *extra_args]

    monkeypatch.setattr(control, "daemon_command", command)
    yield tmp_path / "config.yaml"
    for pid, process in list(control._spawned.items()):
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        control._spawned.pop(pid, None)


def _start(config: Path, mode: str = "ok", timeout: float = 30.0) -> control.StartResult:
    return control.start(config, ["--mode", mode], timeout=timeout)


def _when_running(timeout: float = 30.0) -> dict | None:
    """control.status() once the child has taken its pidfile (on a loaded machine that can take
    longer than a short start timeout)."""
    deadline = time.monotonic() + timeout
    while (info := control.status()) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return info


def _log_text() -> str:
    return paths.log_path().read_text()


def test_daemon_command_runs_the_module_in_the_foreground(tmp_path: Path) -> None:
    command = control.daemon_command(tmp_path / "c.yaml", ["--verbose"])
    assert command == [sys.executable, "-m", "vcamstyle", "run", "--config", str(tmp_path / "c.yaml"), "--verbose"]


def test_start_reports_the_ready_pid_then_stop_terminates_it(fake_daemon: Path) -> None:
    result = _start(fake_daemon)
    assert result.via_systemd is False
    assert result.pid is not None and result.pid != os.getpid()
    assert result.status is not None and result.status["ready"] is True and result.status["pid"] == result.pid
    assert PidFile().read() == result.pid
    assert result.log_path == paths.log_path()
    assert stat.S_IMODE(paths.log_path().stat().st_mode) == 0o600
    assert os.getsid(result.pid) == result.pid  # detached: leader of its own session

    assert control.stop(timeout=10.0).outcome == "stopped"
    assert not process_exists(result.pid)
    assert "got term" in _log_text()
    assert not paths.pidfile_path().exists()
    assert control.status() is None


def test_status_while_running(fake_daemon: Path) -> None:
    result = _start(fake_daemon)
    info = control.status()
    assert info is not None
    assert info["pid"] == result.pid
    assert info["state"] == "running" and info["ready"] is True
    assert info["fps"] == 30.0 and info["stage_ms"] == {"segment": 4.0}
    assert info["config"] == str(fake_daemon.resolve())
    assert info["manager"] == "pidfile"
    assert isinstance(info["uptime_s"], float) and info["uptime_s"] >= 0.0
    assert info["status_age_s"] is not None
    control.stop()


def test_second_start_is_refused(fake_daemon: Path) -> None:
    first = _start(fake_daemon)
    with pytest.raises(ControlError, match=f"already running, pid {first.pid}"):
        _start(fake_daemon)
    assert PidFile().read() == first.pid
    control.stop()


def test_stale_pidfile_is_cleaned_before_start(fake_daemon: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=10)
    paths.pidfile_path().write_text(f"{gone.pid}\n")
    write_status({"pid": gone.pid, "ready": True})  # an old run's status must not count as ready
    result = _start(fake_daemon)
    assert result.pid != gone.pid
    assert PidFile().read() == result.pid
    control.stop()


def test_daemon_that_fails_reports_exit_code_and_log_lines(fake_daemon: Path) -> None:
    paths.log_path().write_text("an old line from an earlier run\n")
    with pytest.raises(ControlError, match="exited with code 3 during startup") as info:
        _start(fake_daemon, mode="fail")
    message = str(info.value)
    assert "error: cannot open camera /dev/video0" in message
    assert "loading config.yaml" in message
    assert "an old line from an earlier run" not in message
    assert str(paths.log_path()) in (info.value.hint or "")
    assert control.status() is None


def test_start_timeout_leaves_the_daemon_running(fake_daemon: Path) -> None:
    with pytest.raises(ControlError, match="has not reported ready after 0.5 s; it is still running"):
        _start(fake_daemon, mode="never-ready", timeout=0.5)
    info = _when_running()
    assert info is not None and info["ready"] is False and info["state"] == "starting"
    assert control.stop().outcome == "stopped"
    assert control.status() is None


def test_start_waits_for_the_status_of_its_own_child(fake_daemon: Path) -> None:
    with pytest.raises(ControlError, match="has not reported ready"):
        _start(fake_daemon, mode="foreign-ready", timeout=0.5)
    assert _when_running() is not None
    assert control.stop().outcome == "stopped"


def test_stop_kills_a_daemon_that_ignores_sigterm(fake_daemon: Path, caplog: pytest.LogCaptureFixture) -> None:
    result = _start(fake_daemon, mode="ignore-term")
    assert result.pid is not None
    with caplog.at_level("WARNING", logger="vcamstyle.daemon.control"):
        stopped = control.stop(timeout=0.3)
    assert (stopped.outcome, stopped.pid) == ("killed", result.pid)
    assert "killed (SIGKILL)" in stopped.describe() and "within 0.3 s" in stopped.describe()
    assert "sending SIGKILL" in caplog.text
    assert f"pid {result.pid} did not finish its shutdown within 0.3 s of SIGTERM; killed it" in _log_text()
    assert not process_exists(result.pid)
    assert not paths.pidfile_path().exists()  # the killed daemon could not remove it; stop did
    assert read_status() is None


def test_stop_when_not_running(fake_daemon: Path) -> None:
    assert control.stop().outcome == "not running"
    paths.pidfile_path().write_text("999999999\n")  # stale
    assert control.stop().outcome == "not running"
    assert not paths.pidfile_path().exists()


def test_reload_sends_sighup(fake_daemon: Path) -> None:
    result = _start(fake_daemon)
    assert control.reload() == result.pid
    deadline = time.monotonic() + 10.0
    while (read_status() or {}).get("reloads") != 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (read_status() or {}).get("reloads") == 1
    assert "got hup" in _log_text()
    control.stop()


def test_reload_when_not_running_raises() -> None:
    with pytest.raises(ControlError, match="not running") as info:
        control.reload()
    assert "vcamstyle start" in (info.value.hint or "")


def test_status_is_none_when_not_running() -> None:
    assert control.status() is None
    write_status({"pid": 999999999, "ready": True, "state": "running"})  # left over by a crash
    assert control.status() is None


def test_logs_tail_and_follow() -> None:
    log = paths.log_path()
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert list(control.logs(lines=3)) == ["line 97", "line 98", "line 99"]
    assert list(control.logs(lines=0)) == []
    assert len(list(control.logs(lines=500))) == 100

    stop_event = threading.Event()
    following = threading.Event()
    received: list[str] = []

    def collect() -> None:
        for line in control.logs(lines=1, follow=True, stop_event=stop_event, poll_interval=0.01):
            received.append(line)
            following.set()  # the tail is out: what is written from now on must be followed
            if len(received) == 3:
                stop_event.set()

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    try:
        assert following.wait(timeout=10)
        with open(log, "a") as handle:
            handle.write("new a\nnew ")
            handle.flush()
            time.sleep(0.05)
            handle.write("b\n")
        reader.join(timeout=10)
    finally:
        stop_event.set()
    assert not reader.is_alive()
    assert received == ["line 99", "new a", "new b"]


def test_logs_without_a_log_file() -> None:
    with pytest.raises(ControlError, match="no log file"):
        list(control.logs())


def test_systemd_detection(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def no_systemctl(args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        calls.append(list(args))
        return subprocess.CompletedProcess(list(args), 1, "", "Failed to connect to bus")

    monkeypatch.setattr(control, "run_command", no_systemctl)
    assert control.systemd_unit_installed() is False  # VCAMSTYLE_NO_SYSTEMD=1: not even asked
    assert calls == []
    monkeypatch.delenv("VCAMSTYLE_NO_SYSTEMD")
    assert control.systemd_unit_installed() is False
    assert calls == [["systemctl", "--user", "cat", "vcamstyle.service"]]
    unit = isolated_home / "config" / "systemd" / "user" / "vcamstyle.service"
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\n")
    assert control.user_unit_path() == unit
    assert control.systemd_unit_installed() is True


class FakeSystemctl:
    """Stands in for systemctl/journalctl: records calls, keeps an ActiveState."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.state = "inactive"

    def __call__(self, args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        args = list(args)
        self.calls.append(args)
        if args[:3] == ["systemctl", "--user", "show"]:
            pid = 4321 if self.state == "active" else 0
            return subprocess.CompletedProcess(args, 0, f"ActiveState={self.state}\nMainPID={pid}\n", "")
        if args[:3] == ["systemctl", "--user", "start"]:
            self.state = "active"
        elif args[:3] == ["systemctl", "--user", "stop"]:
            self.state = "inactive"
        return subprocess.CompletedProcess(args, 0, "", "")


def test_systemd_path_uses_systemctl(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeSystemctl()
    monkeypatch.setattr(control, "run_command", fake)
    result = control.start(paths.default_config_path(), use_systemd=True)
    assert result.via_systemd is True and result.pid == 4321 and result.log_path is None
    assert ["systemctl", "--user", "start", "vcamstyle.service"] in fake.calls
    info = control.status(use_systemd=True)
    assert info is not None and info["pid"] == 4321 and info["manager"] == "systemd"
    with pytest.raises(ControlError, match="already running under systemd"):
        control.start(paths.default_config_path(), use_systemd=True)
    assert control.reload(use_systemd=True) == 4321
    assert ["systemctl", "--user", "reload", "vcamstyle.service"] in fake.calls
    assert control.stop(use_systemd=True).outcome == "stopped"
    assert ["systemctl", "--user", "stop", "vcamstyle.service"] in fake.calls
    assert control.stop(use_systemd=True).outcome == "not running"


def test_systemd_start_refuses_arguments_it_cannot_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeSystemctl()
    monkeypatch.setattr(control, "run_command", fake)
    with pytest.raises(ControlError, match="cannot be passed through systemctl"):
        control.start(tmp_path / "other.yaml", use_systemd=True)
    with pytest.raises(ControlError, match="cannot be passed through systemctl"):
        control.start(paths.default_config_path(), ["--verbose"], use_systemd=True)
    assert fake.state == "inactive"


def test_systemd_start_failure_shows_the_journal(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        args = list(args)
        if args[:3] == ["systemctl", "--user", "show"]:
            return subprocess.CompletedProcess(args, 0, "ActiveState=failed\nMainPID=0\n", "")
        if args[0] == "journalctl":
            return subprocess.CompletedProcess(args, 0, "WeightsError: missing decoder.pth\n", "")
        return subprocess.CompletedProcess(args, 1, "", "Job for vcamstyle.service failed.")

    monkeypatch.setattr(control, "run_command", failing)
    with pytest.raises(ControlError, match="Job for vcamstyle.service failed") as info:
        control.start(paths.default_config_path(), use_systemd=True)
    assert "WeightsError: missing decoder.pth" in str(info.value)
    assert "journalctl --user -u vcamstyle.service" in (info.value.hint or "")


def test_sigterm_is_what_stop_sends_first(fake_daemon: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _start(fake_daemon)
    sent: list[tuple[int, int]] = []
    real_kill = os.kill

    def recording_kill(pid: int, sig: int) -> None:
        sent.append((pid, sig))
        real_kill(pid, sig)

    monkeypatch.setattr(control.os, "kill", recording_kill)
    assert control.stop(timeout=10.0).outcome == "stopped"
    assert [item for item in sent if item[1] != 0] == [(result.pid, signal.SIGTERM)]  # 0 = liveness probe


def test_status_falls_back_to_the_pidfile_without_a_user_manager(
    fake_daemon: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _start(fake_daemon)

    def no_bus(args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(list(args), 1, "", "Failed to connect to bus: No medium found")

    monkeypatch.setattr(control, "run_command", no_bus)
    info = control.status(use_systemd=True)
    assert info is not None and info["pid"] == result.pid and info["manager"] == "pidfile"
    control.stop(use_systemd=False)


# ---------------------------------------------------------------- issue 10


def test_stop_never_signals_a_process_that_reused_the_pid(tmp_path: Path) -> None:
    """Fault 8: the pidfile's pid now belongs to `tail -f ~/.local/state/vcamstyle/vcamstyle.log`."""
    tail = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()", "tail", "-f",
                             str(paths.log_path())], stdin=subprocess.PIPE)
    try:
        pidfile = paths.pidfile_path()
        pidfile.write_text(f"{tail.pid}\n")
        pidfile.chmod(0o600)
        assert control.status() is None
        assert control.stop(timeout=1.0).outcome == "not running"
        with pytest.raises(ControlError, match="not running"):
            control.reload()
        time.sleep(0.2)
        assert tail.poll() is None  # still alive: never signalled
        assert not pidfile.exists()  # the stale file is cleaned up
    finally:
        assert tail.stdin is not None
        tail.stdin.close()
        tail.wait(timeout=10)


def test_a_daemon_whose_status_is_old_reads_not_responding() -> None:
    fresh = {"state": "streaming", "ready": True, "status_age_s": 0.4, "last_error": None}
    assert control.mark_not_responding(dict(fresh))["state"] == "streaming"
    stale = control.mark_not_responding(dict(fresh, status_age_s=12.0))
    assert stale["state"] == control.NOT_RESPONDING and stale["ready"] is False
    assert stale["last_state"] == "streaming" and "no status published for 12 s" in stale["last_error"]
    camera = control.mark_not_responding(dict(fresh, status_age_s=12.0, last_error="camera: unplugged"))
    assert camera["last_error"] == "camera: unplugged"  # the real reason is kept
    starting = {"state": "starting", "ready": False, "status_age_s": 20.0}
    assert control.mark_not_responding(dict(starting))["state"] == "starting"  # loading models publishes nothing


def test_a_startup_failure_leads_with_the_daemons_own_message(tmp_path: Path) -> None:
    tail = ["2026-01-01 INFO vcamstyle.daemon.service: loading",
            "vcamstyle: no v4l2loopback device: the virtual camera needs the v4l2loopback kernel module",
            "  fix: install it (`sudo apt install v4l2loopback-dkms`), then `sudo modprobe v4l2loopback`"]
    error = startup_failure(1, tail, tmp_path / "vcamstyle.log")
    assert error.message.startswith("vcamstyle exited with code 1 during startup: no v4l2loopback device")
    assert error.hint.startswith("install it (`sudo apt install v4l2loopback-dkms`)")
    assert "fix the error above" not in str(error)
    silent = startup_failure(-9, [], tmp_path / "vcamstyle.log")
    assert "was killed by SIGKILL during startup without writing to its log" in silent.message


def test_a_log_path_that_is_a_fifo_never_blocks() -> None:
    log = paths.log_path()
    os.mkfifo(log)
    with pytest.raises(ControlError, match="cannot read the log"):
        list(control.logs(lines=5))
    assert control.read_log_tail(log, 5) == []
    with pytest.raises(ControlError, match="cannot open the log file"):
        control.start(Path("config.yaml"), timeout=1.0)


# ---------------------------------------------------------------- issue 26


@pytest.mark.parametrize("shutdown_s, timeout, outcome", [(1.0, 10.0, "stopped"), (30.0, 1.0, "killed")])
def test_two_simultaneous_stops_tell_the_same_truth_after_the_same_end(
    fake_daemon: Path, shutdown_s: float, timeout: float, outcome: str
) -> None:
    """Issue 26: of two simultaneous `stop`s one said "was not running" while the other was still stopping
    the daemon (and both said "stopped" where it had been killed)."""
    started = _start(fake_daemon, mode=f"slow-stop-{shutdown_s}")
    results: list[control.StopResult] = []
    ended: list[bool] = []

    def stop() -> None:
        results.append(control.stop(timeout=timeout))
        ended.append(process_exists(started.pid))

    threads = [threading.Thread(target=stop) for _ in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.1)  # the second one starts while the first is stopping the daemon
    for thread in threads:
        thread.join(timeout=60)
    assert [(r.outcome, r.pid) for r in results] == [(outcome, started.pid)] * 2
    assert sorted(r.joined for r in results) == [False, True]
    assert ended == [False, False]  # each returned only after the daemon was gone
    assert all(outcome.replace("stopped", "stopped (pid") in r.describe() for r in results)
    assert control.stop().outcome == "not running"  # a later stop is not told an old story


def test_a_stop_that_finds_the_daemon_stopping_waits_for_its_end(fake_daemon: Path) -> None:
    """A SIGTERM from elsewhere (systemd, kill) began the shutdown: `stop` waits for it, says stopped."""
    started = _start(fake_daemon, mode="slow-stop-1.0")
    os.kill(started.pid, signal.SIGTERM)
    time.sleep(0.2)
    result = control.stop(timeout=10.0)
    assert (result.outcome, result.pid) == ("stopped", started.pid)
    assert not process_exists(started.pid)
