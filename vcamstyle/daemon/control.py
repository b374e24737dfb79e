"""start / stop / reload / status / logs for the daemon: the thin controls behind the CLI.

Two managers:

- **systemd** (the user unit ``vcamstyle.service`` is installed): ``systemctl --user`` does the work
  and the journal holds the log. ``VCAMSTYLE_NO_SYSTEMD=1`` disables this path; every function also
  takes ``use_systemd`` (None = detect) so callers and tests can choose.
- **pidfile** (no unit): ``start`` spawns ``python -m vcamstyle run`` detached (new session, stdin
  from /dev/null, stdout and stderr appended to ``paths.log_path()``) and waits for status.json to
  report ``ready`` with the child's pid. The daemon itself writes the pidfile and status.json
  (see ``vcamstyle.daemon.pidfile`` and ``vcamstyle.daemon.statusfile``), in both modes.

Functions raise ``ControlError`` (with a hint) and never exit or print.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vcamstyle import paths
from vcamstyle.daemon.logfile import follow_log_lines, read_log_tail, startup_failure
from vcamstyle.daemon.pidfile import PidFile, process_exists, process_uptime
from vcamstyle.daemon.safefile import open_regular
from vcamstyle.daemon.statusfile import NOT_RESPONDING  # noqa: F401  (the CLI reads control.NOT_RESPONDING)
from vcamstyle.daemon.statusfile import mark_not_responding, read_status, remove_status
from vcamstyle.daemon.stopping import KILL_WAIT_S, KILLED, NOT_RUNNING, STOP_TIMEOUT_S, STOPPED, StopResult
from vcamstyle.daemon.stopping import note_kill_in_log, serialised
from vcamstyle.errors import ControlError

logger = logging.getLogger(__name__)

UNIT_NAME = "vcamstyle.service"
NO_SYSTEMD_ENV = "VCAMSTYLE_NO_SYSTEMD"
#: systemd ActiveState values that mean "a daemon process exists".
RUNNING_STATES = frozenset({"active", "activating", "reloading", "deactivating"})
LOG_TAIL_LINES = 10
POLL_S = 0.05
SYSTEMCTL_QUERY_TIMEOUT_S = 10.0

#: Daemons this process spawned, so waiting on them reaps them (no zombies, no ResourceWarning).
_spawned: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class StartResult:
    """What ``start`` did: the daemon's pid, who manages it, where its log goes."""

    pid: int | None
    via_systemd: bool
    log_path: Path | None  # None under systemd: the log is in the journal
    status: dict[str, Any] | None


# ---------------------------------------------------------------- commands and detection


def daemon_command(config_path: Path, extra_args: Sequence[str] = ()) -> list[str]:
    """The foreground daemon's command line (tests replace this with a fake daemon)."""
    return [sys.executable, "-m", "vcamstyle", "run", "--config", str(config_path), *extra_args]


