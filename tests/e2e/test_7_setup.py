"""``vcamstyle setup loopback`` against the real v4l2loopback module in the guest (as root, so no sudo):
it loads the module with the documented options, writes the two files, a second run changes nothing,
other options reload it, and a program holding the device is named and the module is left alone.

The guest boots with the module loaded (``devices=1 exclusive_caps=1 video_nr=10 card_label=vcamstyle``);
these tests end with it loaded that way again. They run last (the file name) and take well under a
minute in the guest: no daemon, only ``python -m vcamstyle setup`` and ``modprobe``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from vm import DEVICE, STEP_LIMIT_S, VmDaemon

pytestmark = pytest.mark.skipif(DEVICE != "/dev/video10", reason="setup loopback's default device is /dev/video10")

NAME = Path("/sys/devices/virtual/video4linux/video10/name")
EXCLUSIVE_CAPS = Path("/sys/module/v4l2loopback/parameters/exclusive_caps")
MODPROBE_FILE = Path("/etc/modprobe.d/v4l2loopback.conf")
MODULES_LOAD_FILE = Path("/etc/modules-load.d/v4l2loopback.conf")
DOCUMENTED = "options v4l2loopback devices=1 exclusive_caps=1 video_nr=10 card_label=vcamstyle max_buffers=2"


def setup(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vcamstyle", "setup", "loopback", *args], capture_output=True,
                          text=True, timeout=STEP_LIMIT_S, stdin=subprocess.DEVNULL)


def options_lines() -> list[str]:
    return [line for line in MODPROBE_FILE.read_text().splitlines() if line.startswith("options")]


@pytest.fixture(scope="module")
def quiet_device(vm_daemon: VmDaemon) -> Iterator[None]:
    """No daemon holds the device (earlier files share one); the module is left as the guest booted it."""
    if vm_daemon.status() is not None:
        vm_daemon.stop()
    yield
    result = setup("--yes")
    assert result.returncode == 0, result.stdout + result.stderr


def test_setup_loads_the_module_with_the_documented_options_and_writes_both_files(quiet_device: None) -> None:
    subprocess.run(["modprobe", "-r", "v4l2loopback"], check=True, timeout=STEP_LIMIT_S)
    assert not Path(DEVICE).exists()
    result = setup("--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "load the module now: modprobe v4l2loopback devices=1 exclusive_caps=1 video_nr=10" in result.stdout
    assert Path(DEVICE).exists()
    assert NAME.read_text().strip() == "vcamstyle"
    assert EXCLUSIVE_CAPS.read_text().startswith("Y")
    assert options_lines() == [DOCUMENTED]
    assert "v4l2loopback" in MODULES_LOAD_FILE.read_text().splitlines()
    info = subprocess.run(["v4l2-ctl", "-d", DEVICE, "--info"], capture_output=True, text=True, timeout=60)
    assert "Card type        : vcamstyle" in info.stdout


def test_a_second_run_changes_nothing_and_says_so(quiet_device: None) -> None:
    before = MODPROBE_FILE.stat().st_mtime_ns
    result = setup()  # no --yes and no terminal: it would refuse if it had anything to do
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("nothing to change: ")
    assert MODPROBE_FILE.stat().st_mtime_ns == before


def test_other_options_reload_the_module(quiet_device: None) -> None:
    result = setup("--yes", "--exclusive-caps", "0", "--card-label", "vcam e2e")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "unload the module" in result.stdout
    assert NAME.read_text().strip() == "vcam e2e"
    assert EXCLUSIVE_CAPS.read_text().startswith("N")
    assert options_lines() == ['options v4l2loopback devices=1 exclusive_caps=0 video_nr=10 card_label="vcam e2e" '
                               "max_buffers=2"]


def test_a_program_holding_the_device_is_named_and_the_module_is_left_loaded(quiet_device: None) -> None:
    holder = subprocess.Popen(["sh", "-c", f"exec 3<>{DEVICE}; exec sleep 600"])
    try:
        deadline = time.monotonic() + 60
        while not Path(f"/proc/{holder.pid}/fd/3").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        result = setup("--yes")  # the defaults: exclusive_caps=1, card_label=vcamstyle (now 0 and "vcam e2e")
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"/dev/video10 is open in sleep (pid {holder.pid})" in result.stderr
        assert "close that program" in result.stderr
        assert NAME.read_text().strip() == "vcam e2e"  # still loaded, with its old options
    finally:
        holder.kill()
        holder.wait()
    result = setup("--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert NAME.read_text().strip() == "vcamstyle" and EXCLUSIVE_CAPS.read_text().startswith("Y")
