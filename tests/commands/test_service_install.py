"""``vcamstyle service install | uninstall | status`` with a recorded ``systemctl``, and the written unit
checked by ``systemd-analyze --user verify`` and against the documented ``systemd/vcamstyle.service``."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fake_host import FakeSystem

from vcamstyle.commands import install_service, service_state, uninstall_service
from vcamstyle.commands.host import Result
from vcamstyle.commands.user_service import exec_start, installed_command, unit_exec_program, unit_text
from vcamstyle.errors import SetupError, VcamstyleError

DOCUMENTED_UNIT = Path(__file__).resolve().parents[2] / "systemd" / "vcamstyle.service"


def _no_check(config: Path | None) -> None:
    """Stands in for the preflight (config and output checks) where the test is about systemctl."""


def _parse(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True, comment_prefixes=("#", ";"))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


@pytest.fixture
def program(tmp_path: Path) -> list[str]:
    """An installed ``vcamstyle`` command (an executable file), in a directory whose name has a space."""
    path = tmp_path / "my venv" / "bin" / "vcamstyle"
    path.parent.mkdir(parents=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return [str(path)]


@pytest.fixture
def system(tmp_path: Path) -> FakeSystem:
    return FakeSystem(tmp_path / "root")


def test_install_writes_the_unit_for_this_installation_then_reloads_enables_and_starts(
        system: FakeSystem, program: list[str], tmp_path: Path) -> None:
    unit = tmp_path / "units" / "vcamstyle.service"
    config = tmp_path / "my config.yaml"
    lines = install_service(config, host=system.host(), unit_path=unit, command=program, check=_no_check)
    service = _parse(unit.read_text())["Service"]
    assert service["ExecStart"] == f'"{program[0]}" run --config "{config}"'
    assert unit_exec_program(unit.read_text()) == program[0]
    assert oct(unit.stat().st_mode & 0o777) == "0o644"
    assert system.calls == [["systemctl", "--user", "daemon-reload"],
                            ["systemctl", "--user", "enable", "--now", "vcamstyle.service"],
                            ["systemctl", "--user", "is-active", "vcamstyle.service"]]
    assert lines[-1].startswith("vcamstyle is running as the systemd user service vcamstyle.service (ready")


def test_the_unit_keeps_every_documented_setting_but_exec_start(program: list[str]) -> None:
    written, documented = _parse(unit_text(program))["Service"], _parse(DOCUMENTED_UNIT.read_text())["Service"]
    assert {k: v for k, v in written.items() if k != "ExecStart"} == \
        {k: v for k, v in documented.items() if k != "ExecStart"}
    assert _parse(unit_text(program))["Install"]["WantedBy"] == "default.target"


def test_percent_signs_and_quotes_in_paths_survive_systemd_s_parsing() -> None:
    assert exec_start(["/opt/100%/bin/vcamstyle"], None) == "/opt/100%%/bin/vcamstyle run"
    assert unit_exec_program("ExecStart=" + exec_start(['/a "b"/vcamstyle'], None)) == '/a "b"/vcamstyle'


def test_the_daemon_s_own_error_is_reported_when_it_fails_to_start(system: FakeSystem, program: list[str],
                                                                  tmp_path: Path) -> None:
    system.systemctl_fail["enable"] = Result(1, "", "Job for vcamstyle.service failed because the control process "
                                             "exited with error code.")
    system.systemctl_fail["journalctl"] = Result(0, "vcamstyle: no v4l2loopback device\n  fix: vcamstyle setup loopback\n")
    with pytest.raises(SetupError) as caught:
        install_service(None, host=system.host(), unit_path=tmp_path / "u.service", command=program, check=_no_check)
    assert "enable --now vcamstyle.service` failed: Job for vcamstyle.service failed" in caught.value.message
    assert "the daemon's last lines:\n  vcamstyle: no v4l2loopback device" in caught.value.message
    assert "journalctl --user -u vcamstyle.service" in caught.value.hint
    assert ["systemctl", "--user", "disable", "--now", "vcamstyle.service"] in system.calls  # no restart loop


def test_an_invalid_config_is_refused_before_systemd_is_touched(
        system: FakeSystem, program: list[str], tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("output:\n  fps: -3\n")
    unit = tmp_path / "u.service"
    with pytest.raises(VcamstyleError, match="output.fps"):
        install_service(config, host=system.host(), unit_path=unit, command=program)
    assert system.calls == [] and not unit.exists()


def test_no_user_manager_says_how_to_get_one(system: FakeSystem, program: list[str], tmp_path: Path) -> None:
    system.systemctl_fail["daemon-reload"] = Result(1, "", "Failed to connect to bus: No medium found")
    with pytest.raises(SetupError, match="cannot reach your user's service manager") as caught:
        install_service(None, host=system.host(), unit_path=tmp_path / "u.service", command=program, check=_no_check)
    assert "enable-linger" in caught.value.hint


def test_root_is_refused_with_the_reason(system: FakeSystem, program: list[str], tmp_path: Path) -> None:
    system.euid = 0
    unit = tmp_path / "u.service"
    with pytest.raises(SetupError, match="user\\* service") as caught:
        install_service(None, host=system.host(), unit_path=unit, command=program, check=_no_check)
    assert "without sudo" in caught.value.hint
    assert not unit.exists() and system.calls == []
    with pytest.raises(SetupError, match="user\\* service"):
        uninstall_service(host=system.host(), unit_path=unit)


def test_uninstall_stops_disables_and_removes(system: FakeSystem, program: list[str], tmp_path: Path) -> None:
    unit = tmp_path / "u.service"
    install_service(None, host=system.host(), unit_path=unit, command=program, check=_no_check)
    system.calls.clear()
    lines = uninstall_service(host=system.host(), unit_path=unit)
    assert not unit.exists()
    assert system.calls == [["systemctl", "--user", "disable", "--now", "vcamstyle.service"],
                            ["systemctl", "--user", "daemon-reload"]]
    assert lines[-1] == f"removed {unit}"
    assert uninstall_service(host=system.host(), unit_path=unit) == [f"nothing to remove: {unit} does not exist"]


def test_status_says_installed_ours_or_another_or_stale_with_the_fix(system: FakeSystem, program: list[str],
                                                                    tmp_path: Path) -> None:
    unit = tmp_path / "u.service"
    host = system.host()
    missing = service_state(host=host, unit_path=unit, command=program)
    assert not missing.installed and missing.lines()[-1] == "  fix: vcamstyle service install"
    install_service(None, host=host, unit_path=unit, command=program, check=_no_check)
    ours = service_state(host=host, unit_path=unit, command=program)
    assert (ours.installed, ours.ours, ours.stale, ours.active, ours.enabled) == (True, True, False, "active", "enabled")
    assert ours.lines()[-1] == "  it starts this installation"
    other = service_state(host=host, unit_path=unit, command=["/usr/bin/vcamstyle"])
    assert not other.ours and "another installation" in other.lines()[-2]
    Path(program[0]).unlink()  # the venv was moved away
    stale = service_state(host=host, unit_path=unit, command=program)
    assert stale.stale
    assert f"stale: {program[0]} does not exist" in "\n".join(stale.lines())
    assert stale.lines()[-1].startswith("  fix: vcamstyle service install")


def test_installed_command_is_the_script_beside_the_interpreter(monkeypatch: pytest.MonkeyPatch,
                                                                program: list[str]) -> None:
    bin_dir = Path(program[0]).parent
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python3"))
    monkeypatch.setattr(sys, "argv", ["-c"])
    assert installed_command() == program


def test_installed_command_keeps_the_running_script_unresolved(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                               program: list[str]) -> None:
    link = tmp_path / "local-bin" / "vcamstyle"  # pipx: ~/.local/bin/vcamstyle -> the venv's script
    link.parent.mkdir()
    link.symlink_to(program[0])
    monkeypatch.setattr(sys, "argv", [str(link), "service", "install"])
    assert installed_command() == [str(link)]


def test_without_a_script_the_unit_runs_the_module(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python3"))
    monkeypatch.setattr(sys, "argv", ["-m"])
    monkeypatch.setattr("sysconfig.get_path", lambda *args: str(tmp_path / "nowhere"))
    assert installed_command() == [str(tmp_path / "python3"), "-m", "vcamstyle"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_user_verify_accepts_the_written_unit(tmp_path: Path) -> None:
    unit = tmp_path / "vcamstyle.service"
    unit.write_text(unit_text([sys.executable, "-m", "vcamstyle"], tmp_path / "config.yaml"))
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path / "run"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    (tmp_path / "run").mkdir(mode=0o700)
    result = subprocess.run(["systemd-analyze", "--user", "verify", str(unit)], capture_output=True, text=True,
                            timeout=60, env=env)
    ours = [line for line in (result.stdout + result.stderr).splitlines() if "vcamstyle" in line]
    assert result.returncode == 0, result.stderr
    assert ours == []
