"""``vcamstyle service install | uninstall | status``: the systemd *user* unit that runs the daemon at login.

The unit's ``ExecStart`` is the absolute path of this installation's ``vcamstyle`` command (a venv's
``bin/``, pipx's ``~/.local/bin``, ``pip --user``'s ``~/.local/bin``), so no hand editing. ``start`` /
``stop`` / ``status`` use the unit once it is installed (``vcamstyle.daemon.control``).
"""

from __future__ import annotations

import os
import shlex
import sys
import sysconfig
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vcamstyle.commands.host import Host, Result
from vcamstyle.daemon import control
from vcamstyle.errors import SetupError

UNIT = control.UNIT_NAME
COMMAND = "vcamstyle"
#: The unit's settings besides ExecStart (``systemd/vcamstyle.service`` documents the same ones).
SERVICE_SETTINGS = (
    ("Type", "notify"), ("NotifyAccess", "main"), ("ExecReload", "/bin/kill -HUP $MAINPID"),
    ("Restart", "on-failure"), ("RestartSec", "3"), ("Environment", "PYTHONUNBUFFERED=1"),
    ("TimeoutStopSec", "10"), ("KillMode", "mixed"),
)


def _is_program(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def installed_command() -> list[str]:
    """This installation's command, absolute and unresolved (a pipx symlink stays the stable link).

    The running script first (``sys.argv[0]`` when it is ``vcamstyle``), then the script beside the
    interpreter (a venv, pipx's venv), then the scheme's and the user scheme's script directories; a
    source checkout without a script runs ``python -m vcamstyle``.
    """
    candidates = []
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == COMMAND:
        candidates.append(Path(os.path.abspath(argv0)))
    candidates.append(Path(os.path.abspath(sys.executable)).parent / COMMAND)
    for scheme in (None, f"{os.name}_user"):
        try:
            scripts = sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts")
        except KeyError:
            continue
        candidates.append(Path(scripts) / COMMAND)
    for candidate in candidates:
        if _is_program(candidate):
            return [str(candidate)]
    return [os.path.abspath(sys.executable), "-m", COMMAND]


def _systemd_word(word: str) -> str:
    """One ExecStart word: ``%`` escaped as ``%%``, quoted when it holds spaces or quotes."""
    word = word.replace("%", "%%")
    if any(c in word for c in ' \t"\'\\'):
        return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return word


def exec_start(command: Sequence[str], config: Path | None) -> str:
    words = [*command, "run", *(["--config", str(config)] if config else [])]
    return " ".join(_systemd_word(w) for w in words)


def unit_text(command: Sequence[str], config: Path | None = None) -> str:
    """The unit file, ``ExecStart`` pointing at ``command``."""
    service = "\n".join(f"{key}={value}" for key, value in SERVICE_SETTINGS)
    return ("# Written by `vcamstyle service install`; `vcamstyle service uninstall` removes it.\n"
            "# ExecStart is the vcamstyle command of the installation that wrote it.\n"
            "[Unit]\nDescription=vcamstyle style-transfer virtual camera\n\n"
            f"[Service]\nExecStart={exec_start(command, config)}\n{service}\n\n"
            "[Install]\nWantedBy=default.target\n")


def unit_exec_program(text: str) -> str | None:
    """The program an installed unit starts (the first word of its ExecStart), or None."""
    for line in text.splitlines():
        if line.startswith("ExecStart="):
            words = shlex.split(line.removeprefix("ExecStart=").replace("%%", "%"))
            return words[0] if words else None
    return None


def _refuse_root(host: Host) -> None:
    if host.is_root:
        raise SetupError("vcamstyle runs as a systemd *user* service, for the user who logs in and owns the "
                         "camera, and not as root",
                         hint="run `vcamstyle service install` as that user, without sudo")


def _systemctl(host: Host, *args: str) -> Result:
    result = host.run(["systemctl", "--user", *args])
    if result.returncode == 127:
        raise SetupError("systemctl is not installed: this system does not run systemd",
                         hint="start the daemon at login another way: `vcamstyle start` from your session's autostart")
    return result


def _check(result: Result, what: str, journal: Callable[[], str]) -> None:
    if result.returncode == 0:
        return
    noise = ("Created symlink", "Removed ")
    detail = "\n".join(line for line in result.output.splitlines() if not line.startswith(noise)).strip() \
        or f"exit status {result.returncode}"
    if "failed to connect to bus" in detail.lower() or "no medium found" in detail.lower():
        raise SetupError(f"`systemctl --user {what}` cannot reach your user's service manager: {detail}",
                         hint="log in to a desktop session (or `loginctl enable-linger $USER` over ssh), then run again")
    tail = journal()
    raise SetupError(f"`systemctl --user {what}` failed: {detail}" + (f"\nthe daemon's last lines:\n{tail}" if tail else ""),
                     hint=f"`journalctl --user -u {UNIT} -n 50` shows the daemon's own error; "
                          "fix it, then run `vcamstyle service install` again")


def _journal(host: Host) -> str:
    """The unit's last log lines (the journal; without journald, what ``systemctl status`` knows)."""
    result = host.run(["journalctl", "--user", "-u", UNIT, "-n", "10", "--no-pager", "-o", "cat"])
    lines = result.stdout.splitlines()[-10:] if result.returncode == 0 else []
    if not [line for line in lines if line.strip() and not line.startswith("-- No entries --")]:
        lines = host.run(["systemctl", "--user", "status", UNIT, "--no-pager", "-n", "10"]).stdout.splitlines()[-10:]
    return "\n".join(f"  {line}" for line in lines)


def preflight(config: Path | None) -> None:
    """What ``vcamstyle start`` checks before anything slow: the config is valid and its output exists.

    Raises:
        ConfigError, SinkError: with the fix, before the unit is enabled.
    """
    from vcamstyle import paths
    from vcamstyle.config import ensure_config, load_config
    from vcamstyle.daemon import check_output
    path = config or paths.default_config_path()
    ensure_config(path)
    check_output(load_config(path))


def install_service(config: Path | None, *, host: Host | None = None, unit_path: Path | None = None,
                    command: Sequence[str] | None = None, check: Callable[[Path | None], None] = preflight) -> list[str]:
    """Write the unit, reload systemd, enable and start it; the lines say what happened. A daemon that
    fails to start leaves the unit installed but disabled (so it does not restart in a loop).

    Raises:
        SetupError: run as root, systemctl missing or failing, or the daemon failed to start (its log lines).
        ConfigError, SinkError: ``check`` (the preflight of ``start``) found the config or output unusable.
    """
    host = host or Host()
    _refuse_root(host)
    check(Path(os.path.abspath(config.expanduser())) if config else None)
    path = unit_path or control.user_unit_path()
    program = list(command or installed_command())
    config = Path(os.path.abspath(config.expanduser())) if config else None
    text = unit_text(program, config)
    lines = []
    if path.exists() and path.read_text(encoding="utf-8", errors="replace") == text:
        lines.append(f"{path} is up to date")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        lines.append(f"wrote {path} (ExecStart={exec_start(program, config)})")
    journal = lambda: _journal(host)  # noqa: E731
    _check(_systemctl(host, "daemon-reload"), "daemon-reload", journal)
    started = _systemctl(host, "enable", "--now", UNIT)
    active = _systemctl(host, "is-active", UNIT).stdout.strip() if started.returncode == 0 else "failed"
    if active != "active":
        log = journal()  # read before disabling: the lines of the failed start
        _systemctl(host, "disable", "--now", UNIT)
        failed = started if started.returncode else Result(1, "", f"the unit is {active or 'not active'} after starting")
        _check(failed, f"enable --now {UNIT}", lambda: log + "\n  (the unit stays installed but disabled)")
    lines.append(f"vcamstyle is running as the systemd user service {UNIT} (ready; it starts at every login)")
    return lines


def uninstall_service(*, host: Host | None = None, unit_path: Path | None = None) -> list[str]:
    """Stop and disable the unit and remove its file; says when there was nothing to remove."""
    host = host or Host()
    _refuse_root(host)
    path = unit_path or control.user_unit_path()
    if not path.exists():
        return [f"nothing to remove: {path} does not exist"]
    journal = lambda: _journal(host)  # noqa: E731
    _check(_systemctl(host, "disable", "--now", UNIT), f"disable --now {UNIT}", journal)
    path.unlink()
    _check(_systemctl(host, "daemon-reload"), "daemon-reload", journal)
    return [f"stopped and disabled {UNIT}", f"removed {path}"]


@dataclass(frozen=True)
class ServiceState:
    """``service status``: is the unit there, whose program it starts, and what to do about it."""

    installed: bool
    unit_path: Path
    program: str | None = None
    ours: bool = False
    stale: bool = False
    active: str | None = None
    enabled: str | None = None

    def lines(self) -> list[str]:
        if not self.installed:
            return [f"not installed ({self.unit_path} does not exist)", "  fix: vcamstyle service install"]
        out = [f"installed: {self.unit_path}", f"  starts:  {self.program}",
               f"  state:   {self.active or 'unknown'}, {self.enabled or 'unknown'}"]
        if self.stale:
            out.append(f"  stale: {self.program} does not exist (the installation moved or was removed)")
            out.append("  fix: vcamstyle service install   (rewrites it for this installation)")
        elif not self.ours:
            out.append("  it starts another installation of vcamstyle than this one")
            out.append("  fix: vcamstyle service install   (if this installation should run at login)")
        else:
            out.append("  it starts this installation")
        return out


def service_state(*, host: Host | None = None, unit_path: Path | None = None,
                  command: Sequence[str] | None = None) -> ServiceState:
    host = host or Host()
    path = unit_path or control.user_unit_path()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ServiceState(False, path)
    program = unit_exec_program(text)
    this = (command or installed_command())[0]
    stale = program is None or not _is_program(Path(program))
    active = _systemctl(host, "is-active", UNIT).stdout.strip() or None
    enabled = _systemctl(host, "is-enabled", UNIT).stdout.strip() or None
    return ServiceState(True, path, program, ours=program == this, stale=stale, active=active, enabled=enabled)