def run_command(args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``args`` capturing text output; FileNotFoundError / TimeoutExpired propagate."""
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=False)


def user_unit_path() -> Path:
    """Where a user installs the unit: ``$XDG_CONFIG_HOME/systemd/user/vcamstyle.service``."""
    config = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(config) if config and os.path.isabs(config) else Path.home() / ".config"
    return base / "systemd" / "user" / UNIT_NAME


def systemd_disabled_by_env() -> bool:
    return os.environ.get(NO_SYSTEMD_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def systemd_unit_installed() -> bool:
    """True if the user unit exists (file in the user unit dir, or ``systemctl --user cat`` finds it)."""
    if systemd_disabled_by_env():
        return False
    if user_unit_path().is_file():
        return True
    try:
        result = run_command(["systemctl", "--user", "cat", UNIT_NAME], timeout=SYSTEMCTL_QUERY_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.debug("systemctl --user cat %s failed: %s", UNIT_NAME, exc)
        return False
    return result.returncode == 0


def _use_systemd(use_systemd: bool | None) -> bool:
    return systemd_unit_installed() if use_systemd is None else use_systemd


_NO_SYSTEMD_HINT = f"check `systemctl --user status {UNIT_NAME}`, or set {NO_SYSTEMD_ENV}=1 to run without systemd"


def _systemctl(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    command = ["systemctl", "--user", *args]
    try:
        return run_command(command, timeout=timeout)
    except FileNotFoundError as exc:
        raise ControlError("systemctl is not installed", hint=f"set {NO_SYSTEMD_ENV}=1") from exc
    except subprocess.TimeoutExpired as exc:
        raise ControlError(f"`{shlex.join(command)}` did not finish within {timeout:g} s",
                           hint=_NO_SYSTEMD_HINT) from exc


def _unit_props(*names: str) -> dict[str, str]:
    """Properties of the user unit (``ActiveState``, ``MainPID``, ``Result`` after a stop: ``success``,
    ``timeout``, ...)."""
    result = _systemctl("show", *(f"--property={name}" for name in names), UNIT_NAME,
                        timeout=SYSTEMCTL_QUERY_TIMEOUT_S)
    if result.returncode != 0:
        raise ControlError(f"systemctl --user show {UNIT_NAME} failed: {result.stderr.strip()}", hint=_NO_SYSTEMD_HINT)
    return {key: value.strip() for key, value in (line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)}


def _unit_state() -> tuple[str, int | None]:
    """(ActiveState, MainPID or None) of the user unit."""
    props = _unit_props("ActiveState", "MainPID")
    pid_text = props.get("MainPID", "0")
    pid = int(pid_text) if pid_text.isdigit() and int(pid_text) > 0 else None
    return props.get("ActiveState", ""), pid


def _check_systemctl(result: subprocess.CompletedProcess[str], action: str) -> None:
    if result.returncode == 0:
        return
    journal = "\n".join(f"  {line}" for line in _journal_tail(LOG_TAIL_LINES))
    raise ControlError(
        f"systemctl --user {action} {UNIT_NAME} failed: {result.stderr.strip() or f'exit code {result.returncode}'}"
        + (f"\nlast journal lines:\n{journal}" if journal else ""),
        hint=f"see `journalctl --user -u {UNIT_NAME} -n 50`; {_NO_SYSTEMD_HINT}",
    )


def _journal_tail(lines: int) -> list[str]:
    try:
        result = run_command(["journalctl", "--user", "-u", UNIT_NAME, "-n", str(lines), "--no-pager", "-o", "cat"],
                             timeout=SYSTEMCTL_QUERY_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.debug("journalctl failed: %s", exc)
        return []
    return result.stdout.splitlines()[-lines:] if result.returncode == 0 else []


# ---------------------------------------------------------------- process helpers


def _is_gone(pid: int) -> bool:
    child = _spawned.get(pid)
    if child is not None:
        if child.poll() is None:
            return False
        del _spawned[pid]
        return True
    return not process_exists(pid)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not _is_gone(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True


def _send_signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        logger.debug("pid %d was already gone before %s", pid, sig.name)
    except PermissionError as exc:
        raise ControlError(f"not allowed to send {sig.name} to pid {pid}",
                           hint="that process belongs to another user; stop it as that user") from exc


# ---------------------------------------------------------------- start


def start(
    config_path: Path, extra_args: Sequence[str] = (), timeout: float = 30.0, *, use_systemd: bool | None = None
) -> StartResult:
    """Start the daemon and wait until it reports ready.

    Raises:
        ControlError: already running; the daemon exited during startup (its exit code and last log
            lines are in the message); or it did not report ready within ``timeout`` (it is left running).
    """
    if _use_systemd(use_systemd):
        return _start_systemd(config_path, extra_args, timeout)
    return _start_detached(config_path, extra_args, timeout)


def _start_systemd(config_path: Path, extra_args: Sequence[str], timeout: float) -> StartResult:
    state, pid = _unit_state()
    if state in RUNNING_STATES:
        raise ControlError(f"vcamstyle is already running under systemd ({state}, pid {pid})",
                           hint="`vcamstyle reload` applies config changes; `vcamstyle stop` stops it")
    if extra_args or Path(config_path).expanduser().resolve() != paths.default_config_path().resolve():
        raise ControlError(
            "the systemd unit runs `vcamstyle run` with the arguments in its ExecStart line; "
            "--config and extra arguments cannot be passed through systemctl",
            hint=f"`vcamstyle service install --config FILE` points the unit at that file; or set {NO_SYSTEMD_ENV}=1",
        )
    try:
        result = run_command(["systemctl", "--user", "start", UNIT_NAME], timeout=timeout)
    except FileNotFoundError as exc:
        raise ControlError("systemctl is not installed", hint=f"set {NO_SYSTEMD_ENV}=1") from exc
    except subprocess.TimeoutExpired as exc:
        raise ControlError(f"vcamstyle did not report ready within {timeout:g} s; systemd is still starting it",
                           hint="`vcamstyle logs` shows what it is doing; `vcamstyle stop` stops it") from exc
    _check_systemctl(result, "start")
    _, pid = _unit_state()
    return StartResult(pid=pid, via_systemd=True, log_path=None, status=read_status())


def _open_log(path: Path) -> int:
    """The detached daemon's log for appending: a regular file of ours, created 0600 (never a FIFO that
    would block ``start``, never a planted symlink)."""
    fd = open_regular(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    assert fd is not None  # O_CREAT
    os.set_blocking(fd, True)
    os.fchmod(fd, 0o600)
    return fd


def _start_detached(config_path: Path, extra_args: Sequence[str], timeout: float) -> StartResult:
    pidfile = PidFile(paths.pidfile_path())
    running = pidfile.live_pid()
    if running is not None:
        raise ControlError(f"vcamstyle is already running, pid {running}",
                           hint="`vcamstyle reload` applies config changes; `vcamstyle stop` stops it")
    if os.path.lexists(pidfile.path):
        logger.info("removing stale pidfile %s (pid %s)", pidfile.path, pidfile.read())
        pidfile.remove()
    remove_status()  # no live daemon: whatever status.json says is stale

    command = daemon_command(Path(os.path.abspath(Path(config_path).expanduser())), extra_args)
    log_path = paths.log_path()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("NOTIFY_SOCKET", None)  # a detached daemon must not answer for a unit it is not
    try:
        log_fd = _open_log(log_path)
    except OSError as exc:
        raise ControlError(f"cannot open the log file {log_path}: {exc}",
                           hint="check the permissions of its directory") from exc
    try:
        os.write(log_fd, f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} vcamstyle start: {shlex.join(command)}\n".encode())
        log_start = os.lseek(log_fd, 0, os.SEEK_END)
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_fd, stderr=subprocess.STDOUT,
                                   start_new_session=True, close_fds=True, env=env)
    except OSError as exc:
        raise ControlError(f"cannot start `{shlex.join(command)}`: {exc}",
                           hint="is vcamstyle installed for this Python?") from exc
    finally:
        os.close(log_fd)
    _spawned[process.pid] = process
    logger.debug("spawned pid %d: %s", process.pid, shlex.join(command))
    return _wait_until_ready(process, log_path, log_start, timeout)


def _wait_until_ready(process: subprocess.Popen[bytes], log_path: Path, log_start: int, timeout: float) -> StartResult:
    deadline = time.monotonic() + timeout
    while True:
        returncode = process.poll()
        if returncode is not None:
            _spawned.pop(process.pid, None)
            raise startup_failure(returncode, read_log_tail(log_path, LOG_TAIL_LINES, log_start), log_path)
        data = read_status()
        if data is not None and data.get("pid") == process.pid and data.get("ready") is True:
            return StartResult(pid=process.pid, via_systemd=False, log_path=log_path, status=data)
        if time.monotonic() >= deadline:
            raise ControlError(
                f"vcamstyle (pid {process.pid}) has not reported ready after {timeout:g} s; it is still running",
                hint=f"`vcamstyle logs` (or {log_path}) shows what it is doing; `vcamstyle stop` stops it",
            )
        time.sleep(POLL_S)


# ---------------------------------------------------------------- stop / reload / status


def stop(timeout: float = STOP_TIMEOUT_S, *, use_systemd: bool | None = None) -> StopResult:
    """Stop the daemon: SIGTERM, up to ``timeout`` s for its orderly shutdown, then SIGKILL (said in the
    result, a warning and the daemon's log). Concurrent stops agree (``stopping.serialised``). Raises:
        ControlError: systemctl failed, the process belongs to another user, or it survived SIGKILL.
    """
    return serialised(lambda: _stop_now(timeout, use_systemd), timeout)


def _stop_now(timeout: float, use_systemd: bool | None) -> StopResult:
    began = time.monotonic()
    if _use_systemd(use_systemd):
        state, pid = _unit_state()
        if state in RUNNING_STATES:
            _check_systemctl(_systemctl("stop", UNIT_NAME, timeout=timeout + 30.0), "stop")
            killed = _unit_props("Result").get("Result") == "timeout"  # systemd's own SIGKILL after TimeoutStopSec
            return StopResult(KILLED if killed else STOPPED, pid, timeout, time.monotonic() - began, True)
        # The unit is idle; a daemon started with VCAMSTYLE_NO_SYSTEMD=1 may still run on a pidfile.
    pidfile = PidFile(paths.pidfile_path())
    pid = pidfile.live_pid()
    if pid is None:
        if os.path.lexists(pidfile.path):
            logger.info("removing stale pidfile %s (pid %s)", pidfile.path, pidfile.read())
            pidfile.remove()
            remove_status()
        return StopResult(NOT_RUNNING, timeout_s=timeout)
    _send_signal(pid, signal.SIGTERM)
    outcome = STOPPED
    if not _wait_gone(pid, timeout):
        outcome = KILLED
        logger.warning("vcamstyle (pid %d) did not finish its shutdown within %g s of SIGTERM; sending SIGKILL",
                       pid, timeout)
        _send_signal(pid, signal.SIGKILL)
        if not _wait_gone(pid, KILL_WAIT_S):
            raise ControlError(f"vcamstyle (pid {pid}) survived SIGKILL",
                               hint="it is stuck in the kernel (camera or loopback driver); "
                                    f"see `ps -o stat,wchan -p {pid}`")
        note_kill_in_log(pid, timeout)
    if pidfile.unlink(pid):
        logger.debug("removed the pidfile left by pid %d", pid)
    remove_status(pid=pid)
    return StopResult(outcome, pid, timeout, time.monotonic() - began)


def reload(*, use_systemd: bool | None = None) -> int | None:
    """Ask the daemon to re-read its config (SIGHUP, or ``systemctl --user reload``). Returns its pid.

    Raises:
        ControlError: not running, or the reload could not be delivered.
    """
    if _use_systemd(use_systemd):
        state, pid = _unit_state()
        if state in RUNNING_STATES:
            _check_systemctl(_systemctl("reload", UNIT_NAME, timeout=SYSTEMCTL_QUERY_TIMEOUT_S + 30.0), "reload")
            return pid
    pid = PidFile(paths.pidfile_path()).live_pid()
    if pid is None:
        raise ControlError("vcamstyle is not running", hint="start it with `vcamstyle start`")
    _send_signal(pid, signal.SIGHUP)
    return pid


def status(*, use_systemd: bool | None = None) -> dict[str, Any] | None:
    """status.json of the running daemon plus ``pid``, a fresh ``uptime_s``, ``status_age_s`` and
    ``manager`` ("systemd" | "pidfile"); None when no daemon is running.

    When the daemon has not written status.json yet (or it belongs to an earlier run), the result
    holds only ``pid``, ``state="starting"``, ``ready=False`` and the keys above.
    """
    pid = PidFile(paths.pidfile_path()).live_pid()
    manager = "pidfile"
    if _use_systemd(use_systemd):
        try:
            state, unit_pid = _unit_state()
        except ControlError as exc:  # no user manager (e.g. an ssh session): the pidfile still tells
            logger.debug("cannot ask systemd about %s: %s", UNIT_NAME, exc)
            state, unit_pid = "unknown", None
        if state in RUNNING_STATES and unit_pid is not None and (pid is None or pid == unit_pid):
            pid, manager = unit_pid, "systemd"
    if pid is None:
        return None
    status_file = paths.status_path()
    data = read_status(status_file)
    fresh = data is not None and data.get("pid") == pid
    result: dict[str, Any] = dict(data) if fresh and data is not None else {"state": "starting", "ready": False}
    result["pid"] = pid
    result["manager"] = manager
    started_at = result.get("started_at")
    if isinstance(started_at, (int, float)) and not isinstance(started_at, bool):
        result["uptime_s"] = max(0.0, time.time() - started_at)
    else:
        uptime = process_uptime(pid)
        result["uptime_s"] = uptime if uptime is not None else result.get("uptime_s")
    try:
        result["status_age_s"] = max(0.0, time.time() - status_file.stat().st_mtime) if fresh else None
    except FileNotFoundError:
        result["status_age_s"] = None
    return mark_not_responding(result)


# ---------------------------------------------------------------- logs


def logs(
    lines: int = 50,
    follow: bool = False,
    *,
    use_systemd: bool | None = None,
    stop_event: threading.Event | None = None,
    poll_interval: float = 0.25,
) -> Iterator[str]:
    """Yield the last ``lines`` log lines (without newlines); with ``follow``, keep yielding new ones
    until ``stop_event`` is set (or the caller stops iterating / presses Ctrl-C).

    Under systemd the lines come from ``journalctl --user -u vcamstyle.service`` (``stop_event`` is
    checked between lines there); otherwise from ``paths.log_path()``.

    Raises:
        ControlError: journalctl is missing, or there is no log file yet.
    """
    if _use_systemd(use_systemd):
        yield from _journal_lines(lines, follow, stop_event)
    else:
        yield from follow_log_lines(paths.log_path(), lines, follow, stop_event, poll_interval)


def _journal_lines(lines: int, follow: bool, stop_event: threading.Event | None) -> Iterator[str]:
    command = ["journalctl", "--user", "-u", UNIT_NAME, "-n", str(lines), "--no-pager", *(["-f"] if follow else [])]
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    except FileNotFoundError as exc:
        raise ControlError("journalctl is not installed", hint=f"set {NO_SYSTEMD_ENV}=1 to use the log file") from exc
    assert process.stdout is not None  # stdout=PIPE
    try:
        for line in process.stdout:
            yield line.rstrip("\n")
            if stop_event is not None and stop_event.is_set():
                break
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait()
        process.stdout.close()


