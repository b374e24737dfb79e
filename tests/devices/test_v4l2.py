"""V4L2 layer: struct layouts, ioctl numbers, device discovery on fake /dev trees."""

from __future__ import annotations

import ctypes
import errno
import os

import pytest

from vcamstyle.devices import v4l2, v4l2_abi
from vcamstyle.devices.v4l2_sim import SimulatedDeviceIO, SimulatedNode

CAMERA_CAPS = v4l2_abi.V4L2_CAP_VIDEO_CAPTURE | v4l2_abi.V4L2_CAP_STREAMING
META_CAPS = v4l2_abi.V4L2_CAP_META_CAPTURE | v4l2_abi.V4L2_CAP_STREAMING
LOOPBACK_IDLE = v4l2_abi.V4L2_CAP_VIDEO_OUTPUT | v4l2_abi.V4L2_CAP_READWRITE | v4l2_abi.V4L2_CAP_STREAMING
LOOPBACK_BUSY = v4l2_abi.V4L2_CAP_VIDEO_CAPTURE | v4l2_abi.V4L2_CAP_READWRITE | v4l2_abi.V4L2_CAP_STREAMING


def laptop_io() -> SimulatedDeviceIO:
    """A UVC camera (video + metadata node), a busy loopback and an idle loopback."""
    return SimulatedDeviceIO({
        "/dev/video0": SimulatedNode(driver="uvcvideo", card="Integrated Camera", caps=CAMERA_CAPS),
        "/dev/video1": SimulatedNode(driver="uvcvideo", card="Integrated Camera", caps=META_CAPS),
        "/dev/video10": SimulatedNode(card="other-cam", caps=LOOPBACK_BUSY),
        "/dev/video11": SimulatedNode(card="vcamstyle", caps=LOOPBACK_IDLE),
    })


def test_struct_sizes_match_the_kernel_abi():
    assert ctypes.sizeof(v4l2_abi.V4L2Capability) == 104
    assert ctypes.sizeof(v4l2_abi.V4L2PixFormat) == 48
    assert ctypes.sizeof(v4l2_abi.V4L2StreamParm) == 204
    pointer = ctypes.sizeof(ctypes.c_void_p)
    assert ctypes.sizeof(v4l2_abi.V4L2Format) == (208 if pointer == 8 else 204)
    assert v4l2_abi.V4L2Format.fmt.offset == pointer
    assert v4l2_abi.V4L2OutputParm.timeperframe.offset == 8


@pytest.mark.skipif(ctypes.sizeof(ctypes.c_void_p) != 8, reason="request numbers below are the 64-bit ones")
def test_ioctl_request_numbers_match_videodev2_on_64bit():
    # Values of the kernel macros as compiled against linux/videodev2.h on x86_64/aarch64.
    assert v4l2_abi.VIDIOC_QUERYCAP == 0x80685600
    assert v4l2_abi.VIDIOC_G_FMT == 0xC0D05604
    assert v4l2_abi.VIDIOC_S_FMT == 0xC0D05605
    assert v4l2_abi.VIDIOC_S_PARM == 0xC0CC5616
    assert v4l2_abi.VIDIOC_STREAMON == 0x40045612
    assert v4l2_abi.VIDIOC_STREAMOFF == 0x40045613


def test_fourcc_round_trip():
    assert v4l2_abi.v4l2_fourcc("YUYV") == 0x56595559
    assert v4l2_abi.fourcc_to_str(v4l2_abi.v4l2_fourcc("YU12")) == "YU12"
    with pytest.raises(ValueError):
        v4l2_abi.v4l2_fourcc("YUV")


@pytest.mark.parametrize("fps, expected", [(30, (1, 30)), (25.0, (1, 25)), (29.97, (100, 2997)), (7.5, (2, 15))])
def test_fps_to_timeperframe(fps, expected):
    assert v4l2.fps_to_timeperframe(fps) == expected


def test_fps_to_timeperframe_rejects_zero():
    with pytest.raises(ValueError):
        v4l2.fps_to_timeperframe(0)


