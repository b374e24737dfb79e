"""The configuration: schema, loading, validation with precise messages, diffing, the template.

One YAML file (default ``$XDG_CONFIG_HOME/vcamstyle/config.yaml``) describes the camera, the virtual
camera, the person mask and the effect of each region (person, background). ``load_config`` returns an
immutable ``Config`` whose relative paths are already resolved; every failure raises
``ConfigValidationError`` (a ``ConfigError``) naming the file, the key path, what was expected and
what was found, one problem per line. ``diff_stages`` tells the live reload which pipeline stages a
change touches. This module must stay light: no torch, no model imports.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import typing
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from vcamstyle import paths
from vcamstyle.errors import ConfigError

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------------
# Vocabularies
# --------------------------------------------------------------------------------------------------

#: Segmenter names the config accepts by default (kept in step with ``vcamstyle.models``; the model
#: registry is deliberately not imported here). ``load_config(..., segmenters=...)`` overrides it.
KNOWN_SEGMENTERS: tuple[str, ...] = ("selfie", "selfie_landscape", "unet_resnet18")
#: Stylizer names the config accepts by default (``load_config(..., stylizers=...)`` overrides it).
KNOWN_STYLIZERS: tuple[str, ...] = ("magenta", "adain", "sanet", "avatarnet")
#: Output backends vcamstyle knows; any other ``[a-z0-9_-]+`` name is accepted as a backend
#: registered with ``pyvirtualcam.register_backend``.
KNOWN_BACKENDS: tuple[str, ...] = ("auto", "v4l2loopback", "obs", "unitycapture", "file", "none")
OUTPUT_FORMATS: tuple[str, ...] = ("yuyv", "i420", "rgb")
FOURCCS: tuple[str, ...] = ("MJPG", "YUYV", "auto")
EFFECTS: tuple[str, ...] = ("original", "blur", "color", "image", "style")
REGION_NAMES: tuple[str, ...] = ("person", "background")
#: Every stage name ``diff_stages`` can return.
STAGES: frozenset[str] = frozenset(
    {"camera", "output", "segmenter", "mask", "stylizer", "styles", "effects", "device"}
)

Effect = Literal["original", "blur", "color", "image", "style"]
OutputFormat = Literal["yuyv", "i420", "rgb"]
Fourcc = Literal["MJPG", "YUYV", "auto"]
RegionName = Literal["person", "background"]

_BACKEND_NAME = re.compile(r"[a-z0-9_-]+")
_DEVICE = re.compile(r"auto|cpu|cuda|cuda:\d+")
_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_MAX_SIZE = 8192


# --------------------------------------------------------------------------------------------------
# Value checks: each raises _Problem("expected ..., got ...")
# --------------------------------------------------------------------------------------------------


class _Problem(ValueError):
    """A validation problem with a ready-made message; ``key`` extends the key path (cross-field)."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.key = key


