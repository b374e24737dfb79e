"""``vcamstyle ui``: find the running daemon's control page and open it in the default browser.

The daemon (started by ``vcamstyle start`` or by systemd: both use the user's ``XDG_RUNTIME_DIR``)
writes its page's address and per-start secret to ``control.json`` there; this reads it, checks that
it belongs to the daemon that runs now, and opens ``<address>#secret=...`` with ``webbrowser`` (a
fragment: the browser keeps it and never sends it to any server).
"""

from __future__ import annotations

import webbrowser

from vcamstyle.control import read_control
from vcamstyle.daemon import control
from vcamstyle.errors import ControlError

START_HINT = "start it with `vcamstyle start` (or `systemctl --user start vcamstyle` with the user unit)"


class NotRunning(ControlError):
    """No daemon runs, so there is no page to open."""

    exit_code = 3


def page_address() -> str:
    """The running daemon's page, secret included; raises ``ControlError`` saying why there is none."""
    info = control.status()
    if info is None:
        raise NotRunning("vcamstyle is not running, so there is no control page to open", hint=START_HINT)
    page = read_control()
    if page is None or page.get("pid") != info.get("pid"):
        if info.get("state") == "starting":
            raise ControlError("vcamstyle is still starting; its control page is not up yet",
                               hint="run `vcamstyle ui` again in a moment")
        raise ControlError("vcamstyle is running but serves no control page",
                           hint="set control.enabled: true in config.yaml and restart it (`vcamstyle stop && vcamstyle start`); "
                                "`vcamstyle logs` says why if it is enabled")
    return f"{page['url']}#secret={page['secret']}"


def open_page(browser: bool = True) -> tuple[str, bool]:
    """``(address, opened)``: the page's address, and whether a browser was started for it."""
    address = page_address()
    return address, bool(browser and webbrowser.open(address))
