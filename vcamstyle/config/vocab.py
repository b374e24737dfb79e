"""The config's vocabularies: known model and backend names, the allowed values, the stage names."""

from __future__ import annotations

from typing import Literal

#: Segmenter names the config accepts by default (kept in step with ``vcamstyle.models``; the model
#: registry is deliberately not imported here). ``load_config(..., segmenters=...)`` overrides it.
KNOWN_SEGMENTERS: tuple[str, ...] = ("selfie", "selfie_landscape", "unet_resnet18")
#: Stylizer names the config accepts by default (``load_config(..., stylizers=...)`` overrides it).
KNOWN_STYLIZERS: tuple[str, ...] = ("magenta", "adain", "sanet", "avatarnet")
#: Output backends vcamstyle knows; any other ``[a-z0-9_-]+`` name is accepted as a backend
#: registered with ``pyvirtualcam.register_backend``.
KNOWN_BACKENDS: tuple[str, ...] = ("auto", "v4l2loopback", "obs", "unitycapture", "file", "none")
OUTPUT_FORMATS: tuple[str, ...] = ("yuyv", "i420", "rgb")
#: File name suffixes ``output.path`` (backend file) records a video to (kept equal to the file sink's
#: containers, ``vcamstyle.devices.videofile.CONTAINERS``, by a test); any other name is a PNG folder.
VIDEO_FILE_SUFFIXES: tuple[str, ...] = (".mp4", ".mov", ".mkv", ".avi")
FOURCCS: tuple[str, ...] = ("MJPG", "YUYV", "auto")
PRECISIONS: tuple[str, ...] = ("auto", "float32")
#: How a camera frame of another aspect ratio fills the output: cover (crop) | contain (pad).
FITS: tuple[str, ...] = ("cover", "contain")
EFFECTS: tuple[str, ...] = ("original", "blur", "color", "image", "style")
#: When the style network runs: auto (async on the CPU) | every_frame | async (its own thread, newest frame).
SCHEDULES: tuple[str, ...] = ("auto", "every_frame", "async")
REGION_NAMES: tuple[str, ...] = ("person", "background")
#: Every stage name ``diff_stages`` can return.
STAGES: frozenset[str] = frozenset(
    {"camera", "output", "segmenter", "mask", "stylizer", "styles", "effects", "device"}
)

Effect = Literal["original", "blur", "color", "image", "style"]
OutputFormat = Literal["yuyv", "i420", "rgb"]
Fit = Literal["cover", "contain"]
Fourcc = Literal["MJPG", "YUYV", "auto"]
Precision = Literal["auto", "float32"]
Schedule = Literal["auto", "every_frame", "async"]
RegionName = Literal["person", "background"]
