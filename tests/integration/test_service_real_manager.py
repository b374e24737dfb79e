"""``service install / status / uninstall`` under a real systemd user manager, running the real daemon
(whose control page answers as `vcamstyle ui` finds it).

A private ``systemd --user`` is started for the test in its own mount namespace (where a tmpfs ``/run``
with ``/run/systemd/system`` lets it start on a machine that was not booted with systemd), with its own
``XDG_RUNTIME_DIR`` and ``XDG_CONFIG_HOME``; the commands reach it through ``nsenter`` via the ``Host``
runner. Needs root (for the namespace), ``unshare``, ``nsenter`` and systemd; skipped otherwise. The
install itself is not refused as root here: ``Host.euid`` says "a user" (the refusal has its own test).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import json
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest

from vcamstyle.commands import install_service, service_state, uninstall_service
from vcamstyle.commands.ui import page_address
from vcamstyle.commands.host import Host, Result, run_system
from vcamstyle.errors import SetupError

SYSTEMD = next((p for p in ("/lib/systemd/systemd", "/usr/lib/systemd/systemd") if os.path.exists(p)), None)
REPO = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0 or SYSTEMD is None or not shutil.which("unshare")
                       or not shutil.which("nsenter"), reason="needs root, unshare, nsenter and systemd"),
]
START = ("mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system && exec {systemd} --user")


@pytest.fixture
def manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Host, Path]]:
    """(a Host whose commands run beside the private user manager, the unit file's path)."""
    root = Path(tempfile.mkdtemp(prefix="vcs-um-"))  # short: the manager's socket path has a length limit
    for sub in ("run", "config", "home", "state"):
        (root / sub).mkdir(mode=0o700)
    for var, sub in (("XDG_RUNTIME_DIR", "run"), ("XDG_CONFIG_HOME", "config"), ("HOME", "home"),
                     ("XDG_STATE_HOME", "state")):
        monkeypatch.setenv(var, str(root / sub))
    monkeypatch.delenv("VCAMSTYLE_NO_SYSTEMD", raising=False)
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    process = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c",
                                START.format(systemd=SYSTEMD)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)

    def beside(args: Sequence[str]) -> Result:
        return run_system(["nsenter", "-m", "-t", str(process.pid), *args])
    try:
        deadline = time.monotonic() + 60
        while beside(["systemctl", "--user", "is-system-running"]).stdout.strip() not in ("running", "degraded"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.skip("a private systemd user manager does not start here")
            time.sleep(0.2)
        yield Host(run=beside, euid=1000), root / "config" / "systemd" / "user" / "vcamstyle.service"
    finally:
        beside(["systemctl", "--user", "stop", "vcamstyle.service"])
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


def _program(root: Path) -> list[str]:
    """The unit's command: this checkout's vcamstyle in this interpreter (the unit has no PYTHONPATH)."""
    script = root / "vcamstyle"
    script.write_text(f"#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m vcamstyle \"$@\"\n")
    script.chmod(0o755)
    return [str(script)]


def _config(root: Path, backend: str) -> Path:
    camera = root / "camera.png"
    cv2.imwrite(str(camera), np.full((120, 160, 3), 90, np.uint8))
    config = root / "config.yaml"
    config.write_text(f"camera:\n  device: {camera}\n  fps: 5\noutput:\n  backend: {backend}\n  width: 160\n"
                      "  height: 120\n  fps: 5\nperson:\n  effect: original\nbackground:\n  effect: blur\n"
                      "threads: 1\ndevice: cpu\n")
    return config


def test_install_starts_the_daemon_ready_status_sees_it_and_uninstall_removes_it(manager, tmp_path: Path) -> None:
    host, unit = manager
    program = _program(tmp_path)
    lines = install_service(_config(tmp_path, "none"), host=host, unit_path=unit, command=program)
    assert lines[-1].startswith("vcamstyle is running as the systemd user service")
    state = service_state(host=host, unit_path=unit, command=program)
    assert (state.installed, state.ours, state.stale, state.active, state.enabled) == \
        (True, True, False, "active", "enabled")
    status = Path(os.environ["XDG_RUNTIME_DIR"], "vcamstyle", "status.json").read_text()
    assert '"ready": true' in status
    _page_answers(page_address())
    lines = uninstall_service(host=host, unit_path=unit)
    assert lines[-1] == f"removed {unit}" and not unit.exists()
    assert host.run(["systemctl", "--user", "is-active", "vcamstyle.service"]).stdout.strip() == "inactive"


def _page_answers(address: str) -> None:
    """The control page of the daemon systemd started, found as `vcamstyle ui` finds it: its state with
    the secret, a refusal without it."""
    url, secret = address.split("#secret=")
    with urllib.request.urlopen(urllib.request.Request(url + "api/state", headers={"X-Vcamstyle-Secret": secret}),
                                timeout=10) as answer:
        state = json.loads(answer.read())
    assert state["status"]["ready"] is True and state["status"]["pid"] > 0
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url + "api/state", timeout=10)
    assert refused.value.code in (401, 403)


def test_a_daemon_that_fails_to_start_is_reported_and_left_disabled(manager, tmp_path: Path) -> None:
    host, unit = manager
    with pytest.raises(SetupError) as caught:
        install_service(_config(tmp_path, "file"), host=host, unit_path=unit, command=_program(tmp_path),
                        check=lambda config: None)  # the preflight would catch this config first
    assert "enable --now vcamstyle.service` failed" in str(caught.value)
    assert host.run(["systemctl", "--user", "is-enabled", "vcamstyle.service"]).stdout.strip() == "disabled"
