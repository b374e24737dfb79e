"""The page's address and secret in the runtime directory (``control.json``, mode 0600).

Written by the daemon when its server listens, removed when it stops; read by ``vcamstyle ui``. Under
systemd the daemon has the same ``XDG_RUNTIME_DIR`` as the user's shell, so both find the same file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from vcamstyle import paths

CONTROL_FILE = "control.json"


def control_path() -> Path:
    return paths.runtime_dir() / CONTROL_FILE


def write_control(info: dict[str, Any]) -> Path:
    """Write ``info`` (url, port, secret, pid) atomically, readable by the user only."""
    target = control_path()
    tmp = target.with_name(f".{CONTROL_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, json.dumps(info).encode())
    finally:
        os.close(fd)
    os.replace(tmp, target)
    return target


def read_control() -> dict[str, Any] | None:
    """What the running daemon wrote, or None when there is no (readable, well-formed) file."""
    try:
        data = json.loads(control_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and {"url", "secret", "pid"} <= set(data) else None


def remove_control(pid: int) -> None:
    """Remove the file if it is this process's (a newer daemon's file is left alone)."""
    info = read_control()
    if info is not None and info.get("pid") == pid:
        control_path().unlink(missing_ok=True)
