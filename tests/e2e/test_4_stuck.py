"""A device left stuck by a write-only producer (ffmpeg) is repaired by ``vcamstyle start``, with a log line."""

from __future__ import annotations

from vm import (
    EXCLUSIVE_CAPS,
    HEIGHT,
    WIDTH,
    config_text,
    device_caps,
    v4l2_frames,
    write_only_producer,
)

STUCK_CAPS = 0x05200000  # Streaming | Read/Write | Extended Pix Format: neither capture nor output
OUTPUT = 0x00000002


def test_start_repairs_a_device_left_stuck_by_ffmpeg(vm_daemon, still, tmp_path):
    if vm_daemon.running_config is not None:
        vm_daemon.stop()
    write_only_producer()
    caps = device_caps()
    if EXCLUSIVE_CAPS:
        assert caps == STUCK_CAPS  # the 0.12.7 restart bug, reproduced
    log_before = len(vm_daemon.log())
    text = config_text(still[0])
    vm_daemon.start_ok(text)
    log = vm_daemon.log()[log_before:]
    if caps == STUCK_CAPS:
        assert "was stuck" in log and "repaired it without reloading the module" in log, log
    assert len(v4l2_frames(3, tmp_path / "f.raw")) == 3 * WIDTH * HEIGHT * 2
    vm_daemon.stop()
    assert device_caps() & OUTPUT  # our own stop leaves it ready for the next producer
