"""status.json: what the running daemon reports to ``vcamstyle status`` and ``vcamstyle start``.

The daemon rewrites it about twice a second (atomically, mode 0600, in the runtime directory, which
is a tmpfs on most systems, so there is no fsync). Keys the daemon writes, at least:

    pid (int), state ("starting" | "streaming" | "idle" | "error" | "stopping"), ready (bool), reloading (bool),
    started_at (unix time), uptime_s, fps, stage_ms (dict name -> ms), frames (int),
    config (path), person, background, method, segmentation, last_error (null or string),
    consumers (int, or null when not watched: file/none output, on_demand off), consumer_apps (list)
    network_fps (style network results per second on its own thread with ``style.schedule: async``,
    else null; ``stage_ms.network`` is its run time there, ``stage_ms.network_age`` how many output frames
    the painting in use trails)

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
from vcamstyle.daemon.safefile import read_bounded

logger = logging.getLogger(__name__)

#: The values ``state`` may take (``vcamstyle status`` adds "not responding" for a stale file); "idle":
#: on demand, no app has the virtual camera open.
STATES = ("starting", "streaming", "idle", "error", "stopping")
#: status.json is rewritten twice a second while frames flow; older than this, the daemon is stalled.
STALE_STATUS_S = 5.0
#: ``state`` reported for a daemon whose process exists but that has stopped publishing.
NOT_RESPONDING = "not responding"
#: status.json is about a kilobyte; a bigger file is not ours.
MAX_STATUS_BYTES = 64 * 1024


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
        raw = read_bounded(source, MAX_STATUS_BYTES)
    except OSError as exc:  # unreadable, or not a regular file of ours (a FIFO would block `status`)
        logger.debug("cannot read status file %s: %s", source, exc)
        return None
    if raw is None:
        return None
    if len(raw) > MAX_STATUS_BYTES:
        logger.debug("status file %s is larger than %d bytes: not ours", source, MAX_STATUS_BYTES)
        return None
    try:
        data = json.loads(raw.decode("utf-8", "replace"))
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


def mark_not_responding(result: dict[str, Any], stale_after: float = STALE_STATUS_S) -> dict[str, Any]:
    """``state = "not responding"`` (and ``ready`` false) when a started daemon's status is older than
    ``stale_after`` seconds: its process exists but its frame loop has stopped publishing. The state
    it last published stays in ``last_state``."""
    age = result.get("status_age_s")
    started = result.get("state") not in (None, "starting") or result.get("ready") is True
    if isinstance(age, (int, float)) and age > stale_after and started:
        result["last_state"] = result.get("state")
        result["state"] = NOT_RESPONDING
        result["ready"] = False
        result["last_error"] = result.get("last_error") or f"no status published for {age:.0f} s"
    return result
