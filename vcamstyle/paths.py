"""Where vcamstyle keeps its files (XDG base directories). No I/O beyond creating directories.

- config:  $XDG_CONFIG_HOME/vcamstyle/config.yaml (created from the template on first use)
- runtime: $XDG_RUNTIME_DIR/vcamstyle/ (pidfile, status.json); mode 0700
- state:   $XDG_STATE_HOME/vcamstyle/ (vcamstyle.log of a detached daemon); mode 0700
- data:    $XDG_DATA_HOME/vcamstyle/ (weights when not in a source checkout)
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

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
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def runtime_dir() -> Path:
    """Per-user runtime directory, created 0700."""
    base = os.environ.get("XDG_RUNTIME_DIR", "")
    root = Path(base) if base and os.path.isabs(base) else Path(tempfile.gettempdir()) / f"vcamstyle-{os.getuid()}"
    return _private_dir(root / "vcamstyle" if base else root)


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
