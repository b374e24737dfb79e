"""Value checks for the config schema: each raises ``_Problem("expected ..., got ...")``.

Also the annotated field types built from them (``Size``, ``Fps``, ``Flag``, ``FilePath``, ...).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Union

import yaml
from pydantic import BeforeValidator

from vcamstyle.config.vocab import KNOWN_BACKENDS

_BACKEND_NAME = re.compile(r"[a-z0-9_-]+")
_DEVICE = re.compile(r"auto|cpu|cuda|cuda:\d+")
_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_MAX_SIZE = 8192


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


def yaml_spellings(number: float) -> str:
    """How to write ``number`` so that YAML 1.1 (PyYAML) reads a number: ``1000 or 1.0e+3``; ``0.0001 or
    1.0e-4`` (YAML 1.1 wants a dot in the mantissa and a sign in the exponent, so ``1e3`` is text)."""
    mantissa, exponent = format(Decimal(repr(number)).normalize(), "e").split("e")
    scientific = f"{mantissa if '.' in mantissa else mantissa + '.0'}e{exponent}"
    plain = str(int(number)) if number.is_integer() and abs(number) < 1e16 else repr(number)
    return scientific if "e" in plain else f"{plain} or {scientific}"


def _text_number_hint(text: str) -> str:
    """What to say about a number written as text: a quoted number loses its quotes; ``1e3`` (a number
    in YAML 1.2 and Python, text in YAML 1.1) is written another way."""
    try:
        number = float(text)
    except ValueError:
        return ""
    if not math.isfinite(number):
        return ""
    if isinstance(yaml.safe_load(text), (int, float)):
        return " (text: remove the quotes)"
    return f" (YAML reads {text.strip()} as text, not a number: write {yaml_spellings(number)})"


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
            found += _text_number_hint(value)
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

    check.bounds = {"low": low, "high": high, "integer": integer, "low_open": low_open,  # type: ignore[attr-defined]
                    "high_open": high_open, "optional": optional}  # read by forms (the control page)
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

    check.choices = tuple(options)  # type: ignore[attr-defined]  # read by forms (the control page)
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


def _threads_check(value: Any) -> Any:
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 64):
        return value
    raise _Problem(f"expected auto or a whole number of threads in [1, 64], got {describe(value)}")


_STYLE_SIZE_NUMBER = _number_check(64, 2160, integer=True)


def _style_size_check(value: Any) -> Any:
    """``style.size``: ``auto`` or a whole number of pixels in [64, 2160]."""
    if value == "auto":
        return value
    try:
        return _STYLE_SIZE_NUMBER(value)
    except _Problem as problem:
        raise _Problem(f"expected auto or an integer in [64, 2160], got {describe(value)}") from problem


def _compute_device_check(value: Any) -> Any:
    if isinstance(value, str) and _DEVICE.fullmatch(value):
        return value
    raise _Problem(f"expected auto | cpu | cuda | cuda:N (N = the GPU index), got {describe(value)}")


Size = Annotated[int, BeforeValidator(_number_check(16, _MAX_SIZE, integer=True))]
OptionalSize = Annotated[
    Union[int, None], BeforeValidator(_number_check(16, _MAX_SIZE, integer=True, optional=True))
]
Fps = Annotated[float, BeforeValidator(_number_check(1, 240))]
OptionalFps = Annotated[Union[float, None], BeforeValidator(_number_check(1, 240, optional=True))]
Flag = Annotated[bool, BeforeValidator(_bool_check)]
FilePath = Annotated[Path, BeforeValidator(_path_check(optional=False))]
OptionalFilePath = Annotated[Union[Path, None], BeforeValidator(_path_check(optional=True))]
