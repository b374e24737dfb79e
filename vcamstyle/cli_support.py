"""What every ``vcamstyle`` command shares: plain help, the ``--config`` option, errors to exit codes.

Only the CLI turns a ``VcamstyleError`` into a message and an exit code; it does that here.
"""

from __future__ import annotations

import os
from functools import wraps
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from vcamstyle.errors import VcamstyleError
from vcamstyle.paths import printable

# Plain help text: rich markup would eat "[default: ...]" and other bracketed words in help strings.
HELP = {"rich_markup_mode": None, "context_settings": {"help_option_names": ["-h", "--help"]}}
ConfigOption = typer.Option(None, "--config", "-c", metavar="FILE",
                            help="Config file (default: $XDG_CONFIG_HOME/vcamstyle/config.yaml).")


def fail(message: str, hint: str | None, code: int, multiline: bool = False) -> None:
    """Print the message, control characters escaped (newlines too, unless they are the message's own)."""
    text = "\n".join(map(printable, message.split("\n"))) if multiline else printable(message)
    typer.echo(f"vcamstyle: {text}", err=True)
    if hint:
        typer.echo(f"  fix: {printable(hint)}", err=True)
    raise typer.Exit(code)


def handles_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """A ``VcamstyleError`` -> its message and exit code; a bug -> one line (``VCAMSTYLE_TRACEBACK=1``: the traceback)."""
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except VcamstyleError as exc:
            fail(exc.message, exc.hint, exc.exit_code, exc.multiline)
        except (typer.Exit, typer.Abort, typer.TyperException, KeyboardInterrupt):
            raise
        except Exception as exc:
            if os.environ.get("VCAMSTYLE_TRACEBACK"):
                raise
            fail(f"internal error: {type(exc).__name__}: {exc}", "a bug in vcamstyle: please report it with "
                 "the output of the same command run with VCAMSTYLE_TRACEBACK=1", 1)
    return wrapper


def config_path(value: Optional[Path]) -> Path:
    """The config path made absolute but kept as given: a symlink stays a symlink, followed at every read."""
    from vcamstyle import paths
    return Path(os.path.abspath((value or paths.default_config_path()).expanduser()))


# `vcamstyle status`'s text for two of its fields

def consumer_text(info: dict) -> str:
    """``status``'s line on who has the virtual camera open (on demand)."""
    if info.get("consumers") is None:
        return "not watched (file/none output, or output.on_demand: false)"
    apps = ", ".join(info.get("consumer_apps") or [])
    return f"{info['consumers']} app(s)" + (f": {apps}" if apps else "")


def fps_text(info: dict) -> str:
    """``status``'s rate line: the output's frame rate and, with the style network on its own thread
    (``style.schedule: async``), the network's own rate and run time beside it."""
    text = f"{info.get('fps', 0)}"
    network = info.get("network_fps")
    if network is None:
        return text
    run = (info.get("stage_ms") or {}).get("network")
    return text + f"   style network: {network} fps" + (f" ({run:.1f} ms a run, on its own thread)" if run is not None else "")


def style_size_text(info: dict) -> str:
    """``status``'s style-size line: the size in use and whether ``auto`` chose it."""
    size = info.get("style_size")
    if size is None:
        return "-"
    return f"{size} (auto: chosen to hold the frame rate)" if info.get("style_size_auto") else str(size)


# ------------------------------------------------------------------------------------------ files
