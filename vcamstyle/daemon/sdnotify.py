"""sd_notify without dependencies: tell systemd READY / RELOADING / STOPPING / STATUS.

systemd (``Type=notify``) passes ``$NOTIFY_SOCKET``: a filesystem path, or ``@name`` for a socket in
the abstract namespace. A message is one AF_UNIX datagram of ``KEY=VALUE`` lines. Without the
variable (a plain terminal, ``vcamstyle start`` without systemd) every call is a no-op returning
False; a failed send is logged at debug level and also returns False, never raises.

Protocol as the daemon uses it:

    ready("42.0 fps, person: starry_night")      # once the first frame is out (READY=1 + STATUS)
    status("29.8 fps, ...")                      # now and then; shown by `systemctl --user status`
    reloading()                                  # on SIGHUP, before re-reading the config
    ready()                                      # after the reload, success or not
    stopping()                                   # on SIGTERM/SIGINT, before releasing the devices
"""

from __future__ import annotations

import logging
import os
import socket
import time

logger = logging.getLogger(__name__)

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"


def _socket_address(value: str) -> str | None:
    """``$NOTIFY_SOCKET`` as a ``socket.sendto`` address; None when it is not a usable address."""
    if value.startswith("@"):
        return "\0" + value[1:]  # abstract namespace
    if value.startswith("/"):
        return value
    logger.debug("ignoring %s=%r: neither an absolute path nor an @abstract name", NOTIFY_SOCKET_ENV, value)
    return None


def notify(state: str) -> bool:
    """Send ``state`` (newline-separated ``KEY=VALUE`` lines) to ``$NOTIFY_SOCKET``.

    Returns:
        True if the datagram was sent; False when the variable is unset or the send failed.
    """
    value = os.environ.get(NOTIFY_SOCKET_ENV, "")
    if not value:
        return False
    address = _socket_address(value)
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(state.encode("utf-8"), address)
    except OSError as exc:
        logger.debug("sd_notify to %s failed: %s", value, exc)
        return False
    return True


def _status_line(text: str) -> str:
    # One message line per key: a newline inside STATUS would start a bogus key.
    return "STATUS=" + " ".join(text.splitlines())


def _with_status(lines: list[str], text: str | None) -> str:
    if text:
        lines.append(_status_line(text))
    return "\n".join(lines)


def ready(status_text: str | None = None) -> bool:
    """READY=1 (startup finished, or a reload finished), with an optional STATUS line."""
    return notify(_with_status(["READY=1"], status_text))


def reloading(status_text: str | None = None) -> bool:
    """RELOADING=1 with MONOTONIC_USEC (CLOCK_MONOTONIC in microseconds), as systemd requires.

    Send ``ready()`` when the reload is done, whether or not the new configuration was accepted.
    """
    monotonic_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify(_with_status(["RELOADING=1", f"MONOTONIC_USEC={monotonic_usec}"], status_text))


def stopping(status_text: str | None = None) -> bool:
    """STOPPING=1: shutdown has begun."""
    return notify(_with_status(["STOPPING=1"], status_text))


def status(text: str) -> bool:
    """STATUS=<text>, shown by ``systemctl --user status vcamstyle``."""
    return notify(_status_line(text))
