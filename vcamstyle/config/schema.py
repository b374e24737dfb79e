"""The config schema: immutable pydantic models, one per section, and ``Config`` for the whole file."""

from __future__ import annotations

import math
from pathlib import Path, PurePath
from typing import Annotated, Any, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from vcamstyle.paths import printable
from vcamstyle.config.checks import (
    FilePath,
    Flag,
    Fps,
    OptionalFilePath,
    OptionalFps,
    OptionalSize,
    Size,
    _backend_check,
    _camera_device_check,
    _choice_check,
    _choice_message,
    _color_check,
    _compute_device_check,
    _fmt,
    _number_check,
    _output_device_check,
    _Problem,
    _style_size_check,
    _threads_check,
    describe,
)
from vcamstyle.config.vocab import (
    EFFECTS,
    FITS,
    FOURCCS,
    KNOWN_SEGMENTERS,
    KNOWN_STYLIZERS,
    OUTPUT_FORMATS,
    PRECISIONS,
    REGION_NAMES,
    SCHEDULES,
    VIDEO_FILE_SUFFIXES,
    Effect,
    Fit,
    Fourcc,
    OutputFormat,
    Precision,
    Schedule,
    RegionName,
)


class _Section(BaseModel):
    """Common settings: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraConfig(_Section):
    """The physical camera (or a looped video/image file standing in for it)."""

    #: ``auto`` | ``/dev/videoN`` | index (int) | part of the camera's name | path of a video/image file.
    device: Annotated[Union[int, str], BeforeValidator(_camera_device_check)] = "auto"
    width: Size = 1280
    height: Size = 720
    fps: Fps = 30.0
    fourcc: Annotated[Fourcc, BeforeValidator(_choice_check(FOURCCS))] = "MJPG"
    mirror: Flag = False


class OutputConfig(_Section):
    """The virtual camera (or file / null sink). ``None`` sizes and rate mean "the camera's"."""

    backend: Annotated[str, BeforeValidator(_backend_check)] = "auto"
    device: Annotated[str, BeforeValidator(_output_device_check)] = "auto"
    path: OptionalFilePath = None
    format: Annotated[OutputFormat, BeforeValidator(_choice_check(OUTPUT_FORMATS))] = "yuyv"
    width: OptionalSize = None
    height: OptionalSize = None
    fps: OptionalFps = None
    #: A camera frame of another aspect ratio than the output: ``cover`` scales it to fill the output and
    #: crops the overflow (centred); ``contain`` scales it to fit and pads with black. Never stretched.
    fit: Annotated[Fit, BeforeValidator(_choice_check(FITS))] = "cover"
    #: Idle (camera released, no network, a placeholder at a low rate) while no app has the virtual
    #: camera open; wake when one opens it. Applies to the virtual camera only, not to file/none.
    on_demand: Flag = True
    #: Seconds to keep streaming after the last app closed the virtual camera.
    on_demand_grace_s: Annotated[float, BeforeValidator(_number_check(0, 3600))] = 10.0

    @field_validator("path", mode="before")
    @classmethod
    def _video_or_folder(cls, value: Any, info: ValidationInfo) -> Any:
        """With backend file: a video by its suffix, or a PNG folder (no suffix, or a name ending in /).
        The trailing / does not survive as a path, so a folder may not look like a video file."""
        if info.data.get("backend") != "file" or not isinstance(value, str) or not value.strip():
            return value
        suffix = PurePath(value).suffix.lower()
        videos = ", ".join(VIDEO_FILE_SUFFIXES)
        if value.endswith("/") and suffix in VIDEO_FILE_SUFFIXES:
            raise _Problem(f"expected a video file ({videos}) or a folder for PNG frames, got {describe(value)}, "
                           f"a folder named like a {suffix} video: write {value.rstrip('/')} for a video, or a "
                           "folder name without a video suffix")
        if not value.endswith("/") and suffix and suffix not in VIDEO_FILE_SUFFIXES:
            raise _Problem(f"expected a video file ({videos}) or a folder for PNG frames (a name ending in /), "
                           f"got {describe(value)}")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> OutputConfig:
        if self.backend == "file" and self.path is None:
            raise _Problem("expected a file path when backend is file, got null", key="path")
        if (self.width is None) != (self.height is None):
            missing = "height" if self.height is None else "width"
            other = "width" if missing == "height" else "height"
            raise _Problem(f"expected an integer when output.{other} is set, got null", key=missing)
        if self.width is not None and self.height is not None:
            for key, value in (("width", self.width), ("height", self.height)):
                if value % 2:  # YUYV and I420 share chroma between two pixels; RGB goes out at even sizes too
                    why = "" if self.format in ("yuyv", "i420") else " (the output always has even sides)"
                    raise _Problem(f"expected an even number for format {self.format}{why}, got {value}: "
                                   f"write {value - 1} or {value + 1}", key=key)
        return self


class SegmentationConfig(_Section):
    """Person segmentation and the mask post-processing."""

    #: A segmenter name, or ``auto``: chosen for the frame's aspect (see ``vcamstyle.pipeline.scene``).
    model: str = "auto"
    #: Temporal EMA weight of the previous mask, [0, 1); 0 = off.
    smoothing: Annotated[float, BeforeValidator(_number_check(0, 1, high_open=True))] = 0.6
    threshold: Annotated[float, BeforeValidator(_number_check(0, 1, low_open=True, high_open=True))] = 0.5
    #: Width of the soft ramp around ``threshold``; 0 = hard cut.
    softness: Annotated[float, BeforeValidator(_number_check(0, 0.5))] = 0.15
    #: Edge blur radius in output pixels.
    feather: Annotated[int, BeforeValidator(_number_check(0, 200, integer=True))] = 4

    @field_validator("model", mode="before")
    @classmethod
    def _known_model(cls, value: Any, info: ValidationInfo) -> Any:
        options = ("auto", *((info.context or {}).get("segmenters") or KNOWN_SEGMENTERS))
        if not isinstance(value, str) or value not in options:
            raise _Problem(_choice_message(value, options))
        return value


class StyleConfig(_Section):
    """The stylizer shared by both regions."""

    method: str = "magenta"
    #: Short side (pixels) the network runs at; the result is upsampled to the output. ``auto``: chosen
    #: while running from measured frame times to hold the output frame rate (``pipeline.style_size``).
    size: Annotated[Union[int, str], BeforeValidator(_style_size_check)] = "auto"
    preserve_color: Flag = False
    #: Temporal smoothing of the painted image where the scene is still, [0, 1); 0 = off.
    smoothing: Annotated[float, BeforeValidator(_number_check(0, 1, high_open=True))] = 0.7
    #: When the network runs: ``every_frame``, or ``async`` (its own thread, on the newest frame whenever
    #: it is free; each output frame reuses the newest painting on the current frame, the mask follows
    #: every frame); ``auto``: async on the CPU, every frame on a GPU (``pipeline.style_worker``).
    schedule: Annotated[Schedule, BeforeValidator(_choice_check(SCHEDULES))] = "auto"

    @field_validator("method", mode="before")
    @classmethod
    def _known_method(cls, value: Any, info: ValidationInfo) -> Any:
        options = tuple((info.context or {}).get("stylizers") or KNOWN_STYLIZERS)
        if not isinstance(value, str) or value not in options:
            raise _Problem(_choice_message(value, options))
        return value


class StyleRef(_Section):
    """One style image and its share of a region's blend (weights of a region sum to 1)."""

    image: FilePath
    weight: Annotated[float, BeforeValidator(_number_check(0, None, low_open=True))] = 1.0


