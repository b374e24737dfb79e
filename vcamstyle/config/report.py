"""Problem reports: ``ConfigValidationError`` and pydantic errors translated to key-path messages."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vcamstyle import paths
from vcamstyle.paths import printable
from vcamstyle.config.checks import _Problem, _suggest, describe
from vcamstyle.config.keys import _model_at
from vcamstyle.errors import ConfigError


class ConfigValidationError(ConfigError):
    """A configuration file failed to parse or validate.

    ``problems``: every problem, one line each, as ``<key path>: <what was expected>, got <found>``
    (with `` (line N)`` when the file position is known), in file order. The message is one line per
    problem prefixed with the file name; its first line is the first problem; ``summary`` is that line
    plus a count of the others. Control characters in the message (a file name with a newline) are
    escaped (``paths.printable``): one line per problem, always.
    """
    multiline = True

    def __init__(self, file: Path | str, problems: list[str], hint: str | None = None) -> None:
        self.file = str(file)
        self.problems = tuple(problems)
        super().__init__("\n".join(printable(f"{self.file}: {problem}") for problem in self.problems), hint)

    @property
    def summary(self) -> str:
        first = printable(f"{self.file}: {self.problems[0]}")
        more = len(self.problems) - 1
        return first + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


def _template_hint() -> str:
    return f"the commented template documents every key: {paths.template_config_path()}"


def _format_loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


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
