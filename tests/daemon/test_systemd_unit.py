"""The shipped systemd unit and v4l2loopback module files: required keys, and `systemd-analyze verify`."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SYSTEMD_DIR = Path(__file__).resolve().parents[2] / "systemd"
UNIT = SYSTEMD_DIR / "vcamstyle.service"


def _parse_unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True, comment_prefixes=("#", ";"))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser


def test_unit_has_the_required_settings() -> None:
    unit = _parse_unit(UNIT)
    service = unit["Service"]
    assert service["Type"] == "notify"
    assert service["NotifyAccess"] == "main"
    assert service["ExecStart"] == "%h/.local/bin/vcamstyle run"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["Restart"] == "on-failure"
    assert service["RestartSec"] == "3"
    assert service["Environment"] == "PYTHONUNBUFFERED=1"
    assert service["TimeoutStopSec"] == "10"
    assert service["KillMode"] == "mixed"
    assert unit["Install"]["WantedBy"] == "default.target"
    assert unit["Unit"]["Description"]


def test_unit_does_not_wait_for_the_network() -> None:
    unit = _parse_unit(UNIT)
    for key in ("After", "Wants", "Requires"):
        assert "network" not in unit["Unit"].get(key, "")


#: Settings that would keep the control page from working under systemd: no loopback socket, or a
#: runtime directory (control.json with the page's address and secret) other than the user shell's.
PAGE_BREAKING = ("PrivateNetwork", "RestrictAddressFamilies", "IPAddressDeny")


def test_unit_lets_the_control_page_listen_and_share_the_runtime_directory() -> None:
    """`vcamstyle ui` finds the page of a daemon started by systemd through $XDG_RUNTIME_DIR, which the
    user manager gives the unit as it gives the user's shell."""
    from vcamstyle.commands.user_service import SERVICE_SETTINGS

    service = _parse_unit(UNIT)["Service"]
    generated = dict(SERVICE_SETTINGS)
    for key in PAGE_BREAKING:
        assert key not in service and key not in generated
    for settings in (service, generated):
        assert "XDG_RUNTIME_DIR" not in settings.get("Environment", "")
        assert "EnvironmentFile" not in settings


def test_unit_documents_other_install_locations() -> None:
    text = UNIT.read_text(encoding="utf-8")
    assert "pipx" in text and "venv" in text and "systemctl --user edit" in text


def test_modprobe_options() -> None:
    lines = [line for line in (SYSTEMD_DIR / "v4l2loopback.conf").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert lines == ["options v4l2loopback devices=1 exclusive_caps=1 video_nr=10 card_label=vcamstyle max_buffers=2"]
    assert "exclusive_caps=0" in (SYSTEMD_DIR / "v4l2loopback.conf").read_text()


def test_modules_load() -> None:
    lines = [line for line in (SYSTEMD_DIR / "v4l2loopback-load.conf").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert lines == ["v4l2loopback"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    """Verified in system mode (no user manager here) with ExecStart pointing at an existing program."""
    text = UNIT.read_text(encoding="utf-8")
    text, replaced = re.subn(r"^ExecStart=.*$", f"ExecStart={sys.executable} -c pass", text, flags=re.MULTILINE)
    assert replaced == 1
    unit = tmp_path / "vcamstyle.service"
    unit.write_text(text, encoding="utf-8")
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    # verify also reports on unrelated units of this machine; only lines about our file count.
    ours = [line for line in (result.stdout + result.stderr).splitlines() if "vcamstyle" in line]
    assert result.returncode == 0, result.stderr
    assert ours == []


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a misspelt key is reported."""
    unit = tmp_path / "vcamstyle.service"
    unit.write_text(f"[Service]\nType=notify\nExecStart={sys.executable} -c pass\nRestartt=on-failure\n")
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert any("vcamstyle" in line and "Restartt" in line for line in result.stderr.splitlines())