def describe(value: Any) -> str:
    """How a found value is quoted in messages: YAML spelling for scalars, a kind for containers."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return repr(text)
    if isinstance(value, (list, tuple)):
        return f"a list ({len(value)} item{'s' if len(value) != 1 else ''})"
    if isinstance(value, Mapping):
        keys = ", ".join(str(k) for k in list(value)[:4])
        return f"a mapping ({keys}{', ...' if len(value) > 4 else ''})" if value else "an empty mapping"
    return f"{value} (a {type(value).__name__})"


def _fmt(number: float) -> str:
    return f"{number:g}"


def _number_check(
    low: float | None,
    high: float | None,
    *,
    integer: bool = False,
    low_open: bool = False,
    high_open: bool = False,
    optional: bool = False,
) -> Callable[[Any], Any]:
    """A before-validator for a number (or integer) in a range; bools and quoted numbers are refused."""
    kind = "an integer" if integer else "a number"
    if low is not None and high is not None:
        span = f"{'(' if low_open else '['}{_fmt(low)}, {_fmt(high)}{')' if high_open else ']'}"
        expected = f"{kind} in {span}"
    elif low is not None:
        expected = f"{kind} {'>' if low_open else '>='} {_fmt(low)}"
    else:
        expected = kind
    if optional:
        expected += " or null"

    def check(value: Any) -> Any:
        if value is None and optional:
            return None
        found = describe(value)
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:
                pass
            else:
                found += " (text: remove the quotes)"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Problem(f"expected {expected}, got {found}")
        if value != value or value in (float("inf"), float("-inf")):
            raise _Problem(f"expected {expected}, got {found}")
        if integer:
            if isinstance(value, float) and not value.is_integer():
                raise _Problem(f"expected {expected}, got {found}")
            value = int(value)
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            raise _Problem(f"expected {expected}, got {found}")
        return value

    return check


def _suggest(word: str, options: Collection[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest option, case-insensitively; empty when none is close."""
    lowered = {option.lower(): option for option in options}
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean '{lowered[match[0]]}'?)" if match else ""


def _choice_message(value: Any, options: Collection[str], extra: str = "") -> str:
    listed = " | ".join(options)
    hint = _suggest(value, options) if isinstance(value, str) else ""
    return f"expected one of {listed}{extra}, got {describe(value)}{hint}"


def _choice_check(options: tuple[str, ...]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, str) or value not in options:
            raise _Problem(_choice_message(value, options))
        return value

    return check


def _bool_check(value: Any) -> Any:
    if not isinstance(value, bool):
        raise _Problem(f"expected true or false, got {describe(value)}")
    return value


def _path_check(optional: bool) -> Callable[[Any], Any]:
    expected = "a file path" + (" or null" if optional else "")

    def check(value: Any) -> Any:
        if value is None and optional:
            return None
        if isinstance(value, Path):
            return value
        if not isinstance(value, str) or not value.strip():
            raise _Problem(f"expected {expected}, got {describe(value)}")
        return Path(value)

    return check


def _color_check(value: Any) -> Any:
    if value is None:
        raise _Problem(
            'expected a colour "#rrggbb" or "#rgb", got null (quote the colour: in YAML an unquoted # '
            "starts a comment)"
        )
    if not isinstance(value, str) or not _COLOR.fullmatch(value):
        raise _Problem(f'expected a colour "#rrggbb" or "#rgb", e.g. "#202020", got {describe(value)}')
    digits = value[1:].lower()
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return "#" + digits


