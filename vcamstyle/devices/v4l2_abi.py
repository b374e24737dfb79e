"""The V4L2 kernel ABI this project uses: ioctl request numbers, constants and struct layouts.

Everything here mirrors the UAPI header ``linux/videodev2.h`` (and the asm-generic ``_IOC`` encoding);
nothing opens a device. ``vcamstyle.devices.v4l2`` builds the device calls on top of it.
"""

from __future__ import annotations

import ctypes

# --- ioctl request numbers (asm-generic _IOC encoding: dir << 30 | size << 16 | type << 8 | nr) ----------

_IOC_WRITE = 1
_IOC_READ = 2


def _ioc(direction: int, nr: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (ord("V") << 8) | nr


# --- constants ------------------------------------------------------------------------------------------

V4L2_BUF_TYPE_VIDEO_CAPTURE = 1
V4L2_BUF_TYPE_VIDEO_OUTPUT = 2
V4L2_FIELD_NONE = 1
V4L2_COLORSPACE_SRGB = 8

V4L2_CAP_VIDEO_CAPTURE = 0x00000001
V4L2_CAP_VIDEO_OUTPUT = 0x00000002
V4L2_CAP_VIDEO_CAPTURE_MPLANE = 0x00001000
V4L2_CAP_VIDEO_OUTPUT_MPLANE = 0x00002000
V4L2_CAP_VIDEO_M2M_MPLANE = 0x00004000
V4L2_CAP_VIDEO_M2M = 0x00008000
V4L2_CAP_META_CAPTURE = 0x00800000
V4L2_CAP_READWRITE = 0x01000000
V4L2_CAP_STREAMING = 0x04000000
V4L2_CAP_DEVICE_CAPS = 0x80000000
V4L2_CAP_TIMEPERFRAME = 0x1000


def v4l2_fourcc(code: str) -> int:
    """The V4L2 pixel format code of a four-character string ('YUYV' -> 0x56595559)."""
    if len(code) != 4:
        raise ValueError(f"a fourcc has four characters, got {code!r}")
    a, b, c, d = (ord(ch) for ch in code)
    return a | (b << 8) | (c << 16) | (d << 24)


def fourcc_to_str(value: int) -> str:
    """The four characters of a V4L2 fourcc integer."""
    return "".join(chr((value >> shift) & 0xFF) for shift in (0, 8, 16, 24))


# --- struct layouts (linux/videodev2.h) -------------------------------------------------------------------


class V4L2Capability(ctypes.Structure):
    """``struct v4l2_capability`` (104 bytes)."""

    _fields_ = [
        ("driver", ctypes.c_uint8 * 16),
        ("card", ctypes.c_uint8 * 32),
        ("bus_info", ctypes.c_uint8 * 32),
        ("version", ctypes.c_uint32),
        ("capabilities", ctypes.c_uint32),
        ("device_caps", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32 * 3),
    ]


class V4L2PixFormat(ctypes.Structure):
    """``struct v4l2_pix_format`` (48 bytes)."""

    _fields_ = [
        ("width", ctypes.c_uint32),
        ("height", ctypes.c_uint32),
        ("pixelformat", ctypes.c_uint32),
        ("field", ctypes.c_uint32),
        ("bytesperline", ctypes.c_uint32),
        ("sizeimage", ctypes.c_uint32),
        ("colorspace", ctypes.c_uint32),
        ("priv", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("ycbcr_enc", ctypes.c_uint32),
        ("quantization", ctypes.c_uint32),
        ("xfer_func", ctypes.c_uint32),
    ]


class _V4L2FormatUnion(ctypes.Union):
    # The kernel union also holds struct v4l2_window, which contains pointers: the union is therefore
    # pointer-aligned, which puts 4 bytes of padding after ``type`` on 64-bit (sizeof == 208 there).
    _fields_ = [
        ("pix", V4L2PixFormat),
        ("raw_data", ctypes.c_uint8 * 200),
        ("_pointer_alignment", ctypes.c_void_p),
    ]


class V4L2Format(ctypes.Structure):
    """``struct v4l2_format`` (208 bytes on 64-bit, 204 on 32-bit)."""

    _fields_ = [("type", ctypes.c_uint32), ("fmt", _V4L2FormatUnion)]


class V4L2Fract(ctypes.Structure):
    """``struct v4l2_fract``."""

    _fields_ = [("numerator", ctypes.c_uint32), ("denominator", ctypes.c_uint32)]


class V4L2OutputParm(ctypes.Structure):
    """``struct v4l2_outputparm``."""

    _fields_ = [
        ("capability", ctypes.c_uint32),
        ("outputmode", ctypes.c_uint32),
        ("timeperframe", V4L2Fract),
        ("extendedmode", ctypes.c_uint32),
        ("writebuffers", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32 * 4),
    ]


class _V4L2StreamParmUnion(ctypes.Union):
    _fields_ = [("output", V4L2OutputParm), ("raw_data", ctypes.c_uint8 * 200)]


class V4L2StreamParm(ctypes.Structure):
    """``struct v4l2_streamparm`` (204 bytes)."""

    _fields_ = [("type", ctypes.c_uint32), ("parm", _V4L2StreamParmUnion)]


VIDIOC_QUERYCAP = _ioc(_IOC_READ, 0, ctypes.sizeof(V4L2Capability))
VIDIOC_G_FMT = _ioc(_IOC_READ | _IOC_WRITE, 4, ctypes.sizeof(V4L2Format))
VIDIOC_S_FMT = _ioc(_IOC_READ | _IOC_WRITE, 5, ctypes.sizeof(V4L2Format))
VIDIOC_STREAMON = _ioc(_IOC_WRITE, 18, ctypes.sizeof(ctypes.c_int))
VIDIOC_STREAMOFF = _ioc(_IOC_WRITE, 19, ctypes.sizeof(ctypes.c_int))
VIDIOC_S_PARM = _ioc(_IOC_READ | _IOC_WRITE, 22, ctypes.sizeof(V4L2StreamParm))

IOCTL_NAMES = {
    VIDIOC_QUERYCAP: "QUERYCAP",
    VIDIOC_G_FMT: "G_FMT",
    VIDIOC_S_FMT: "S_FMT",
    VIDIOC_S_PARM: "S_PARM",
    VIDIOC_STREAMON: "STREAMON",
    VIDIOC_STREAMOFF: "STREAMOFF",
}
