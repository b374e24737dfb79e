"""Where vcamstyle keeps its files (XDG base directories). No I/O beyond creating directories.

- config:  $XDG_CONFIG_HOME/vcamstyle/config.yaml (created from the template on first use)
- runtime: $XDG_RUNTIME_DIR/vcamstyle/ (pidfile, status.json); mode 0700. Without XDG_RUNTIME_DIR:
           $XDG_STATE_HOME/vcamstyle/run/ (inside the user's home, so no other user can create it
           first; a name in the shared /tmp would be predictable)
- state:   $XDG_STATE_HOME/vcamstyle/ (vcamstyle.log of a detached daemon); mode 0700

The private directories are checked every time: a symlink, a non-directory or a directory owned by
another user raises ``UnsafeDirectoryError`` (nothing is written there); a directory of ours with a
wider mode is tightened to 0700.
- data:    $XDG_DATA_HOME/vcamstyle/ (weights when not in a source checkout)
"""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path

from vcamstyle.errors import ControlError


#: What a terminal, a log line or a status line must not get raw: C0/C1 controls (newline, tab, ESC, DEL),
#: the Unicode line and paragraph separators, bidirectional overrides, and the surrogates that stand for
#: the undecodable bytes of a file name (printing those raw would raise).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: object) -> str:
    """``text`` with control characters escaped as Python writes them (``\\n``, ``\\x1b``, ``\\u2028``),
    so a file name with a newline stays on one line of ``status`` or of the log."""
    return _UNPRINTABLE.sub(lambda match: match.group().encode("unicode_escape", "backslashreplace").decode("ascii"),
                            str(text))


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symlink"))


def describe_kind(mode: int) -> str:
    """What a ``st_mode`` that is not a regular file is, in words: ``a directory``, ``a FIFO (named pipe)``."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def why_not_a_file(path: Path | str) -> str | None:
    """Why ``path`` cannot be read as a file (``does not exist``, ``is a directory, not a file``, ...),
    symlinks followed; None when it is a regular file."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "does not exist"
    except NotADirectoryError:
        return "does not exist (a folder on its path is a file)"
    except OSError as exc:
        return f"cannot be looked at ({exc.strerror or exc})"
    return None if stat.S_ISREG(mode) else f"is {describe_kind(mode)}, not a file"


class UnsafeDirectoryError(ControlError):
    """A directory vcamstyle keeps private files in is a symlink, not a directory, or not the user's."""

PACKAGE_DIR = Path(__file__).resolve().parent
#: The source checkout root when running from one (has config/ and weights/ beside the package).
SOURCE_ROOT = PACKAGE_DIR.parent


def _xdg(var: str, default: Path) -> Path:
    value = os.environ.get(var, "")
    return Path(value) if value and os.path.isabs(value) else default


def config_home() -> Path:
    return _xdg("XDG_CONFIG_HOME", Path.home() / ".config") / "vcamstyle"


def default_config_path() -> Path:
    return config_home() / "config.yaml"


def _private_dir(path: Path) -> Path:
    """``path`` as a directory of ours with mode 0700 (created so); refuses one that is not.

    Raises:
        UnsafeDirectoryError: it is a symlink or not a directory, or belongs to another user.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise UnsafeDirectoryError(f"cannot create {path}: {exc.strerror or exc}",
                                   hint="check the permissions of its parent directory") from exc
    info = os.lstat(path)
    fix = f"remove {path} (it was not made by vcamstyle for you), or set XDG_RUNTIME_DIR to a private directory"
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise UnsafeDirectoryError(f"{path} is not a directory (a symlink or another file): refusing to use it", hint=fix)
    if info.st_uid != os.geteuid():
        raise UnsafeDirectoryError(f"{path} belongs to uid {info.st_uid}, not to you (uid {os.geteuid()}): "
                                   "another user may have created it; refusing to use it", hint=fix)
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


def runtime_dir() -> Path:
    """Per-user runtime directory (pidfile, status.json), created 0700 and checked (see the module doc)."""
    base = os.environ.get("XDG_RUNTIME_DIR", "")
    if base and os.path.isabs(base):
        return _private_dir(Path(base) / "vcamstyle")
    return _private_dir(state_dir() / "run")


def state_dir() -> Path:
    return _private_dir(_xdg("XDG_STATE_HOME", Path.home() / ".local" / "state") / "vcamstyle")


def data_dir() -> Path:
    return _xdg("XDG_DATA_HOME", Path.home() / ".local" / "share") / "vcamstyle"


def pidfile_path() -> Path:
    return runtime_dir() / "vcamstyle.pid"


def status_path() -> Path:
    return runtime_dir() / "status.json"


def log_path() -> Path:
    return state_dir() / "vcamstyle.log"


def shipped_config_dir() -> Path:
    """The project's ``config/`` folder (template and bundled styles).

    In a source checkout it is ``<repo>/config``; in an installed wheel it is
    ``<prefix>/share/vcamstyle/config`` (installed as data files).
    """
    candidates = [SOURCE_ROOT / "config", Path(sys.prefix) / "share" / "vcamstyle" / "config"]
    for candidate in candidates:
        if (candidate / "config.yaml").is_file():
            return candidate
    return candidates[0]


def template_config_path() -> Path:
    return shipped_config_dir() / "config.yaml"


def bundled_styles_dir() -> Path:
    return shipped_config_dir() / "styles"
