"""The output checked before anything slow: no v4l2loopback device is said first, with the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from vcamstyle.config import override, parse_config
from vcamstyle.daemon.preflight import check_output
from vcamstyle.devices import v4l2
from vcamstyle.errors import SinkError

LOOPBACK = v4l2.VideoDevice("/dev/video10", card="vcamstyle", driver=v4l2.LOOPBACK_DRIVER)
CAMERA = v4l2.VideoDevice("/dev/video0", card="Webcam", driver="uvcvideo")


def test_no_loopback_device_is_reported_with_install_and_modprobe() -> None:
    config = parse_config("", Path("config.yaml"))
    with pytest.raises(SinkError) as info:
        check_output(config, devices=[CAMERA], system="Linux")
    assert info.value.message.startswith("no v4l2loopback device")
    assert "sudo apt install v4l2loopback-dkms" in info.value.hint and v4l2.MODPROBE_COMMAND in info.value.hint


def test_a_loopback_device_or_another_output_passes() -> None:
    config = parse_config("", Path("config.yaml"))
    check_output(config, devices=[CAMERA, LOOPBACK], system="Linux")
    check_output(override(config, {"output.backend": "none"}), devices=[], system="Linux")
    check_output(override(config, {"output.backend": "file", "output.path": "out.mp4"}), devices=[], system="Linux")
    check_output(config, devices=[], system="Darwin")  # OBS there: its own open reports it
    unreadable = v4l2.VideoDevice("/dev/video3", error="EACCES: Permission denied")
    check_output(config, devices=[unreadable], system="Linux")  # the real open names the permission problem