class Region(_Section):
    """What one region (person or background) becomes.

    ``style`` is a tuple of ``StyleRef`` with normalised weights (one entry for a single image), or
    ``None``; the YAML may give one path or a list of ``{image, weight}`` (or bare paths, weight 1).
    ``color`` is normalised to lowercase ``#rrggbb``; ``color_rgb`` gives it as integers.
    """

    effect: Annotated[Effect, BeforeValidator(_choice_check(EFFECTS))] = "style"
    style: Union[tuple[StyleRef, ...], None] = Field(default="styles/brush_strokes.png", validate_default=True)
    #: 0 = the original region, 1 = the full effect.
    strength: Annotated[float, BeforeValidator(_number_check(0, 1))] = 0.7
    #: Blur kernel radius in output pixels.
    blur: Annotated[int, BeforeValidator(_number_check(1, 200, integer=True))] = 25
    color: Annotated[str, BeforeValidator(_color_check)] = "#202020"
    image: OptionalFilePath = None

    @field_validator("style", mode="before")
    @classmethod
    def _style_entries(cls, value: Any) -> Any:
        if value is None or isinstance(value, tuple):
            return value
        if isinstance(value, (str, Path)):
            value = [value]
        if not isinstance(value, list) or not value:
            raise _Problem(
                "expected a style image path or a list of {image: path, weight: number}, "
                f"got {describe(value)}"
            )
        return [{"image": entry} if isinstance(entry, (str, Path)) else entry for entry in value]

    @field_validator("style", mode="after")
    @classmethod
    def _normalise_weights(cls, value: tuple[StyleRef, ...] | None) -> tuple[StyleRef, ...] | None:
        if not value:
            return value
        total = sum(ref.weight for ref in value)
        if not math.isfinite(total):
            raise _Problem(f"expected weights whose sum is a finite number, got {' + '.join(_fmt(ref.weight) for ref in value)}"
                           " (more than the largest number there is): only their ratio counts, write e.g. 1 and 3")
        return tuple(ref.model_copy(update={"weight": ref.weight / total}) for ref in value)

    @model_validator(mode="after")
    def _needs(self) -> Region:
        if self.effect == "image" and self.image is None:
            raise _Problem("expected an image path when effect is image, got null", key="image")
        if self.effect == "style" and not self.style:
            raise _Problem("expected a style image (or a list of them) when effect is style, got null", key="style")
        return self

    @property
    def color_rgb(self) -> tuple[int, int, int]:
        """``color`` as (r, g, b) integers in [0, 255]."""
        return (int(self.color[1:3], 16), int(self.color[3:5], 16), int(self.color[5:7], 16))

    def summary(self) -> str:
        """A short human description, e.g. ``style brush_strokes.png @0.7``, ``blur 25``, ``original``."""
        strength = "" if self.strength == 1.0 and self.effect != "style" else f" @{_fmt(self.strength)}"
        if self.effect == "original":
            return "original"
        if self.effect == "blur":
            return f"blur {self.blur}{strength}"
        if self.effect == "color":
            return f"color {self.color}{strength}"
        if self.effect == "image":
            assert self.image is not None  # guaranteed by validation
            return f"image {printable(self.image.name)}{strength}"
        assert self.style  # guaranteed by validation
        if len(self.style) == 1:
            images = printable(self.style[0].image.name)
        else:
            images = " + ".join(f"{printable(ref.image.name)} {round(ref.weight * 100)}%" for ref in self.style)
        return f"style {images} @{_fmt(self.strength)}"