def _camera_device_check(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip():
        return value
    raise _Problem(
        "expected auto, a device path (/dev/video0), a camera index (0, 1, ...), part of a camera's "
        f"name, or a video/image file, got {describe(value)}"
    )


def _output_device_check(value: Any) -> Any:
    if isinstance(value, str) and value.strip():
        return value
    hint = ""
    if isinstance(value, int) and not isinstance(value, bool):
        hint = f" (write the device path, e.g. /dev/video{value})"
    raise _Problem(f"expected auto or a device path such as /dev/video10, got {describe(value)}{hint}")


def _backend_check(value: Any) -> Any:
    if isinstance(value, str) and _BACKEND_NAME.fullmatch(value):
        return value
    raise _Problem(
        _choice_message(
            value,
            KNOWN_BACKENDS,
            " (or the name of a backend registered with pyvirtualcam.register_backend: lowercase "
            "letters, digits, _ and -)",
        )
    )


def _compute_device_check(value: Any) -> Any:
    if isinstance(value, str) and _DEVICE.fullmatch(value):
        return value
    raise _Problem(f"expected auto | cpu | cuda | cuda:N (N = the GPU index), got {describe(value)}")


Size = Annotated[int, BeforeValidator(_number_check(16, _MAX_SIZE, integer=True))]
OptionalSize = Annotated[
    Union[int, None], BeforeValidator(_number_check(16, _MAX_SIZE, integer=True, optional=True))
]
Fps = Annotated[float, BeforeValidator(_number_check(0, 240, low_open=True))]
OptionalFps = Annotated[Union[float, None], BeforeValidator(_number_check(0, 240, low_open=True, optional=True))]
Flag = Annotated[bool, BeforeValidator(_bool_check)]
FilePath = Annotated[Path, BeforeValidator(_path_check(optional=False))]
OptionalFilePath = Annotated[Union[Path, None], BeforeValidator(_path_check(optional=True))]


class _Section(BaseModel):
    """Common settings: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------------


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

    @model_validator(mode="after")
    def _cross_checks(self) -> OutputConfig:
        if self.backend == "file" and self.path is None:
            raise _Problem("expected a file path when backend is file, got null", key="path")
        if (self.width is None) != (self.height is None):
            missing = "height" if self.height is None else "width"
            other = "width" if missing == "height" else "height"
            raise _Problem(f"expected an integer when output.{other} is set, got null", key=missing)
        if self.format in ("yuyv", "i420") and self.width is not None and self.height is not None:
            for key, value in (("width", self.width), ("height", self.height)):
                if value % 2:
                    raise _Problem(f"expected an even number for format {self.format}, got {value}", key=key)
        return self


class SegmentationConfig(_Section):
    """Person segmentation and the mask post-processing."""

    model: str = "selfie"
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
        options = tuple((info.context or {}).get("segmenters") or KNOWN_SEGMENTERS)
        if not isinstance(value, str) or value not in options:
            raise _Problem(_choice_message(value, options))
        return value


class StyleConfig(_Section):
    """The stylizer shared by both regions."""

    method: str = "magenta"
    #: Short side (pixels) the network runs at; the result is upsampled to the output.
    size: Annotated[int, BeforeValidator(_number_check(64, 2160, integer=True))] = 288
    preserve_color: Flag = False
    #: Temporal smoothing of the painted image where the scene is still, [0, 1); 0 = off.
    smoothing: Annotated[float, BeforeValidator(_number_check(0, 1, high_open=True))] = 0.7

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
            return f"image {self.image.name}{strength}"
        assert self.style  # guaranteed by validation
        if len(self.style) == 1:
            images = self.style[0].image.name
        else:
            images = " + ".join(f"{ref.image.name} {round(ref.weight * 100)}%" for ref in self.style)
        return f"style {images} @{_fmt(self.strength)}"


class PersonRegion(Region):
    """The person region: by default the brush-strokes style at strength 0.7."""

    style: Union[tuple[StyleRef, ...], None] = Field(default="styles/brush_strokes.png", validate_default=True)
    strength: Annotated[float, BeforeValidator(_number_check(0, 1))] = 0.7


class BackgroundRegion(Region):
    """The background region: by default the stained-glass style at full strength."""

    style: Union[tuple[StyleRef, ...], None] = Field(default="styles/stained_glass.png", validate_default=True)
    strength: Annotated[float, BeforeValidator(_number_check(0, 1))] = 1.0


class Config(_Section):
    """The whole configuration (immutable). ``load_config`` returns it with resolved paths."""

    camera: CameraConfig = Field(default_factory=CameraConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    segmentation: SegmentationConfig = Field(default_factory=SegmentationConfig)
    style: StyleConfig = Field(default_factory=StyleConfig)
    person: PersonRegion = Field(default_factory=PersonRegion)
    background: BackgroundRegion = Field(default_factory=BackgroundRegion)
    #: ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N``.
    device: Annotated[str, BeforeValidator(_compute_device_check)] = "auto"
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


_SECTION_KEYS = frozenset({"camera", "output", "segmentation", "style", "person", "background"})


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


class ConfigValidationError(ConfigError):
    """A configuration file failed to parse or validate.

    ``problems``: every problem, one line each, as ``<key path>: <what was expected>, got <found>``
    (with `` (line N)`` when the file position is known), in file order. The message is one line per
    problem prefixed with the file name; its first line is the first problem; ``summary`` is that line
    plus a count of the others.
    """

    def __init__(self, file: Path | str, problems: list[str], hint: str | None = None) -> None:
        self.file = str(file)
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{self.file}: {problem}" for problem in self.problems), hint)

    @property
    def summary(self) -> str:
        first = f"{self.file}: {self.problems[0]}"
        more = len(self.problems) - 1
        return first + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


def _template_hint() -> str:
    return f"the commented template documents every key: {paths.template_config_path()}"


def _format_loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel class inside an annotation such as ``tuple[StyleRef, ...] | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that owns the keys at ``loc`` (a key path of mappings and list indexes)."""
    model: type[BaseModel] | None = Config
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        model = _model_of(model.model_fields[part].annotation)
    return model


def _section_noun(loc: tuple[Any, ...]) -> str:
    if not loc:
        return "a mapping of settings (key: value lines) at the top level"
    if isinstance(loc[-1], int):
        return "a mapping {image: path, weight: number} or an image path"
    return f"a mapping of {loc[-1]} settings (key: value lines)"


def _translate(error: Mapping[str, Any]) -> tuple[tuple[Any, ...], str]:
    """One pydantic error -> (key path, message)."""
    loc = tuple(error["loc"])
    kind = error["type"]
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, _Problem):
        return (loc + (cause.key,) if cause.key else loc), cause.message
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        valid = list(model.model_fields) if model else []
        key = loc[-1]
        hint = _suggest(str(key), valid) if valid else ""
        if not hint and valid:
            hint = f" (valid keys: {', '.join(valid)})"
        return loc, f"unknown key{hint}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return loc, f"expected {_section_noun(loc)}, got {describe(error.get('input'))}"
    if kind == "missing":
        return loc, "missing (this key is required here)"
    return loc, f"{error['msg']}, got {describe(error.get('input'))}"


