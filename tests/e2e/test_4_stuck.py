"""A device left stuck by a write-only producer (ffmpeg) is repaired by ``vcamstyle start``, with a log line.
The daemon started here (on demand) serves the on-demand and browser tests after it."""

from __future__ import annotations

from vm import EXCLUSIVE_CAPS, config_text, device_caps, write_only_producer

STUCK_CAPS = 0x05200000  # Streaming | Read/Write | Extended Pix Format: neither capture nor output


def test_start_repairs_a_device_left_stuck_by_ffmpeg(vm_daemon, still):
    if vm_daemon.running_config is not None:
        vm_daemon.stop()
    write_only_producer()
    caps = device_caps()
    if EXCLUSIVE_CAPS:
        assert caps == STUCK_CAPS  # the 0.12.7 restart bug, reproduced
    log_before = len(vm_daemon.log())
    vm_daemon.start_ok(config_text(still[0], on_demand=True, grace_s=3.0))
    log = vm_daemon.log()[log_before:]
    if caps == STUCK_CAPS:
        assert "was stuck" in log and "repaired it without reloading the module" in log, log
    assert vm_daemon.state() in ("idle", "streaming")
