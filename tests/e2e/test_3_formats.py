"""A producer start refused with a clear message (not a crash) while a consumer holds the device in another
format, then I420 output read back exactly once that consumer is gone."""

from __future__ import annotations

import numpy as np
from vm import HEIGHT, WIDTH, HeldConsumer, capture_format, config_text, i420_to_rgb, psnr, v4l2_frames, wait_for

from vcamstyle.devices.pixfmt import rgb_to_i420

YUYV_FRAME = WIDTH * HEIGHT * 2
I420_FRAME = WIDTH * HEIGHT * 3 // 2
#: Same reasoning as for YUYV (test_1_device): the host round trip through 4:2:0 keeps about 51 dB.
ROUND_TRIP_ALLOWANCE_DB = 3.0


def test_start_in_another_format_while_a_consumer_holds_the_device(vm_daemon, still, tmp_path):
    path, _ = still
    vm_daemon.ensure(config_text(path))  # YUYV, as the earlier tests left it
    consumer = HeldConsumer(tmp_path / "held.raw")
    try:
        wait_for(lambda: consumer.size() >= YUYV_FRAME, "the consumer's first frame")
        vm_daemon.stop()
        result = vm_daemon.start(config_text(path, width=2 * WIDTH, height=2 * HEIGHT))
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert "Traceback" not in output
        assert "/dev/video" in output and "close" in output and "v4l2-ctl" in output, output
    finally:
        consumer.close()


def test_i420_pixels_match_the_pipeline_output(vm_daemon, still, tmp_path):
    path, image = still
    vm_daemon.ensure(config_text(path, fmt="i420"))  # the same start works once the consumer is gone
    fmt = capture_format()
    assert "'YU12'" in fmt["Pixel Format"] and fmt["Width/Height"] == f"{WIDTH}/{HEIGHT}"
    data = v4l2_frames(3, tmp_path / "i420.raw")
    assert len(data) == 3 * I420_FRAME  # exact frames: the driver's page rounding is not seen by consumers
    raw = data[-I420_FRAME:]
    expected = rgb_to_i420(image).tobytes()
    assert psnr(np.frombuffer(raw, np.uint8), np.frombuffer(expected, np.uint8)) >= 45.0
    assert psnr(i420_to_rgb(raw), image) >= psnr(i420_to_rgb(expected), image) - ROUND_TRIP_ALLOWANCE_DB
    assert "may show padding" not in vm_daemon.log()  # a size rounded up to a page is not padding
