"""The loopback backend against v4l2loopback 0.12.x's restart bug (a node left stuck by a write-only
producer) and its page-rounded frame sizes, on the simulated device layer."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from vcamstyle.devices import v4l2, v4l2_abi
from vcamstyle.devices.loopback import page_rounded
from vcamstyle.devices.v4l2_sim import SimulatedDeviceIO, SimulatedNode
from vcamstyle.devices.virtualcam import OutputSettings, create_sink
from vcamstyle.errors import SinkError

W, H, FPS = 64, 48, 25
LOOPBACK_CAPS = (v4l2_abi.V4L2_CAP_VIDEO_OUTPUT | v4l2_abi.V4L2_CAP_READWRITE | v4l2_abi.V4L2_CAP_STREAMING
                 | 0x00200000)  # EXT_PIX_FORMAT, as 0.12.7 reports
STUCK_CAPS = 0x05200000  # what QUERYCAP shows on a stuck 0.12.7 node


def loopback_io(**kw) -> SimulatedDeviceIO:
    return SimulatedDeviceIO({"/dev/video10": SimulatedNode(caps=LOOPBACK_CAPS, **kw)})


def write_only_producer(io: SimulatedDeviceIO, path: str = "/dev/video10") -> None:
    """What plain pyvirtualcam or ffmpeg do: open, S_FMT, write, close (no STREAMON/STREAMOFF)."""
    import os
    fd = io.open(path, os.O_WRONLY)
    v4l2.set_output_format(io, fd, W, H, v4l2_abi.v4l2_fourcc("YUYV"), W * 2, W * H * 2)
    io.write(fd, memoryview(bytes(W * H * 2)))
    io.close(fd)


def test_a_write_only_producer_leaves_the_simulated_node_stuck_like_the_driver():
    io = loopback_io()
    write_only_producer(io)
    device = v4l2.probe_device("/dev/video10", io)
    assert device.caps == STUCK_CAPS
    assert device.is_stuck and not device.can_output and not device.can_capture
    assert "stuck" in device.summary() and "vcamstyle start" in device.summary()


def test_a_clean_producer_does_not_leave_it_stuck():
    io = loopback_io()
    sink = create_sink(OutputSettings(device="/dev/video10"), W, H, FPS, io=io)
    sink.send(np.zeros((H, W, 3), np.uint8))
    sink.close()
    assert not io.nodes["/dev/video10"].stuck


@pytest.mark.parametrize("device", ["/dev/video10", "auto"])
def test_start_repairs_a_stuck_node_and_says_so(caplog, device):
    io = loopback_io()
    write_only_producer(io)
    io.calls.clear()
    with caplog.at_level(logging.INFO, logger="vcamstyle.devices.loopback"):
        sink = create_sink(OutputSettings(device=device), W, H, FPS, io=io)
    sink.send(np.zeros((H, W, 3), np.uint8))
    sink.close()

    ops = io.ops("/dev/video10")
    if device == "auto":  # the probe comes first and finds the stuck node
        assert ops[:3] == ["open", "QUERYCAP", "close"]
        ops = ops[3:]
    # our open + QUERYCAP, then the repair (open, STREAMON -> EINVAL, close), then the normal sequence
    assert ops == ["open", "QUERYCAP", "close", "open", "STREAMON", "close",
                   "open", "QUERYCAP", "S_FMT", "S_PARM", "STREAMON", "write", "STREAMOFF", "close"]
    assert not io.nodes["/dev/video10"].stuck
    repaired = [r.getMessage() for r in caplog.records if "repaired" in r.getMessage()]
    assert len(repaired) == 1 and "/dev/video10 was stuck" in repaired[0] and "0x05200000" in repaired[0]


def test_a_node_the_repair_cannot_fix_gives_the_module_reload_not_another_program():
    io = loopback_io(stuck=True, repairable=False)
    with pytest.raises(SinkError) as info:
        create_sink(OutputSettings(device="/dev/video10"), W, H, FPS, io=io)
    err = info.value
    assert "is stuck" in err.message and "did not bring its output back" in err.message
    assert "another program is" not in err.message
    assert "modprobe -r v4l2loopback" in err.hint and v4l2.MODPROBE_COMMAND in err.hint
    assert io._open == {}  # every descriptor was released


def test_a_node_with_a_live_producer_is_not_repaired():
    io = loopback_io()
    io.nodes["/dev/video10"].caps = v4l2_abi.V4L2_CAP_VIDEO_CAPTURE | v4l2_abi.V4L2_CAP_STREAMING
    with pytest.raises(SinkError) as info:
        create_sink(OutputSettings(device="/dev/video10"), W, H, FPS, io=io)
    assert "already has a producer" in info.value.message
    assert "STREAMON" not in io.ops()


def test_page_rounding():
    assert page_rounded(460800, 4096) == 462848
    assert page_rounded(614400, 4096) == 614400
    assert page_rounded(1, 4096) == 4096


@pytest.mark.parametrize("fmt,sizeimage,warns", [
    ("i420", 462848, False),   # 640x480 I420 rounded up to a page, as 0.12.7 reports it
    ("yuyv", 614400, False),   # already a whole number of pages
    ("i420", 462848 + 4096, True),  # more than page rounding: real padding
])
def test_only_sizes_beyond_page_rounding_warn(caplog, fmt, sizeimage, warns):
    width, height = 640, 480
    fourcc = "YU12" if fmt == "i420" else "YUYV"
    bpl = width if fmt == "i420" else width * 2
    kept = v4l2.PixFormat(width, height, v4l2_abi.v4l2_fourcc(fourcc), bpl, sizeimage)
    io = loopback_io(fixed_format=kept)
    with caplog.at_level(logging.WARNING, logger="vcamstyle.devices.loopback"):
        create_sink(OutputSettings(device="/dev/video10", format=fmt), width, height, FPS, io=io).close()
    padding = [r for r in caplog.records if "may show padding" in r.getMessage()]
    assert bool(padding) == warns


@pytest.mark.parametrize("fail,kept", [({"S_FMT": 16}, None), ({"S_FMT": 22}, None),
                                       ({}, v4l2.PixFormat(1280, 720, v4l2_abi.v4l2_fourcc("YUYV"), 2560, 1843200))])
def test_a_consumer_holding_another_format_is_named_on_the_producer_side(monkeypatch, fail, kept):
    from vcamstyle.devices import loopback
    from vcamstyle.devices.consumers import Holder
    monkeypatch.setattr(loopback, "holders", lambda path: [Holder(321, "v4l2-ctl")])
    io = loopback_io(fail=fail, fixed_format=kept)
    with pytest.raises(SinkError) as info:
        create_sink(OutputSettings(device="/dev/video10"), W, H, FPS, io=io)
    err = info.value
    assert "v4l2-ctl (pid 321) has it open in another format" in err.message
    assert "close the apps that use the virtual camera" in err.hint
