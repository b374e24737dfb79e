"""The control page's server: uvicorn on a thread of its own, bound to 127.0.0.1 and nothing else.

``ControlServer.start`` binds the socket itself (``LOOPBACK`` is a constant: there is no option to
listen elsewhere), runs uvicorn with its own event loop on a daemon thread, and publishes the address
and the per-start secret in ``control.json`` (runtime directory, mode 0600). ``stop`` asks uvicorn to
exit, waits a bounded time and removes the file.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from typing import Any

import uvicorn

from vcamstyle.control.app import ControlApp, DaemonView, build_routes
from vcamstyle.control.guard import Guard, Tickets, new_secret
from vcamstyle.control.preview import PreviewTap
from vcamstyle.control.runtime import remove_control, write_control
from vcamstyle.errors import ControlError

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 2.0


def bind_loopback(port: int = 0) -> socket.socket:
    """A listening TCP socket on 127.0.0.1 (``port`` 0: a free one); ``ControlError`` when it is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((LOOPBACK, port))
        sock.listen(16)
    except OSError as exc:
        sock.close()
        raise ControlError(f"the control page cannot listen on {LOOPBACK}:{port} ({exc.strerror or exc})",
                           hint="set control.port: 0 (a free port) or another port in config.yaml") from exc
    sock.set_inheritable(False)
    return sock


def serve_page(daemon: DaemonView, settings: Any) -> "ControlServer | None":
    """The page of ``daemon`` per ``settings`` (``config.control``): None when it is off, or when it cannot
    be served (logged: the video goes on without it; `vcamstyle ui` then points at the log)."""
    if not settings.enabled:
        log.info("control page off (control.enabled: false): nothing listens")
        return None
    try:
        return ControlServer(daemon, settings.port).start()
    except ControlError as exc:
        log.error("control page not served: %s", exc)
        return None


class ControlServer:
    """The page of one daemon run (see the module doc). ``tap`` is what the frame loop feeds."""

    def __init__(self, daemon: DaemonView, port: int = 0) -> None:
        self.requested_port = port
        self.secret = new_secret()
        self.tickets = Tickets()
        self.tap = PreviewTap()
        self.app = ControlApp(daemon, self.tap, self.tickets)
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/"

    def asgi(self) -> Any:
        """The guarded ASGI application (tests drive it directly)."""
        return Guard(build_routes(self.app), self.secret, lambda: self.port, self.tickets)

    def start(self) -> "ControlServer":
        sock = bind_loopback(self.requested_port)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.asgi(), log_config=None, log_level="warning", lifespan="off",
                                ws="websockets-sansio", access_log=False, timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)

        def serve() -> None:
            try:
                asyncio.run(self._server.serve(sockets=[sock]))
            except Exception:  # the page failing must not end the video; logged with its traceback
                log.exception("the control page's server stopped")
            finally:
                sock.close()

        self._thread = threading.Thread(target=serve, name="control-page", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._server.started:
            self.stop()
            raise ControlError("the control page's server did not start", hint="see the log; control.enabled: false turns it off")
        write_control({"url": self.url, "port": self.port, "secret": self.secret, "pid": os.getpid()})
        log.info("control page: %s (open it with `vcamstyle ui`)", self.url)
        return self

    def status(self) -> dict[str, Any]:
        return {"url": self.url, "pages": self.app.pages, "preview_watchers": self.tap.watchers,
                "preview_frames": self.tap.encoded}

    def stop(self) -> None:
        """Stop serving within ``STOP_TIMEOUT_S`` and remove ``control.json``."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT_S)
            if self._thread.is_alive():
                log.warning("the control page's server did not stop within %.0f s", STOP_TIMEOUT_S)
        self.tap.stop()
        try:
            remove_control(os.getpid())
        except OSError as exc:
            log.warning("cannot remove the control page's file: %s", exc)
