"""``vcamstyle setup loopback`` and ``vcamstyle service install | uninstall | status``: thin typer commands.

The logic is in ``vcamstyle.commands`` (``loopback_setup``, ``user_service``); ``vcamstyle.cli`` registers
these groups; ``vcamstyle.cli_support`` holds the error-to-exit-code mapping both use.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from vcamstyle.cli_support import HELP, ConfigOption, config_path, handles_errors

setup_app = typer.Typer(no_args_is_help=True, help="Set the machine up once (the virtual camera device).", **HELP)
service_app = typer.Typer(no_args_is_help=True, help="The systemd user service that runs the daemon at login.", **HELP)


@setup_app.command("loopback")
@handles_errors
def setup_loopback(yes: bool = typer.Option(False, "--yes", "-y", help="Apply without asking."),
                   exclusive_caps: int = typer.Option(1, min=0, max=1, help="1: Chrome/Meet list it only while it "
                                                      "streams; 0: always listed (some Zoom/Teams setups need it)."),
                   video_nr: int = typer.Option(10, min=0, max=255, help="The device number: /dev/videoN."),
                   card_label: str = typer.Option("vcamstyle", help="The name apps show in their camera list.")) -> None:
    """Load v4l2loopback now and at every boot (shows the plan first; uses sudo or pkexec for root)."""
    from vcamstyle.commands import LoopbackOptions, setup_loopback as run_setup
    confirm = (lambda q: typer.confirm(q, default=False)) if sys.stdin.isatty() else None
    run_setup(LoopbackOptions(video_nr=video_nr, card_label=card_label, exclusive_caps=exclusive_caps),
              yes=yes, echo=typer.echo, confirm=confirm)


@service_app.command("install")
@handles_errors
def service_install(config: Optional[Path] = ConfigOption) -> None:
    """Write the user unit for this installation, enable it and start it now (and at every login)."""
    from vcamstyle.commands import install_service
    for line in install_service(config_path(config) if config else None):
        typer.echo(line)


@service_app.command("uninstall")
@handles_errors
def service_uninstall() -> None:
    """Stop and disable the user unit and remove it."""
    from vcamstyle.commands import uninstall_service
    for line in uninstall_service():
        typer.echo(line)


@service_app.command("status")
@handles_errors
def service_status() -> None:
    """Is the unit installed, does it start this installation, is it stale? Exit 1 when it needs a fix."""
    from vcamstyle.commands import service_state
    state = service_state()
    typer.echo("\n".join(state.lines()))
    raise typer.Exit(0 if state.installed and state.ours and not state.stale else 1)