def test_scan_video_nodes_sorts_numerically_and_ignores_other_entries(tmp_path):
    for name in ("video10", "video2", "video0", "videoX", "video-1", "media0", "video1"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "v4l").mkdir()
    assert v4l2.scan_video_nodes(tmp_path) == [str(tmp_path / f"video{n}") for n in (0, 1, 2, 10)]


def test_no_dev_dir_and_empty_dev_dir_give_empty_lists(tmp_path):
    assert v4l2.list_devices(dev_dir=tmp_path / "missing") == []
    assert v4l2.list_devices(dev_dir=tmp_path) == []
    assert v4l2.find_loopback([]) is None


def test_list_devices_on_real_dev_does_not_raise():
    devices = v4l2.list_devices()
    assert all(d.path.startswith("/dev/video") for d in devices)


def test_regular_files_in_a_fake_dev_tree_are_reported_unreadable(tmp_path):
    # Real OsDeviceIO against files that are not V4L2 nodes: QUERYCAP fails with ENOTTY.
    (tmp_path / "video0").write_bytes(b"not a device")
    devices = v4l2.list_devices(dev_dir=tmp_path)
    assert len(devices) == 1
    assert devices[0].role == "unreadable"
    assert "ENOTTY" in devices[0].error
    assert not devices[0].is_loopback and not devices[0].can_output
    assert "cannot query" in v4l2.describe_devices(devices)


def test_list_devices_classifies_camera_metadata_and_loopbacks():
    io = laptop_io()
    devices = v4l2.list_devices(io)
    assert [d.path for d in devices] == ["/dev/video0", "/dev/video1", "/dev/video10", "/dev/video11"]
    assert [d.role for d in devices] == ["camera", "metadata", "loopback", "loopback"]
    cam, meta, busy, idle = devices
    assert cam.can_capture and not cam.can_output and cam.card == "Integrated Camera" and cam.driver == "uvcvideo"
    assert not meta.can_capture
    assert busy.is_loopback and busy.can_capture and not busy.can_output
    assert idle.is_loopback and idle.can_output
    # every probe opened read-only, queried and closed again
    assert io.ops("/dev/video0") == ["open", "QUERYCAP", "close"]
    assert not io._open


def test_find_loopback_skips_loopbacks_that_already_have_a_producer():
    devices = v4l2.list_devices(laptop_io())
    assert v4l2.find_loopback(devices).path == "/dev/video11"
    assert v4l2.loopback_paths(devices) == ["/dev/video10", "/dev/video11"]
    assert v4l2.find_loopback(devices[:3]) is None


def test_describe_devices_says_which_node_is_which():
    text = v4l2.describe_devices(v4l2.list_devices(laptop_io()))
    lines = text.splitlines()
    assert lines[0].startswith("/dev/video0: camera") and "Integrated Camera" in lines[0]
    assert lines[1].startswith("/dev/video1: metadata")
    assert lines[2].startswith("/dev/video10: loopback") and "another program" in lines[2]
    assert lines[3].startswith("/dev/video11: loopback") and "ready for output" in lines[3]
    assert "modprobe" not in text


def test_describe_devices_without_loopback_names_the_modprobe_line():
    io = SimulatedDeviceIO({"/dev/video0": SimulatedNode(driver="uvcvideo", card="Cam", caps=CAMERA_CAPS)})
    text = v4l2.describe_devices(v4l2.list_devices(io))
    assert v4l2.MODPROBE_COMMAND in text
    assert "not loaded" in v4l2.describe_devices([])


def test_probe_reports_permission_errors():
    io = SimulatedDeviceIO({"/dev/video3": SimulatedNode(fail={"open": errno.EACCES})})
    device = v4l2.probe_device("/dev/video3", io)
    assert device.role == "unreadable" and device.error.startswith("EACCES")


