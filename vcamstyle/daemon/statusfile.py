"""status.json: what the running daemon reports to ``vcamstyle status`` and ``vcamstyle start``.

The daemon rewrites it about twice a second (atomically, mode 0600, in the runtime directory, which
is a tmpfs on most systems, so there is no fsync). Keys the daemon writes, at least:

    pid (int), state ("starting" | "streaming" | "idle" | "error" | "reloading" | "stopping"), ready (bool),
    started_at (unix time), uptime_s, fps, stage_ms (dict name -> ms), frames (int),
    config (path), person, background, method, segmentation, last_error (null or string),
    consumers (int, or null when not watched: file/none output, on_demand off), consumer_apps (list)

``vcamstyle start`` counts the daemon as started once ``ready`` is true and ``pid`` is the child's.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from vcamstyle import paths
from vcamstyle.daemon.pidfile import atomic_write_text

logger = logging.getLogger(__name__)

#: The values ``state`` may take.
STATES = ("starting", "streaming", "idle", "error", "reloading", "stopping")


def write_status(data: dict[str, Any], path: Path | None = None) -> None:
    """Write ``data`` as JSON to ``path`` (default ``paths.status_path()``), atomically, mode 0600.

    Non-finite floats (NaN fps before the first frame) become null; other non-JSON values (``Path``)
    become strings.

    Raises:
        OSError: the runtime directory is not writable.
    """
    target = Path(path) if path is not None else paths.status_path()
    text = json.dumps(_finite(data), sort_keys=True, allow_nan=False, default=str)
    atomic_write_text(target, text + "\n")


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None, recursively through dicts and lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def read_status(path: Path | None = None) -> dict[str, Any] | None:
    """The last status written; None when the file is missing, unreadable, corrupt or not an object."""
    source = Path(path) if path is not None else paths.status_path()
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        logger.debug("cannot read status file %s: %s", source, exc)
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        logger.debug("status file %s is not valid JSON: %s", source, exc)
        return None
    if not isinstance(data, dict):
        logger.debug("status file %s holds a %s, not an object", source, type(data).__name__)
        return None
    return data


def remove_status(path: Path | None = None, pid: int | None = None) -> bool:
    """Delete the status file (only if it was written by ``pid``, when given). True if removed."""
    target = Path(path) if path is not None else paths.status_path()
    if pid is not None:
        data = read_status(target)
        if data is None or data.get("pid") != pid:
            return False
    try:
        target.unlink()
    except FileNotFoundError:
        return False
    return True
