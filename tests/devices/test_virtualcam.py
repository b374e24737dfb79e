"""Frame sinks: the loopback backend's ioctl sequence and error messages, colour conversion, pyvirtualcam
backends, file output, the null sink, pacing and the factory."""

from __future__ import annotations

import errno
import logging
import platform
from dataclasses import dataclass
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import pyvirtualcam
from pyvirtualcam.camera import BACKENDS

from vcamstyle.devices import v4l2, v4l2_abi, virtualcam
from vcamstyle.devices.v4l2_sim import SimulatedDeviceIO, SimulatedNode
from vcamstyle.devices.virtualcam import (
    FileSink,
    FramePacer,
    NullSink,
    OutputSettings,
    VirtualCamSink,
    create_sink,
)
from vcamstyle.errors import SinkError

W, H, FPS = 64, 48, 25
CAMERA_CAPS = v4l2_abi.V4L2_CAP_VIDEO_CAPTURE | v4l2_abi.V4L2_CAP_STREAMING
LOOPBACK_CAPS = v4l2_abi.V4L2_CAP_VIDEO_OUTPUT | v4l2_abi.V4L2_CAP_READWRITE | v4l2_abi.V4L2_CAP_STREAMING


def make_io(**loopback_kw) -> SimulatedDeviceIO:
    """A real camera at video0 and a loopback at video10 (configured by ``loopback_kw``)."""
    return SimulatedDeviceIO({
        "/dev/video0": SimulatedNode(driver="uvcvideo", card="Integrated Camera", caps=CAMERA_CAPS),
        "/dev/video10": SimulatedNode(**{"card": "vcamstyle", "caps": LOOPBACK_CAPS, **loopback_kw}),
    })


def gradient_frame(seed: int = 0, width: int = W, height: int = H) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def solid(rgb: tuple[int, int, int], width: int = W, height: int = H) -> np.ndarray:
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = rgb
    return frame