# --------------------------------------------------------------------------------------------------
# YAML reading: syntax errors with positions, duplicate keys, key -> line map
# --------------------------------------------------------------------------------------------------


def _scan_nodes(
    root: yaml.Node | None,
) -> tuple[dict[tuple[Any, ...], int], list[tuple[int, str]], bool]:
    """Walk the composed YAML: the 1-based line of every key path, duplicate-key and recursive-alias
    problems, and whether the document is cyclic (an anchor used inside itself)."""
    lines: dict[tuple[Any, ...], int] = {}
    problems: list[tuple[int, str]] = []
    done: set[int] = set()
    ancestors: set[int] = set()
    cyclic = False

    def walk(node: yaml.Node, loc: tuple[Any, ...]) -> None:
        nonlocal cyclic
        if id(node) in ancestors:
            cyclic = True
            line = node.start_mark.line + 1
            message = f"{_format_loc(loc)}: recursive YAML alias (an anchor used inside itself) (line {line})"
            problems.append((line, message))
            return
        if id(node) in done:  # an alias of a node walked already
            return
        done.add(id(node))
        ancestors.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first_line: dict[str, int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = key_node.value
                line = key_node.start_mark.line + 1
                if key in first_line:
                    problems.append(
                        (line, f"{_format_loc(loc + (key,))}: duplicate key (first at line {first_line[key]}; "
                               f"YAML would silently keep only the last) (line {line})")
                    )
                else:
                    first_line[key] = line
                    lines[loc + (key,)] = line
                walk(value_node, loc + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[loc + (index,)] = item.start_mark.line + 1
                walk(item, loc + (index,))
        ancestors.discard(id(node))

    if root is not None:
        walk(root, ())
    return lines, problems, cyclic


def _syntax_problem(err: yaml.MarkedYAMLError) -> str:
    """``YAML syntax error at line L, column C: <problem> (<context> at line ..)``, 1-based."""
    mark = err.problem_mark or err.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    text = f"YAML syntax error{where}: {err.problem or err.context or 'invalid YAML'}"
    if err.context and err.problem:
        context_mark = err.context_mark
        at = f" at line {context_mark.line + 1}, column {context_mark.column + 1}" if context_mark else ""
        text += f" ({err.context}{at})"
    return text


def _read_yaml(text: str, file: Path | str) -> tuple[Any, dict[tuple[Any, ...], int], list[tuple[int, str]]]:
    """Parse YAML safely: (data, key-path lines, duplicate-key problems).

    Syntax errors and recursive aliases raise ``ConfigValidationError``."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        raise ConfigValidationError(
            file, [_syntax_problem(err)], "check the indentation and quoting near that line"
        ) from err
    except yaml.YAMLError as err:
        raise ConfigValidationError(file, [f"YAML error: {err}"], "check the file is valid YAML") from err
    lines, problems, cyclic = _scan_nodes(root)
    if cyclic:
        raise ConfigValidationError(file, [message for _, message in problems], "remove the self-referencing alias")
    return data, lines, problems


def _line_for(loc: tuple[Any, ...], lines: Mapping[tuple[Any, ...], int]) -> int | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


# --------------------------------------------------------------------------------------------------
# Path resolution
# --------------------------------------------------------------------------------------------------


def resolve_path(raw: Path | str, base_dir: Path, *, styles_fallback: bool = False) -> Path:
    """An absolute path for ``raw``: ``~`` expanded, relative paths taken from ``base_dir``.

    With ``styles_fallback``, a relative ``styles/...`` path that does not exist under ``base_dir``
    but does exist in the bundled styles folder (``vcamstyle.paths.bundled_styles_dir()``) resolves
    there, so a fresh user config finds the bundled styles without copying them.
    """
    expanded = Path(os.path.expanduser(str(raw)))
    if expanded.is_absolute():
        return Path(os.path.normpath(expanded))
    candidate = Path(os.path.normpath(base_dir / expanded))
    if styles_fallback and expanded.parts[:1] == ("styles",) and not candidate.exists():
        bundled = paths.bundled_styles_dir().joinpath(*expanded.parts[1:])
        if bundled.exists():
            return bundled
    return candidate


def _resolve_camera_device(device: int | str, base_dir: Path) -> int | str:
    """Camera files given as paths become absolute; indexes, ``auto``, devices and names stay."""
    if isinstance(device, int) or device == "auto":
        return device
    if "/" in device or device.startswith("~"):
        return str(resolve_path(device, base_dir))
    beside = base_dir / device
    return str(Path(os.path.normpath(beside))) if beside.is_file() else device


def _resolve_region(region: Region, base_dir: Path) -> Region:
    update: dict[str, Any] = {}
    if region.style:
        update["style"] = tuple(
            ref.model_copy(update={"image": resolve_path(ref.image, base_dir, styles_fallback=True)})
            for ref in region.style
        )
    if region.image is not None:
        update["image"] = resolve_path(region.image, base_dir, styles_fallback=True)
    return region.model_copy(update=update)


def resolve_paths(config: Config, base_dir: Path) -> Config:
    """A copy of ``config`` with every file path absolute (see ``resolve_path`` for the rules).

    Resolved: region style images and ``image`` (with the bundled-styles fallback), ``output.path``,
    ``weights_dir``, and ``camera.device`` when it names a file (contains ``/``, starts with ``~``, or
    is a file name present in ``base_dir``). Existence is not checked: the pipeline reports
    unreadable files when it loads them.
    """
    base_dir = Path(os.path.expanduser(str(base_dir))).absolute()
    output = config.output
    if output.path is not None:
        output = output.model_copy(update={"path": resolve_path(output.path, base_dir)})
    camera = config.camera.model_copy(update={"device": _resolve_camera_device(config.camera.device, base_dir)})
    weights_dir = None if config.weights_dir is None else resolve_path(config.weights_dir, base_dir)
    return config.model_copy(
        update={
            "camera": camera,
            "output": output,
            "person": _resolve_region(config.person, base_dir),
            "background": _resolve_region(config.background, base_dir),
            "weights_dir": weights_dir,
        }
    )


# --------------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------------


def parse_config(
    text: str,
    file: Path,
    *,
    segmenters: Collection[str] | None = None,
    stylizers: Collection[str] | None = None,
) -> Config:
    """Validate YAML ``text`` as if read from ``file`` (messages name it; paths resolve beside it).

    ``segmenters``/``stylizers``: the accepted model names (default ``KNOWN_SEGMENTERS`` /
    ``KNOWN_STYLIZERS``). Raises ``ConfigValidationError`` listing every problem.
    """
    data, lines, duplicates = _read_yaml(text, file)
    problems: list[tuple[int | None, str]] = [(line, message) for line, message in duplicates]
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append((1, f"expected {_section_noun(())}, got {describe(data)}"))
        raise ConfigValidationError(file, [message for _, message in problems], _template_hint())
    for loc, key in _non_text_keys(data, ()):
        where = _line_for(loc + (str(key),), lines)
        suffix = f" (line {where})" if where else ""
        shown = _format_loc(loc + (describe(key),))
        problems.append((where, f"{shown}: unknown key (keys are names, not numbers or booleans){suffix}"))
    context = {
        "segmenters": tuple(segmenters) if segmenters else KNOWN_SEGMENTERS,
        "stylizers": tuple(stylizers) if stylizers else KNOWN_STYLIZERS,
    }
    try:
        config = Config.model_validate(_text_keys_only(data), context=context)
    except ValidationError as err:
        for error in err.errors():
            loc, message = _translate(error)
            line = _line_for(loc, lines)
            suffix = f" (line {line})" if line else ""
            problems.append((line, f"{_format_loc(loc)}: {message}{suffix}"))
    else:
        if not problems:
            return resolve_paths(config, file.expanduser().absolute().parent)
    ordered = sorted(problems, key=lambda item: (item[0] is None, item[0] or 0))
    raise ConfigValidationError(file, [message for _, message in ordered], _template_hint())


def _text_keys_only(data: Any) -> Any:
    """``data`` without mapping keys that are not text (they are reported separately)."""
    if isinstance(data, dict):
        return {key: _text_keys_only(value) for key, value in data.items() if isinstance(key, str)}
    if isinstance(data, list):
        return [_text_keys_only(item) for item in data]
    return data


def _non_text_keys(data: Any, loc: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], Any]]:
    """Mapping keys that are not text (``1: x``, ``true: y``): always unknown keys."""
    found: list[tuple[tuple[Any, ...], Any]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if not isinstance(key, str):
                found.append((loc, key))
            else:
                found.extend(_non_text_keys(value, loc + (key,)))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            found.extend(_non_text_keys(item, loc + (index,)))
    return found


def load_config(
    path: Path,
    *,
    segmenters: Collection[str] | None = None,
    stylizers: Collection[str] | None = None,
) -> Config:
    """Read, validate and resolve the YAML config at ``path``; every failure raises ``ConfigError``.

    An empty file means all defaults. Relative paths resolve against the file's directory (``~`` is
    expanded; ``styles/...`` falls back to the bundled styles). See ``parse_config``.
    """
    path = Path(path)
    try:
        text = path.expanduser().read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise ConfigError(
            f"{path}: config file not found", "run `vcamstyle config init` to write the commented template"
        ) from err
    except IsADirectoryError as err:
        raise ConfigError(f"{path}: is a directory, expected a YAML file", "point --config at the file") from err
    except PermissionError as err:
        raise ConfigError(
            f"{path}: cannot read the config file (permission denied)", "check its owner and mode"
        ) from err
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {err.start} cannot be decoded)", "save the file as UTF-8"
        ) from err
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config file ({err.strerror or err})") from err
    return parse_config(text, path, segmenters=segmenters, stylizers=stylizers)


def override(
    config: Config,
    changes: Mapping[str, Any],
    *,
    source: str = "command line",
    base_dir: Path | None = None,
    segmenters: Collection[str] | None = None,
    stylizers: Collection[str] | None = None,
) -> Config:
    """A copy of ``config`` with dotted keys replaced (``{"style.method": "adain"}``), re-validated.

    ``None`` values mean "no override" and are skipped. New relative paths resolve against
    ``base_dir`` (default: the working directory). Problems raise ``ConfigValidationError`` naming
    ``source`` instead of a file.
    """
    data: dict[str, Any] = config.model_dump()
    problems: list[str] = []
    for dotted, value in changes.items():
        if value is None:
            continue
        *parents, leaf = dotted.split(".")
        target: Any = data
        for part in parents:
            target = target.get(part) if isinstance(target, dict) else None
        if not isinstance(target, dict) or leaf not in target:
            valid = sorted(key for key in schema_keys() if "." in key or key not in _SECTION_KEYS)
            problems.append(f"{dotted}: unknown key{_suggest(dotted, valid)}")
            continue
        target[leaf] = value
    if problems:
        raise ConfigValidationError(source, problems, _template_hint())
    context = {
        "segmenters": tuple(segmenters) if segmenters else KNOWN_SEGMENTERS,
        "stylizers": tuple(stylizers) if stylizers else KNOWN_STYLIZERS,
    }
    try:
        updated = Config.model_validate(data, context=context)
    except ValidationError as err:
        for error in err.errors():
            loc, message = _translate(error)
            problems.append(f"{_format_loc(loc)}: {message}")
        raise ConfigValidationError(source, problems, _template_hint()) from err
    return resolve_paths(updated, base_dir if base_dir is not None else Path.cwd())


def dump_default() -> str:
    """The commented template's text (for ``vcamstyle config init``)."""
    template = paths.template_config_path()
    try:
        return template.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(
            f"{template}: cannot read the configuration template ({err.strerror or err})",
            "reinstall vcamstyle: the template ships in its config/ folder",
        ) from err


def ensure_config(path: Path) -> bool:
    """Create ``path`` (and its parents) from the template when it does not exist; True when created.

    The bundled styles are not copied: relative ``styles/...`` paths fall back to them.
    """
    path = Path(path).expanduser()
    if path.exists():
        return False
    text = dump_default()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        return False  # created concurrently by another process: keep theirs
    except OSError as err:
        raise ConfigError(
            f"{path}: cannot create the config file ({err.strerror or err})",
            "check the directory is writable, or pass --config",
        ) from err
    logger.info("wrote the default configuration to %s", path)
    return True


# --------------------------------------------------------------------------------------------------
# Diffing
# --------------------------------------------------------------------------------------------------

_REGION_STAGES: dict[str, frozenset[str]] = {
    "effect": frozenset({"effects"}),
    "style": frozenset({"styles"}),
    "strength": frozenset({"effects"}),
    "blur": frozenset({"effects"}),
    "color": frozenset({"effects"}),
    "image": frozenset({"effects"}),
}

#: Which stages a change of each leaf key touches (``camera.*`` and ``output.*`` by section).
KEY_STAGES: dict[str, frozenset[str]] = {
    **{f"camera.{key}": frozenset({"camera"}) for key in CameraConfig.model_fields},
    **{f"output.{key}": frozenset({"output"}) for key in OutputConfig.model_fields},
    "segmentation.model": frozenset({"segmenter"}),
    "segmentation.smoothing": frozenset({"mask"}),
    "segmentation.threshold": frozenset({"mask"}),
    "segmentation.softness": frozenset({"mask"}),
    "segmentation.feather": frozenset({"mask"}),
    "style.method": frozenset({"stylizer"}),
    "style.size": frozenset({"effects"}),
    "style.preserve_color": frozenset({"effects"}),
    "style.smoothing": frozenset({"effects"}),
    **{f"{region}.{key}": stages for region in REGION_NAMES for key, stages in _REGION_STAGES.items()},
    "device": frozenset({"device"}),
    # Both model kinds may load upstream checkpoints from there (unet_resnet18 as well as the stylizers).
    "weights_dir": frozenset({"stylizer", "segmenter"}),
}


def leaf_values(config: Config) -> dict[str, Any]:
    """The config flattened to ``{"section.key": value}`` (a region's style list is one leaf)."""
    flat: dict[str, Any] = {}
    for name in Config.model_fields:
        value = getattr(config, name)
        if isinstance(value, BaseModel):
            for key in type(value).model_fields:
                flat[f"{name}.{key}"] = getattr(value, key)
        else:
            flat[name] = value
    return flat


def changed_keys(old: Config, new: Config) -> list[str]:
    """Dotted keys whose values differ between ``old`` and ``new``."""
    before, after = leaf_values(old), leaf_values(new)
    return [key for key in before if before[key] != after[key]]


def diff_stages(old: Config, new: Config) -> frozenset[str]:
    """Which pipeline stages a change from ``old`` to ``new`` touches (a subset of ``STAGES``).

    - ``camera``: reopen the camera (any ``camera.*``). ``output``: reopen the sink (any ``output.*``).
    - ``segmenter``: rebuild the segmentation model (``segmentation.model``, ``weights_dir``).
    - ``mask``: new mask post-processing parameters (smoothing, threshold, softness, feather); the
      EMA state may be kept.
    - ``stylizer``: rebuild the stylizer (``style.method``, ``weights_dir``). The caller re-encodes
      every style image for the new method: a style encoding belongs to its method.
    - ``styles``: a region's style image list (paths or weights) changed: encode the new ones.
    - ``effects``: per-region effect parameters (effect, strength, blur, color, image) or
      ``style.size`` / ``style.preserve_color`` / ``style.smoothing``: cheap, no model work (a new ``image`` is loaded).
    - ``device``: the compute device changed: the caller must rebuild the segmenter and the stylizer
      and re-encode the styles on the new device; only ``"device"`` is returned for it.
    """
    stages: set[str] = set()
    for key in changed_keys(old, new):
        stages |= KEY_STAGES[key]
    return frozenset(stages)


def _all_schema_keys(model: type[BaseModel] = Config, prefix: str = "") -> Iterator[str]:
    """Every key path of the schema (sections and leaves), e.g. ``camera``, ``camera.width``."""
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        yield key
        nested = _model_of(field.annotation)
        if nested is not None and nested is not StyleRef:
            yield from _all_schema_keys(nested, key + ".")


def schema_keys() -> frozenset[str]:
    """Every dotted key of the schema (used to check the template documents all of them)."""
    return frozenset(_all_schema_keys())


__all__ = [
    "BackgroundRegion",
    "CameraConfig",
    "Config",
    "ConfigValidationError",
    "EFFECTS",
    "FOURCCS",
    "KEY_STAGES",
    "KNOWN_BACKENDS",
    "KNOWN_SEGMENTERS",
    "KNOWN_STYLIZERS",
    "OUTPUT_FORMATS",
    "OutputConfig",
    "PersonRegion",
    "REGION_NAMES",
    "Region",
    "STAGES",
    "SegmentationConfig",
    "StyleConfig",
    "StyleRef",
    "changed_keys",
    "describe",
    "diff_stages",
    "dump_default",
    "ensure_config",
    "leaf_values",
    "load_config",
    "override",
    "parse_config",
    "resolve_path",
    "resolve_paths",
    "schema_keys",
]
