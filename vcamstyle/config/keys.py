"""Key paths of the schema: the model that owns a key path, every dotted key."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from vcamstyle.config.schema import Config, StyleRef


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