class _CapabilitiesOnlyIO:
    """An old driver: fills ``capabilities`` without the DEVICE_CAPS flag."""

    def ioctl(self, fd, request, arg):
        assert request == v4l2_abi.VIDIOC_QUERYCAP
        arg.driver[:4] = b"old\0"
        arg.capabilities = v4l2_abi.V4L2_CAP_VIDEO_CAPTURE
        arg.device_caps = v4l2_abi.V4L2_CAP_VIDEO_OUTPUT  # garbage that must be ignored


def test_query_capability_falls_back_to_capabilities_without_device_caps_flag():
    cap = v4l2.query_capability(_CapabilitiesOnlyIO(), 3)
    assert cap.driver == "old"
    assert cap.caps == v4l2_abi.V4L2_CAP_VIDEO_CAPTURE


def test_format_and_frame_rate_ioctls_fill_the_kernel_structs():
    io = SimulatedDeviceIO({"/dev/video10": SimulatedNode()})
    fd = io.open("/dev/video10", 0)
    yuyv = v4l2_abi.v4l2_fourcc("YUYV")
    got = v4l2.set_output_format(io, fd, 640, 360, yuyv, 1280, 640 * 360 * 2)
    assert (got.width, got.height, got.fourcc, got.bytesperline, got.sizeimage) == (640, 360, "YUYV", 1280, 460800)
    sent = v4l2_abi.V4L2Format.from_buffer_copy(io.calls[-1].arg)
    assert sent.type == v4l2_abi.V4L2_BUF_TYPE_VIDEO_OUTPUT
    assert sent.fmt.pix.field == v4l2_abi.V4L2_FIELD_NONE
    assert sent.fmt.pix.colorspace == v4l2_abi.V4L2_COLORSPACE_SRGB
    assert v4l2.get_format(io, fd) == got
    assert v4l2.set_output_frame_rate(io, fd, 15) == (1, 15)
    parm = v4l2_abi.V4L2StreamParm.from_buffer_copy(io.calls[-1].arg)
    assert parm.type == v4l2_abi.V4L2_BUF_TYPE_VIDEO_OUTPUT
    assert parm.parm.output.capability == v4l2_abi.V4L2_CAP_TIMEPERFRAME
    v4l2.stream_on(io, fd)
    assert int.from_bytes(io.calls[-1].arg, "little") == v4l2_abi.V4L2_BUF_TYPE_VIDEO_OUTPUT
    assert io.nodes["/dev/video10"].streaming
    v4l2.stream_off(io, fd)
    assert not io.nodes["/dev/video10"].streaming
    io.close(fd)


def test_s_fmt_on_a_capture_only_node_is_einval():
    io = SimulatedDeviceIO({"/dev/video0": SimulatedNode(driver="uvcvideo", caps=CAMERA_CAPS)})
    fd = io.open("/dev/video0", 0)
    with pytest.raises(OSError) as info:
        v4l2.set_output_format(io, fd, 640, 480, v4l2_abi.v4l2_fourcc("YUYV"), 1280, 614400)
    assert info.value.errno == errno.EINVAL


def test_real_io_passes_every_struct_to_the_kernel(tmp_path):
    # A regular file answers every V4L2 ioctl with ENOTTY; a TypeError here would mean a struct is not
    # passed as a writable buffer.
    path = tmp_path / "video0"
    path.write_bytes(b"")
    io = v4l2.OsDeviceIO()
    fd = io.open(str(path), os.O_WRONLY)
    try:
        calls = [
            lambda: v4l2.query_capability(io, fd),
            lambda: v4l2.set_output_format(io, fd, 64, 48, v4l2_abi.v4l2_fourcc("YUYV"), 128, 6144),
            lambda: v4l2.get_format(io, fd),
            lambda: v4l2.set_output_frame_rate(io, fd, 30),
            lambda: v4l2.stream_on(io, fd),
            lambda: v4l2.stream_off(io, fd),
        ]
        for call in calls:
            with pytest.raises(OSError) as info:
                call()
            assert info.value.errno == errno.ENOTTY
        assert io.write(fd, memoryview(b"abc")) == 3
    finally:
        io.close(fd)
