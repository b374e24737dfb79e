"""Changing keys of ``config.yaml`` the way a careful hand edit would, and writing it atomically.

ruamel.yaml's round-trip mode keeps the user's comments, key order, quoting and the formatting of the
lines it does not touch. The new text is written to a temporary file in the same directory (with the
file's mode), checked, fsynced and renamed over the file: the daemon's watcher sees one complete save,
exactly as after an editor's save; a refused change writes nothing.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from typing import Any, Callable

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from vcamstyle.errors import ConfigError


def _round_trip() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long line
    yaml.representer.add_representer(type(None), _null)  # `null` stays `null` (ruamel writes nothing)
    return yaml


def _null(representer, _value):
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def parse_value(text: str) -> Any:
    """A value typed on the page, read as YAML would read it in the file (``0.5``, ``auto``, ``null``)."""
    try:
        return YAML(typ="safe", pure=True).load(text) if text.strip() else None
    except YAMLError as exc:
        raise ConfigError(f"cannot read the value {text!r} ({exc.problem or exc})",
                          hint="type it as it would appear in config.yaml") from exc


def set_keys(text: str, changes: dict[str, Any]) -> str:
    """``text`` with each dotted key (``person.strength``) set to its value; the rest untouched."""
    yaml = _round_trip()
    try:
        data = yaml.load(text)
    except YAMLError as exc:
        raise ConfigError(f"config.yaml cannot be read as YAML ({exc})",
                          hint="fix the file by hand first (`vcamstyle config check` says where)") from exc
    if data is None:
        data = CommentedMap()
    if not isinstance(data, dict):
        raise ConfigError("config.yaml is not a mapping of sections", hint="fix the file by hand first")
    for dotted, value in changes.items():
        *parents, leaf = dotted.split(".")
        node = data
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = CommentedMap()
            node = node[part]
        node[leaf] = value
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def write_checked(path: Path, text: str, check: Callable[[Path], None]) -> None:
    """Replace the file at ``path`` (a symlink: its target) with ``text`` atomically, keeping its mode.

    ``check(temp_path)`` runs on the written temporary file before the rename; when it raises, the
    temporary file is removed and the original is untouched.
    """
    target = Path(os.path.realpath(path))
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o600
    tmp = target.with_name(f".{target.name}.{os.getpid()}.page.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        try:
            os.write(fd, text.encode("utf-8"))
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        check(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
