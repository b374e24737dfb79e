"""The running daemon as apps see it: the announced format, frames for v4l2-ctl and ffmpeg, exact pixels
(YUYV), a consumer asking for another format, and who holds the device."""

from __future__ import annotations

import numpy as np
import pytest
from vm import (
    CARD_LABEL,
    DEVICE,
    EXCLUSIVE_CAPS,
    HEIGHT,
    WIDTH,
    capture_format,
    config_text,
    device_info,
    ffmpeg_frames,
    psnr,
    v4l2_frames,
    yuyv_to_rgb,
)

from vcamstyle.devices.pixfmt import rgb_to_yuyv

FRAME = WIDTH * HEIGHT * 2

#: Converting the still to YUYV and back on the host (no device involved) keeps about 52 dB: the loss
#: of 4:2:2 chroma subsampling and 8-bit limited-range quantisation. What a consumer reads may differ
#: from that only by the pipeline's rounding (a few values off by one): we allow 3 dB below the pure
#: round trip. A wrong stride, plane order or channel swap lands below 20 dB.
ROUND_TRIP_ALLOWANCE_DB = 3.0


@pytest.fixture(scope="module", autouse=True)
def streaming(vm_daemon, still):
    vm_daemon.ensure(config_text(still[0]))


def test_announced_format_size_and_label():
    fmt = capture_format()
    assert fmt["Width/Height"] == f"{WIDTH}/{HEIGHT}"
    assert "'YUYV'" in fmt["Pixel Format"]
    assert int(fmt["Size Image"]) == FRAME
    info = device_info()
    assert f"Card type        : {CARD_LABEL}" in info
    assert "Video Capture" in info  # a producer is attached: apps can capture
    if EXCLUSIVE_CAPS:
        assert "Video Output" not in info.split("Device Caps")[1]  # exclusive: capture only while producing


def test_frames_arrive_for_v4l2_ctl(tmp_path):
    data = v4l2_frames(12, tmp_path / "frames.raw")
    assert len(data) == 12 * FRAME


def test_yuyv_pixels_match_the_pipeline_output(tmp_path, still):
    _, image = still
    data = v4l2_frames(3, tmp_path / "frames.raw")
    raw = data[-FRAME:]
    expected = rgb_to_yuyv(image).tobytes()
    got = np.frombuffer(raw, np.uint8)
    assert psnr(got, np.frombuffer(expected, np.uint8)) >= 45.0  # the daemon's own conversion, byte for byte
    bound = psnr(yuyv_to_rgb(expected), image) - ROUND_TRIP_ALLOWANCE_DB
    assert psnr(yuyv_to_rgb(raw), image) >= bound


def test_ffmpeg_reads_the_same_picture(tmp_path, still):
    _, image = still
    result = ffmpeg_frames(3, tmp_path / "ff.rgb")
    assert result.returncode == 0, result.stderr
    data = (tmp_path / "ff.rgb").read_bytes()
    assert len(data) == 3 * WIDTH * HEIGHT * 3
    last = np.frombuffer(data[-WIDTH * HEIGHT * 3:], np.uint8).reshape(HEIGHT, WIDTH, 3)
    assert psnr(last, image) >= 35.0  # ffmpeg's own YUYV->RGB (swscale, bilinear chroma): a few dB below cv2's


def test_a_consumer_asking_another_format_is_refused_and_the_daemon_keeps_streaming(tmp_path, vm_daemon):
    before = vm_daemon.status()["frames"]
    result = ffmpeg_frames(1, tmp_path / "other.rgb", "-input_format", "mjpeg", "-video_size", "1280x720")
    assert result.returncode != 0  # the consumer side: the device only offers what the producer set
    data = v4l2_frames(3, tmp_path / "after.raw")
    assert len(data) == 3 * FRAME
    status = vm_daemon.status()
    assert status["state"] == "streaming" and status["frames"] > before
    assert "Traceback" not in vm_daemon.log()


def test_doctor_shows_who_has_the_device_open(tmp_path):
    import subprocess

    from vcamstyle.commands.doctor import _loopback_user_checks
    from vcamstyle.devices import v4l2

    consumer = subprocess.Popen(["v4l2-ctl", "-d", DEVICE, "--stream-mmap", "--stream-count", "1000000",
                                 "--stream-to", "/dev/null"])
    try:
        from vm import wait_for
        node = v4l2.probe_device(DEVICE)

        def users() -> str:
            return " ".join(c.detail for c in _loopback_user_checks([node]))
        wait_for(lambda: "v4l2-ctl" in users(), "doctor listing v4l2-ctl")
        text = users()
        assert f"pid {consumer.pid}" in text and "python" in text  # the consumer and the daemon (producer)
    finally:
        consumer.terminate()
        consumer.wait(60)
