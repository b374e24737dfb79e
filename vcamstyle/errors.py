"""Typed errors. Library code raises these; only ``vcamstyle.cli`` turns them into exit codes.

Every error carries a ``hint``: the one action that fixes it. ``str(err)`` gives the message and the
hint together, so a log line or a ``status`` field is complete on its own.
"""

from __future__ import annotations


class VcamstyleError(Exception):
    """Base class: a user-facing failure with a message and a fix."""

    exit_code = 1
    #: Whether the message's newlines are its own (one problem per line, a log tail); otherwise every
    #: control character in it, newlines included, comes from a name and is shown escaped.
    multiline = False

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(VcamstyleError):
    """The configuration file is missing, unreadable, not YAML, or fails validation."""

    exit_code = 2


class SourceError(VcamstyleError):
    """The camera (or the file standing in for it) cannot be opened or read."""


class SinkError(VcamstyleError):
    """The virtual camera or output file cannot be opened or written."""


class WeightsError(VcamstyleError):
    """Model weights are missing, corrupt, or do not match the network."""


class StyleImageError(VcamstyleError):
    """A style or background image is missing, unreadable, empty or too large."""


class DeviceError(VcamstyleError):
    """The requested compute device (cuda, cuda:N) is not available."""


class ControlError(VcamstyleError):
    """start/stop/status could not do what was asked (already running, not running, timeout)."""

    multiline = True  # a startup failure quotes the daemon's last log lines


class DownloadError(VcamstyleError):
    """A weights download failed (HTTP error, timeout, checksum mismatch)."""


class SetupError(VcamstyleError):
    """``setup`` or ``service`` could not do a step (module missing, Secure Boot, no sudo, systemctl)."""
