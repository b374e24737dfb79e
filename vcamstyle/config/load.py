"""The entry points: read, validate and resolve a config file; overrides; the template."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from vcamstyle import paths
from vcamstyle.config.checks import _suggest, describe
from vcamstyle.config.keys import schema_keys
from vcamstyle.config.report import (
    ConfigValidationError,
    _format_loc,
    _section_noun,
    _template_hint,
    _translate,
)
from vcamstyle.config.resolve import resolve_paths
from vcamstyle.config.schema import _SECTION_KEYS, Config
from vcamstyle.config.vocab import KNOWN_SEGMENTERS, KNOWN_STYLIZERS
from vcamstyle.config.yaml_reader import _line_for, _read_yaml
from vcamstyle.errors import ConfigError

logger = logging.getLogger(__name__)


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
    text = read_config_text(path)
    return parse_config(text, path, segmenters=segmenters, stylizers=stylizers)


#: A config file is a few kilobytes; anything beyond this is not one (``/dev/zero``, a log file).
MAX_CONFIG_BYTES = 256 * 1024

def read_config_text(path: Path, max_bytes: int = MAX_CONFIG_BYTES) -> str:
    """The text of the config file at ``path`` (symlinks followed now, never remembered).

    Bounded and non-blocking: a FIFO, a device or a directory is refused without reading it (the open
    is ``O_NONBLOCK``, so a FIFO without a writer cannot hang), and at most ``max_bytes`` are read.
    Every failure raises ``ConfigError`` naming the file and the fix.
    """
    target = path.expanduser()
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError as err:
        raise ConfigError(
            f"{path}: config file not found", "run `vcamstyle config init` to write the commented template"
        ) from err
    except PermissionError as err:
        raise ConfigError(
            f"{path}: cannot read the config file (permission denied)", "check its owner and mode"
        ) from err
    except OSError as err:
        raise ConfigError(f"{path}: cannot open the config file ({err.strerror or err})",
                          "point --config at a readable YAML file") from err
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            hint = "point --config at the file" if stat.S_ISDIR(info.st_mode) else \
                "point --config (or the symlink) at an ordinary YAML file"
            raise ConfigError(f"{path}: is {paths.describe_kind(info.st_mode)}, expected a YAML file", hint)
        if info.st_size > max_bytes:
            raise ConfigError(f"{path}: {info.st_size} bytes is too large for a config file (at most {max_bytes})",
                              "point --config at the vcamstyle YAML file")
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        remaining = max_bytes + 1
        while remaining > 0:
            chunk = os.read(fd, min(65536, remaining))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config file ({err.strerror or err})") from err
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ConfigError(f"{path}: grew beyond {max_bytes} bytes while being read: too large for a config file",
                          "point --config at the vcamstyle YAML file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {err.start} cannot be decoded)", "save the file as UTF-8"
        ) from err


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


def key_line(path: Path, key: str) -> int | None:
    """The 1-based line of dotted ``key`` (``background.style[1].image``) in the YAML file at ``path``, or
    of its closest written parent; ``None`` when the file cannot be read or names no part of it."""
    try:
        _, lines, _ = _read_yaml(Path(path).expanduser().read_text(encoding="utf-8"), path)
    except (OSError, UnicodeDecodeError, ConfigError):
        return None
    loc: list[Any] = []
    for part in key.replace("]", "").split("."):
        name, *indexes = part.split("[")
        loc.append(name)
        loc.extend(int(i) for i in indexes)
    return _line_for(tuple(loc), lines)
