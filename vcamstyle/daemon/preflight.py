"""Checks made before anything slow: is there an output to write to at all?

The most common first-run problem is a missing v4l2loopback module. The daemon checks for it before it
opens the camera or loads a model, so the error it stops with is that one, said first, with the fix.
"""

from __future__ import annotations

import platform

from vcamstyle.config import Config
from vcamstyle.devices import v4l2
from vcamstyle.errors import SinkError


def uses_loopback(config: Config, system: str | None = None) -> bool:
    """True when the output goes to a v4l2loopback device picked automatically."""
    system = system or platform.system()
    return (system == "Linux" and config.output.backend in ("auto", "v4l2loopback")
            and config.output.device in (None, "", "auto"))


def check_output(config: Config, devices: list[v4l2.VideoDevice] | None = None, system: str | None = None) -> None:
    """Raise ``SinkError`` when the output is a v4l2loopback device and none exists.

    ``devices``: the video devices (default: scanned from /dev). Busy or unreadable devices are left to
    the real open, which names them.
    """
    if not uses_loopback(config, system):
        return
    found = v4l2.list_devices() if devices is None else devices
    if not v4l2.loopback_paths(found) and not any(d.error for d in found):
        raise SinkError("no v4l2loopback device: the virtual camera needs the v4l2loopback kernel module",
                        hint=v4l2.NO_LOOPBACK_HINT)
