"""Who may talk to the control page: the per-start secret, a loopback Host, the page's own Origin.

``Guard`` is plain ASGI middleware in front of every route (pages, API, the WebSocket):

- **Host** must be ``127.0.0.1:<port>``, ``localhost:<port>`` or ``[::1]:<port>``: a DNS-rebinding page
  (``evil.example`` resolving to 127.0.0.1) sends its own name and is refused.
- **Secret**: a random token made at each daemon start, kept in the runtime directory (mode 0600). It is
  never a cookie (browsers send a 127.0.0.1 cookie to every port of that host, so another local web
  server would receive it): ``vcamstyle ui`` opens ``/#secret=...`` (a fragment never leaves the
  browser), the page's script keeps it in ``sessionStorage`` (scoped to this origin, port included) and
  sends it as the ``X-Vcamstyle-Secret`` header on every request. A WebSocket cannot carry a header from
  a browser, so the page first buys a **ticket** with an authenticated ``POST /api/ticket``: one use,
  ``TICKET_TTL_S`` seconds, given as ``/ws?ticket=...``.
- **Public shell**: ``GET /`` and the page's two static files are the same bytes as in the installed
  package and carry no data; they need only the loopback Host. Everything else needs the secret.
- **Origin**: every state-changing request (anything but GET/HEAD) and every WebSocket must come from
  the page's own origin: another site's page cannot drive it even if it guessed the port.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

SECRET_HEADER = "x-vcamstyle-secret"
SAFE_METHODS = frozenset({"GET", "HEAD"})
PUBLIC_PATHS = frozenset({"/", "/static/app.js", "/static/style.css"})
TICKET_TTL_S = 10.0
MAX_TICKETS = 32

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def new_secret() -> str:
    """A fresh URL-safe secret (256 bits)."""
    return secrets.token_urlsafe(32)


def loopback_hosts(port: int) -> frozenset[str]:
    """The Host header values that name this server on the loopback."""
    return frozenset(f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]"))


def page_origins(port: int) -> frozenset[str]:
    """The Origin values of the page itself."""
    return frozenset(f"http://{host}" for host in loopback_hosts(port))


def _headers(scope: Scope) -> dict[str, str]:
    return {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope.get("headers", [])}


class Tickets:
    """One-use, short-lived WebSocket tickets (``issue`` behind the secret, ``redeem`` at the handshake).

    ``clock`` is ``time.monotonic`` (tests pass their own). At most ``MAX_TICKETS`` are outstanding: the
    oldest unredeemed one is dropped when another is issued."""

    def __init__(self, ttl_s: float = TICKET_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._expiry: dict[str, float] = {}  # insertion order: oldest first
        self._lock = threading.Lock()

    def issue(self) -> str:
        ticket = secrets.token_urlsafe(24)
        with self._lock:
            now = self.clock()
            self._expiry = {t: at for t, at in self._expiry.items() if at > now}
            while len(self._expiry) >= MAX_TICKETS:
                del self._expiry[next(iter(self._expiry))]
            self._expiry[ticket] = now + self.ttl_s
        return ticket

    def redeem(self, ticket: str) -> str | None:
        """None when ``ticket`` is good (it is used up now), else why it is refused."""
        with self._lock:
            expiry = self._expiry.pop(ticket, None)
        if expiry is None:
            return "refused: unknown or already used WebSocket ticket; reload the page"
        if self.clock() > expiry:
            return f"refused: the WebSocket ticket expired (tickets last {self.ttl_s:.0f} s); reload the page"
        return None


class Guard:
    """ASGI middleware refusing every request that fails a check (see the module doc)."""

    def __init__(self, app: Callable, secret: str, port_of: Callable[[], int], tickets: Tickets) -> None:
        """``port_of``: the port the server listens on (known once it is bound)."""
        self.app = app
        self.secret = secret
        self.port_of = port_of
        self.tickets = tickets

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        """``(status, reason)`` when the request must be refused, else None."""
        headers = _headers(scope)
        port = self.port_of()
        if headers.get("host", "") not in loopback_hosts(port):
            return 403, (f"refused: Host {headers.get('host', '(none)')!r} is not this computer's loopback "
                         f"address; open http://127.0.0.1:{port}/ (`vcamstyle ui`)")
        method = scope.get("method", "GET")
        websocket = scope["type"] == "websocket"
        if websocket or method not in SAFE_METHODS:
            origin = headers.get("origin")
            if origin not in page_origins(port):
                return 403, f"refused: Origin {origin or '(none)'!r} is not the control page's own"
        if not websocket and method in SAFE_METHODS and scope.get("path") in PUBLIC_PATHS:
            return None  # the page's shell: the package's own bytes, no data
        given = headers.get(SECRET_HEADER)
        if websocket and not given:
            ticket = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("ticket") or [None])[0]
            if ticket:
                reason = self.tickets.redeem(ticket)
                return None if reason is None else (403, reason)
        if not given:
            return 401, "refused: no secret; open the page with `vcamstyle ui`"
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            return 403, "refused: wrong secret (the daemon was restarted?); open the page again with `vcamstyle ui`"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refused = self.refusal(scope)
        if refused is None:
            await self.app(scope, receive, send)
            return
        status, reason = refused
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 4000 + status, "reason": reason[:120]})
            return
        body = reason.encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
