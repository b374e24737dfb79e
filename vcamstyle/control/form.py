"""The settings form, generated from the configuration schema (one source of truth).

Every leaf key of ``Config`` becomes a field: its kind (switch, number, choice, colour, text), its
bounds and choices (read from the schema's own checks), its default, and its help text (the comment the
commented template gives the key; tests/config keeps the template documenting every key). A key added
to the schema appears on the page with no page code.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from pydantic import BaseModel, BeforeValidator
from pydantic.fields import FieldInfo

from vcamstyle import paths
from vcamstyle.config import KNOWN_SEGMENTERS, KNOWN_STYLIZERS, Config

GENERAL = "general"
#: Names checked by field validators (no check function to read them from).
_NAMED_CHOICES: dict[str, tuple[str, ...]] = {"style.method": tuple(KNOWN_STYLIZERS),
                                              "segmentation.model": ("auto", *KNOWN_SEGMENTERS)}
_TEMPLATE_LINE = re.compile(r"^(?P<indent>\s*)(?P<key>[a-z_]+):(?P<rest>.*)$")


@functools.lru_cache(maxsize=1)
def template_help() -> dict[str, str]:
    """``{"person.strength": "[0, 1]: 0 = the original region, ..."}`` from the template's comments."""
    found: dict[str, str] = {}
    section = ""
    for line in paths.template_config_path().read_text(encoding="utf-8").splitlines():
        match = _TEMPLATE_LINE.match(line)
        if not match or line.lstrip().startswith("#"):
            continue
        key = match["key"] if not match["indent"] else f"{section}.{match['key']}"
        if not match["indent"]:
            section = match["key"]
        comment = match["rest"].split(" # ", 1)
        if len(comment) == 2:
            found[key] = comment[1].strip()
    return found


def _check_of(field: FieldInfo) -> Any:
    return next((m.func for m in field.metadata if isinstance(m, BeforeValidator)), None)


def _plain(value: Any) -> Any:
    """A default as JSON can carry it (paths as text, style tuples as their image paths)."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, BaseModel):
        return _plain(value.model_dump())
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def describe_field(key: str, field: FieldInfo, default: Any) -> dict[str, Any]:
    """One form field: ``key``, ``kind`` (bool | number | choice | color | text), bounds, choices, help."""
    check = _check_of(field)
    bounds = getattr(check, "bounds", None)
    choices = getattr(check, "choices", None) or _NAMED_CHOICES.get(key)
    kind = "text"
    if field.annotation is bool:
        kind = "bool"
    elif choices:
        kind = "choice"
    elif bounds is not None:
        kind = "number"
    elif key.endswith(".color"):
        kind = "color"
    spec: dict[str, Any] = {"key": key, "kind": kind, "default": _plain(default),
                            "help": template_help().get(key, "")}
    if bounds is not None:
        spec.update(min=bounds["low"], max=bounds["high"], integer=bounds["integer"],
                    step=1 if bounds["integer"] else 0.01)
    if choices:
        spec["choices"] = list(choices)
    return spec


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def settings_form() -> list[dict[str, Any]]:
    """``[{"section": "person", "fields": [...]}, ...]`` in the schema's order; top-level keys go to
    ``general``."""
    defaults = Config()
    sections: list[dict[str, Any]] = []
    general: list[dict[str, Any]] = []
    for name, field in Config.model_fields.items():
        model = _model_of(field.annotation)
        if model is None:
            general.append(describe_field(name, field, getattr(defaults, name)))
            continue
        section_default = getattr(defaults, name)
        fields = [describe_field(f"{name}.{key}", sub, getattr(section_default, key))
                  for key, sub in model.model_fields.items()]
        sections.append({"section": name, "help": template_help().get(name, ""), "fields": fields})
    sections.append({"section": GENERAL, "help": "", "fields": general})
    return sections


def file_values(data: Any) -> dict[str, Any]:
    """The leaf values a config file's (safe-loaded) data writes, by dotted key; absent keys are absent."""
    values: dict[str, Any] = {}
    if not isinstance(data, dict):
        return values
    for name, value in data.items():
        if isinstance(value, dict) and name in Config.model_fields and _model_of(Config.model_fields[name].annotation):
            values.update({f"{name}.{k}": _plain(v) for k, v in value.items()})
        else:
            values[str(name)] = _plain(value)
    return values