class PersonRegion(Region):
    """The person region: by default the brush-strokes style at strength 0.7."""

    style: Union[tuple[StyleRef, ...], None] = Field(default="styles/brush_strokes.png", validate_default=True)
    strength: Annotated[float, BeforeValidator(_number_check(0, 1))] = 0.7
    #: Style strength on the face (found from the top of the person mask), [0, 1]; at or above
    #: ``strength`` the face is styled like the rest of the person.
    face_strength: Annotated[float, BeforeValidator(_number_check(0, 1))] = 0.3


class BackgroundRegion(Region):
    """The background region: by default the stained-glass style at full strength."""

    style: Union[tuple[StyleRef, ...], None] = Field(default="styles/stained_glass.png", validate_default=True)
    strength: Annotated[float, BeforeValidator(_number_check(0, 1))] = 1.0


class ControlConfig(_Section):
    """The local control page (``vcamstyle ui``): an HTTP server on the loopback only. Read at start."""

    #: Serve the page while the daemon runs; false: nothing listens.
    enabled: Flag = True
    #: TCP port on 127.0.0.1; 0 = a free port chosen at each start (``vcamstyle ui`` finds it).
    port: Annotated[int, BeforeValidator(_number_check(0, 65535, integer=True))] = 0


class Config(_Section):
    """The whole configuration (immutable). ``load_config`` returns it with resolved paths."""

    camera: CameraConfig = Field(default_factory=CameraConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    segmentation: SegmentationConfig = Field(default_factory=SegmentationConfig)
    style: StyleConfig = Field(default_factory=StyleConfig)
    person: PersonRegion = Field(default_factory=PersonRegion)
    background: BackgroundRegion = Field(default_factory=BackgroundRegion)
    control: ControlConfig = Field(default_factory=ControlConfig)
    #: ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N``.
    device: Annotated[str, BeforeValidator(_compute_device_check)] = "auto"
    #: ``auto``: float16 on CUDA, bfloat16 on CPUs with native bfloat16 instructions (for the models
    #: that support it), else float32; ``float32``: always full precision.
    precision: Annotated[Precision, BeforeValidator(_choice_check(PRECISIONS))] = "auto"
    #: Threads for the networks: ``auto`` (measured while running: fewer when another program keeps
    #: the cores busy) or a fixed number.
    threads: Annotated[Union[int, str], BeforeValidator(_threads_check)] = "auto"
    #: Where upstream checkpoints live; ``None`` = the default resolution (see ``vcamstyle.paths``).
    weights_dir: OptionalFilePath = None

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        """A section written with no keys under it (``camera:``) means its defaults."""
        if isinstance(data, dict):
            return {key: ({} if value is None and key in _SECTION_KEYS else value) for key, value in data.items()}
        return data

    def region(self, name: RegionName) -> Region:
        """``person`` or ``background`` by name."""
        if name not in REGION_NAMES:
            raise KeyError(f"unknown region {name!r}; expected one of {', '.join(REGION_NAMES)}")
        return self.person if name == "person" else self.background

    def summary_region(self, name: RegionName) -> str:
        """Short description of a region for ``status``, e.g. ``style brush_strokes.png @0.7``."""
        return self.region(name).summary()


_SECTION_KEYS = frozenset({"camera", "output", "segmentation", "style", "person", "background", "control"})
