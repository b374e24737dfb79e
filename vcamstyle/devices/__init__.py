"""The machine's video devices: the physical camera in, the virtual camera out.

- ``camera``: ``CameraSource``, the grab thread over a V4L2 camera or a video/image file.
- ``virtualcam``: the frame sinks (virtual camera through pyvirtualcam, file, none) and their pacing;
  ``sinkbase``: what all sinks share; ``filesink``: the recording (real time, never overwrites).
- ``videofile``: video files through PyAV (the recording's and ``render``'s writer).
- ``loopback``: our pyvirtualcam backend that drives v4l2loopback with the full ioctl sequence.
- ``v4l2``: device calls and discovery; ``v4l2_abi``: the kernel ABI (structs, ioctl numbers);
  ``v4l2_sim``: a simulated device layer for tests; ``pixfmt``: RGB to YUYV/I420 conversion.

Public face: the names in ``__all__``; other packages import only those.
"""

from vcamstyle.public import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "CameraSettings": "camera",
    "CameraSource": "camera",
    "IMAGE_SUFFIXES": "camera",
    "camera_rgb": "camera",
    "decoded_file_frames": "camera",
    "is_file_source": "camera",
    "placeholder_frame": "camera",
    "resolve_camera": "camera",
    "FrameSink": "virtualcam",
    "create_sink": "virtualcam",
    "VideoWriter": "videofile",
    "VIDEO_SUFFIXES": "videofile",
    "create_exclusive": "videofile",
    "create_free": "videofile",
    "v4l2": "v4l2",
    "ConsumerWatch": "consumers",
    "Holder": "consumers",
    "holders": "consumers",
})