def bt601_limited(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """Reference Y, Cb, Cr (ITU-R BT.601, studio swing) for 8-bit RGB."""
    r, g, b = rgb
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    cb = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    cr = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    return y, cb, cr


# --- the v4l2loopback backend -------------------------------------------------------------------------------


def test_loopback_ioctl_sequence_and_struct_contents():
    io = make_io()
    frames = [gradient_frame(i) for i in range(3)]
    sink = create_sink(OutputSettings(device="/dev/video10"), W, H, FPS, io=io)
    for frame in frames:
        sink.send(frame)
    sink.close()

    assert io.ops() == ["open", "QUERYCAP", "S_FMT", "S_PARM", "STREAMON", "write", "write", "write",
                        "STREAMOFF", "close"]
    assert {c.path for c in io.calls} == {"/dev/video10"}
    by_op = {c.op: c for c in io.calls}

    fmt = v4l2_abi.V4L2Format.from_buffer_copy(by_op["S_FMT"].arg)
    assert fmt.type == v4l2_abi.V4L2_BUF_TYPE_VIDEO_OUTPUT
    pix = fmt.fmt.pix
    assert (pix.width, pix.height) == (W, H)
    assert pix.pixelformat == v4l2_abi.v4l2_fourcc("YUYV")
    assert pix.bytesperline == 2 * W
    assert pix.sizeimage == 2 * W * H
    assert pix.field == v4l2_abi.V4L2_FIELD_NONE

    parm = v4l2_abi.V4L2StreamParm.from_buffer_copy(by_op["S_PARM"].arg)
    assert parm.type == v4l2_abi.V4L2_BUF_TYPE_VIDEO_OUTPUT
    tpf = parm.parm.output.timeperframe
    assert (tpf.numerator, tpf.denominator) == (1, FPS)

    for op in ("STREAMON", "STREAMOFF"):
        assert int.from_bytes(by_op[op].arg, "little") == v4l2_abi.V4L2_BUF_TYPE_VIDEO_OUTPUT

    node = io.nodes["/dev/video10"]
    assert len(node.frames) == 3
    for written, frame in zip(node.frames, frames):
        assert len(written) == 2 * W * H
        assert written == virtualcam.rgb_to_yuyv(frame).tobytes()
    assert not node.streaming
    assert not io._open
    assert sink.frames_sent == 3


def test_auto_device_probes_then_opens_the_loopback():
    io = make_io()
    sink = create_sink(None, W, H, FPS, io=io)
    assert sink.device == "/dev/video10"
    assert sink.backend == virtualcam.LOOPBACK_BACKEND_NAME
    assert "/dev/video10" in sink.describe() and "YUYV" in sink.describe()
    sink.close()
    assert io.ops("/dev/video0") == ["open", "QUERYCAP", "close"]  # probed, never written
    assert io.ops("/dev/video10")[3:] == ["open", "QUERYCAP", "S_FMT", "S_PARM", "STREAMON", "STREAMOFF", "close"]


@pytest.mark.parametrize("fmt, fourcc, bytesperline, sizeimage", [
    ("i420", "YU12", W, W * H * 3 // 2),
    ("rgb", "RGB3", 3 * W, 3 * W * H),
])
def test_loopback_other_formats(fmt, fourcc, bytesperline, sizeimage):
    io = make_io()
    frame = gradient_frame(7)
    with create_sink(OutputSettings(format=fmt), W, H, FPS, io=io) as sink:
        sink.send(frame)
    s_fmt = next(c for c in io.calls if c.op == "S_FMT")
    pix = v4l2_abi.V4L2Format.from_buffer_copy(s_fmt.arg).fmt.pix
    assert (pix.pixelformat, pix.bytesperline, pix.sizeimage) == (v4l2_abi.v4l2_fourcc(fourcc), bytesperline, sizeimage)
    expected = virtualcam.rgb_to_i420(frame) if fmt == "i420" else frame
    assert io.nodes["/dev/video10"].frames == [expected.tobytes()]


def test_failing_write_raises_sink_error_with_errno_text():
    io = make_io(fail={"write": errno.ENODEV}, fail_write_after=2)
    sink = create_sink(None, W, H, FPS, io=io)
    sink.send(gradient_frame(0))
    sink.send(gradient_frame(1))
    with pytest.raises(SinkError) as info:
        sink.send(gradient_frame(2))
    assert "ENODEV" in info.value.message and "/dev/video10" in info.value.message
    assert "went away" in info.value.hint
    assert sink.frames_sent == 2
    sink.close()
    assert io.ops()[-2:] == ["STREAMOFF", "close"]


def test_einval_on_s_fmt_names_the_loopback_devices():
    io = make_io(fail={"S_FMT": errno.EINVAL})
    io.nodes["/dev/video11"] = SimulatedNode(card="second", caps=LOOPBACK_CAPS)
    with pytest.raises(SinkError) as info:
        create_sink(OutputSettings(device="/dev/video10"), W, H, FPS, io=io)
    err = info.value
    assert "Errno 22" in err.message and "wrong /dev/videoN" in err.message
    assert "/dev/video10" in err.hint and "/dev/video11" in err.hint
    assert "/dev/video0" not in err.hint
    assert not io._open  # the descriptor was closed
    assert "STREAMON" not in io.ops("/dev/video10")


def test_real_camera_as_output_says_which_device_is_the_loopback():
    io = make_io()
    with pytest.raises(SinkError) as info:
        create_sink(OutputSettings(device="/dev/video0"), W, H, FPS, io=io)
    err = info.value
    assert "not a v4l2loopback device" in err.message and "camera" in err.message
    assert "/dev/video10" in err.hint
    assert "S_FMT" not in io.ops("/dev/video0")
    assert not io._open


def test_permission_denied_names_the_video_group():
    io = make_io(fail={"open": errno.EACCES})
    with pytest.raises(SinkError) as info:
        create_sink(OutputSettings(device="/dev/video10"), W, H, FPS, io=io)
    assert "permission denied" in info.value.message
    assert "usermod -aG video" in info.value.hint and "log out" in info.value.hint
    with pytest.raises(SinkError) as info:  # auto discovery cannot read the node either
        create_sink(None, W, H, FPS, io=io)
    assert "usermod -aG video" in info.value.hint


def test_no_loopback_device_gives_the_modprobe_line():
    io = SimulatedDeviceIO({"/dev/video0": SimulatedNode(driver="uvcvideo", caps=CAMERA_CAPS)})
    with pytest.raises(SinkError) as info:
        create_sink(None, W, H, FPS, io=io)
    assert "no v4l2loopback device" in info.value.message
    assert v4l2.MODPROBE_COMMAND in info.value.hint
    assert info.value.hint.startswith("run `vcamstyle setup loopback`")  # it writes the boot-time files
    with pytest.raises(SinkError) as info:
        create_sink(None, W, H, FPS, io=SimulatedDeviceIO(), dev_dir="/nowhere")
    assert v4l2.MODPROBE_COMMAND in info.value.hint


def test_missing_device_path_gives_the_modprobe_line():
    io = SimulatedDeviceIO()
    with pytest.raises(SinkError) as info:
        create_sink(OutputSettings(device="/dev/video10"), W, H, FPS, io=io)
    assert "does not exist" in info.value.message and v4l2.MODPROBE_COMMAND in info.value.hint


def test_loopback_held_by_another_producer():
    io = make_io(caps=v4l2_abi.V4L2_CAP_VIDEO_CAPTURE | v4l2_abi.V4L2_CAP_STREAMING)
    with pytest.raises(SinkError) as info:
        create_sink(None, W, H, FPS, io=io)
    assert "in use by another producer" in info.value.message
    with pytest.raises(SinkError) as info:
        create_sink(OutputSettings(device="/dev/video10"), W, H, FPS, io=io)
    assert "another program" in info.value.message and "fuser" in info.value.hint


def test_driver_keeping_another_format_is_an_error():
    kept = v4l2.PixFormat(1280, 720, v4l2_abi.v4l2_fourcc("YUYV"), 2560, 1280 * 720 * 2)
    io = make_io(fixed_format=kept)
    with pytest.raises(SinkError) as info:
        create_sink(None, W, H, FPS, io=io)
    assert "1280x720" in info.value.message
    assert not io._open


def test_driver_with_smaller_frames_than_ours_is_an_error():
    cut = v4l2.PixFormat(W, H, v4l2_abi.v4l2_fourcc("YUYV"), 2 * W, W * H)
    with pytest.raises(SinkError) as info:
        create_sink(None, W, H, FPS, io=make_io(fixed_format=cut))
    assert "would be cut" in info.value.message


def test_s_parm_and_streamon_failures_are_logged_not_fatal(caplog):
    io = make_io(fail={"S_PARM": errno.ENOTTY, "STREAMON": errno.EINVAL})
    with caplog.at_level(logging.WARNING, logger="vcamstyle.devices.loopback"):
        sink = create_sink(None, W, H, FPS, io=io)
    sink.send(gradient_frame())
    sink.close()
    assert "frame rate" in caplog.text and "STREAMON failed" in caplog.text
    assert "STREAMOFF" not in io.ops("/dev/video10")  # never streamed, so never stopped
    assert len(io.nodes["/dev/video10"].frames) == 1


def test_streamoff_failure_still_closes_and_close_is_idempotent(caplog):
    io = make_io(fail={"STREAMOFF": errno.ENODEV})
    sink = create_sink(None, W, H, FPS, io=io)
    with caplog.at_level(logging.WARNING, logger="vcamstyle.devices.loopback"):
        sink.close()
        sink.close()
    assert io.ops("/dev/video10").count("close") == 2  # probe + ours, once
    assert "STREAMOFF failed" in caplog.text
    assert not io._open
    with pytest.raises(SinkError):
        sink.send(gradient_frame())


def test_wrong_frame_shape_is_a_value_error():
    with create_sink(None, W, H, FPS, io=make_io()) as sink:
        with pytest.raises(ValueError):
            sink.send(gradient_frame(width=W + 2))
        with pytest.raises(ValueError):
            sink.send(gradient_frame().astype(np.float32))


@pytest.mark.parametrize("fmt, width, height", [("yuyv", 63, 48), ("i420", 64, 47), ("bgra", 64, 48)])
def test_unusable_format_or_size_is_refused(fmt, width, height):
    with pytest.raises(SinkError):
        create_sink(OutputSettings(format=fmt), width, height, FPS, io=make_io())


# --- colour conversion -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("rgb", [(255, 0, 0), (0, 255, 0), (0, 0, 255), (128, 128, 128)])
def test_yuyv_colours_are_bt601_limited_range(rgb):
    out = virtualcam.rgb_to_yuyv(solid(rgb))
    assert out.shape == (H, W, 2) and out.dtype == np.uint8
    packed = out.reshape(H, W // 2, 4).astype(float)  # Y0 U Y1 V
    y, cb, cr = bt601_limited(rgb)
    np.testing.assert_allclose(packed[..., 0], y, atol=2)
    np.testing.assert_allclose(packed[..., 2], y, atol=2)
    np.testing.assert_allclose(packed[..., 1], cb, atol=2)
    np.testing.assert_allclose(packed[..., 3], cr, atol=2)


def test_yuyv_luma_follows_the_pixel_order():
    frame = solid((0, 0, 0))
    frame[:, 1::2] = 255  # odd columns white
    packed = virtualcam.rgb_to_yuyv(frame).reshape(H, W // 2, 4)
    assert np.all(packed[..., 0] <= 17) and np.all(packed[..., 2] >= 233)


@pytest.mark.parametrize("rgb", [(255, 0, 0), (0, 255, 0), (128, 128, 128)])
def test_i420_planes_and_colours(rgb):
    out = virtualcam.rgb_to_i420(solid(rgb))
    assert out.shape == (H * 3 // 2, W) and out.dtype == np.uint8
    flat = out.reshape(-1).astype(float)
    y_plane = flat[: W * H]
    u_plane = flat[W * H: W * H * 5 // 4]
    v_plane = flat[W * H * 5 // 4:]
    assert u_plane.size == v_plane.size == W * H // 4
    y, cb, cr = bt601_limited(rgb)
    np.testing.assert_allclose(y_plane, y, atol=2)
    np.testing.assert_allclose(u_plane, cb, atol=2)  # U before V (I420, not YV12)
    np.testing.assert_allclose(v_plane, cr, atol=2)


# --- any pyvirtualcam backend ----------------------------------------------------------------------------------


class RecordingBackend:
    """A pyvirtualcam backend that keeps what it is sent."""

    instances: list["RecordingBackend"] = []

    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        self.width, self.height, self.fps, self.fourcc, self._device, self.kw = width, height, fps, fourcc, device, kw
        self.frames: list[np.ndarray] = []
        self.closed = 0
        RecordingBackend.instances.append(self)

    def close(self):
        self.closed += 1

    def send(self, frame):
        self.frames.append(frame.copy())

    def device(self):
        return self._device or "Recording Camera"

    def native_fourcc(self):
        return self.fourcc


class BrokenBackend(RecordingBackend):
    def __init__(self, **kw):
        raise RuntimeError("OBS Virtual Camera is not installed")


@pytest.fixture
def recording_backend():
    RecordingBackend.instances.clear()
    pyvirtualcam.register_backend("test-recording", RecordingBackend)
    yield "test-recording"
    BACKENDS.pop("test-recording", None)


def test_registered_backend_receives_frames_of_the_right_size_and_count(recording_backend):
    frames = [gradient_frame(i) for i in range(4)]
    sink = create_sink({"backend": recording_backend, "format": "yuyv"}, W, H, FPS)
    for frame in frames:
        sink.send(frame)
    backend = RecordingBackend.instances[-1]
    assert (backend.width, backend.height, backend.fps) == (W, H, FPS)
    assert backend.fourcc == pyvirtualcam.util.encode_fourcc(pyvirtualcam.PixelFormat.YUYV.value)
    assert backend.kw == {}  # loopback-only arguments are not forwarded
    assert len(backend.frames) == 4
    assert all(f.ndim == 1 and f.dtype == np.uint8 and f.size == W * H * 2 for f in backend.frames)
    np.testing.assert_array_equal(backend.frames[2], virtualcam.rgb_to_yuyv(frames[2]).reshape(-1))
    assert sink.device == "Recording Camera" and "test-recording" in sink.describe()
    sink.close()
    sink.close()
    assert backend.closed == 1


def test_registered_backend_gets_the_device_name_and_rgb(recording_backend):
    sink = create_sink(OutputSettings(backend=recording_backend, device="Cam 2", format="rgb"), W, H, FPS)
    sink.send(solid((10, 20, 30)))
    backend = RecordingBackend.instances[-1]
    assert backend._device == "Cam 2" and sink.device == "Cam 2"
    assert backend.frames[0].size == W * H * 3 and backend.frames[0][:3].tolist() == [10, 20, 30]
    sink.close()


def test_unknown_backend_lists_the_available_ones():
    with pytest.raises(SinkError) as info:
        create_sink(OutputSettings(backend="nonesuch"), W, H, FPS)
    assert "nonesuch" in info.value.message and virtualcam.LOOPBACK_BACKEND_NAME in info.value.hint


def test_macos_without_obs_says_start_obs_virtual_camera(monkeypatch):
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    monkeypatch.delitem(BACKENDS, "obs", raising=False)
    with pytest.raises(SinkError) as info:
        create_sink(None, W, H, FPS)
    assert "Start Virtual Camera" in info.value.hint
    monkeypatch.setitem(BACKENDS, "obs", BrokenBackend)
    with pytest.raises(SinkError) as info:
        create_sink(None, W, H, FPS)
    assert "not installed" in info.value.message and "Start Virtual Camera" in info.value.hint
    with pytest.raises(SinkError):
        create_sink(OutputSettings(backend="v4l2loopback"), W, H, FPS)


# --- file and null sinks ---------------------------------------------------------------------------------------


COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (128, 128, 128)]


def read_video(path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened()
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_file_sink_writes_a_readable_video(tmp_path, suffix):
    path = tmp_path / "out" / f"clip{suffix}"
    sink = create_sink(OutputSettings(kind="file", path=str(path)), W, H, FPS)
    assert isinstance(sink, FileSink)
    for colour in COLOURS:
        sink.send(solid(colour))
    sink.close()
    frames = read_video(path)
    assert len(frames) == len(COLOURS)
    for frame, colour in zip(frames, COLOURS):
        assert frame.shape == (H, W, 3)
        np.testing.assert_allclose(frame.reshape(-1, 3).mean(0), colour, atol=12)


def test_file_sink_png_directory_is_lossless(tmp_path):
    frames = [gradient_frame(i) for i in range(3)]
    with FileSink(tmp_path / "frames", W, H, FPS) as sink:
        for frame in frames:
            sink.send(frame)
        assert "PNG" in sink.describe()
    files = sorted((tmp_path / "frames").glob("*.png"))
    assert [f.name for f in files] == ["frame_000000.png", "frame_000001.png", "frame_000002.png"]
    for file, frame in zip(files, frames):
        np.testing.assert_array_equal(cv2.cvtColor(cv2.imread(str(file)), cv2.COLOR_BGR2RGB), frame)


def test_file_sink_errors(tmp_path):
    with pytest.raises(SinkError) as info:
        FileSink(tmp_path / "clip.webm", W, H, FPS)
    assert ".mp4" in info.value.hint
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(SinkError):
        FileSink(blocker / "clip.mp4", W, H, FPS)
    with pytest.raises(SinkError):
        create_sink(OutputSettings(kind="file"), W, H, FPS)
    sink = FileSink(tmp_path / "c.avi", W, H, FPS)
    sink.close()
    with pytest.raises(SinkError):
        sink.send(solid((0, 0, 0)))


def test_null_sink_counts_and_checks_shape():
    sink = create_sink({"backend": "null"}, W, H, FPS)
    assert isinstance(sink, NullSink) and isinstance(sink, virtualcam.FrameSink)
    for i in range(5):
        sink.send(gradient_frame(i))
    assert sink.frames_sent == 5 and "5 so far" in sink.describe()
    with pytest.raises(ValueError):
        sink.send(gradient_frame(height=H + 1))
    assert (sink.width, sink.height, sink.fps) == (W, H, FPS)
    sink.close()


# --- pacing ----------------------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_pacer_keeps_a_drift_free_grid():
    clock = FakeClock()
    pacer = FramePacer(10, clock, clock.sleep)
    for _ in range(50):
        clock.now += 0.03  # work
        pacer.wait()
    assert clock.now == pytest.approx(5.03)  # first deadline is one period after the first wait
    assert all(s == pytest.approx(0.07) for s in clock.sleeps[1:])


def test_pacer_catches_up_small_lateness_and_resyncs_after_a_stall():
    clock = FakeClock()
    pacer = FramePacer(10, clock, clock.sleep)
    pacer.wait()  # -> t = 0.1, next deadline 0.2
    clock.now = 0.25  # half a frame late
    assert pacer.wait() == 0.0  # no sleep, next deadline stays on the grid at 0.3
    clock.now = 0.26
    assert pacer.wait() == pytest.approx(0.04)
    clock.now = 1.0  # stalled for several frames
    assert pacer.wait() == 0.0  # resync: no burst of catch-up frames
    clock.now = 1.01
    assert pacer.wait() == pytest.approx(0.09)


def test_sink_pacing_defaults(recording_backend):
    clock = FakeClock()
    virtual = create_sink(OutputSettings(backend=recording_backend), W, H, 20, clock=clock, sleep=clock.sleep)
    virtual.wait_next_frame()
    assert clock.sleeps == [pytest.approx(0.05)]
    null = create_sink(OutputSettings(kind="null"), W, H, 20, clock=clock, sleep=clock.sleep)
    null.wait_next_frame()
    assert len(clock.sleeps) == 1  # file and null sinks are unpaced unless asked
    paced_null = create_sink(OutputSettings(kind="null", pace=True), W, H, 20, clock=clock, sleep=clock.sleep)
    paced_null.wait_next_frame()
    assert len(clock.sleeps) == 2
    virtual.close()


# --- factory ---------------------------------------------------------------------------------------------------


@dataclass
class ForeignOutputConfig:
    """Stands in for the config module's own output section (extra fields are ignored)."""

    backend: str = "null"
    device: str | None = None
    format: str = "i420"
    width: int = 32
    height: int = 16
    fps: float = 12.0
    mirror: bool = True


def test_create_sink_reads_foreign_config_objects_and_overrides():
    sink = create_sink(ForeignOutputConfig())
    assert isinstance(sink, NullSink) and (sink.width, sink.height, sink.fps) == (32, 16, 12.0)
    sink = create_sink(SimpleNamespace(backend="auto", path=None), W, H, FPS, kind="null")
    assert isinstance(sink, NullSink)
    with pytest.raises(TypeError):
        create_sink(None, W, H, FPS, colour="red")
    with pytest.raises(TypeError):
        create_sink(None, W, None, FPS, kind="null")
    with pytest.raises(SinkError):
        create_sink(OutputSettings(kind="stream"), W, H, FPS)


def test_virtual_sink_satisfies_the_protocol():
    sink = VirtualCamSink(W, H, FPS, io=make_io())
    assert isinstance(sink, virtualcam.FrameSink)
    assert sink.pixel_format == "yuyv"
    sink.close()


@pytest.mark.parametrize("pixel_format", ["yuyv", "i420", "rgb"])
def test_null_sink_does_the_virtual_cameras_conversion(pixel_format: str):
    """``output.backend: none`` (and ``vcamstyle bench``) pay the real sink's per-frame work: the frame
    is converted to ``output.format`` exactly as ``VirtualCamSink`` converts it."""
    sink = create_sink({"backend": "null", "format": pixel_format}, W, H, FPS)
    frame = gradient_frame(3)
    sink.send(frame)
    convert = virtualcam.PIXEL_FORMATS[pixel_format][1]
    expected = frame if convert is None else convert(frame)
    assert sink.last is not None and sink.last.shape == expected.shape and np.array_equal(sink.last, expected)


def test_null_sink_refuses_a_size_its_format_cannot_take():
    with pytest.raises(SinkError, match="even width"):
        create_sink({"backend": "null", "format": "yuyv"}, W + 1, H, FPS)
