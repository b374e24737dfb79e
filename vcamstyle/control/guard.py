"""Who may talk to the control page: the per-start secret, a loopback Host, the page's own Origin.

``Guard`` is plain ASGI middleware in front of every route (pages, API, the WebSocket):

- **Host** must be ``127.0.0.1:<port>``, ``localhost:<port>`` or ``[::1]:<port>``: a DNS-rebinding page
  (``evil.example`` resolving to 127.0.0.1) sends its own name and is refused.
- **Secret**: a random token made at each daemon start, kept in the runtime directory (mode 0600). A
  request carries it as the ``X-Vcamstyle-Secret`` header or the ``vcamstyle_secret`` cookie; ``GET /``
  with ``?secret=`` sets the cookie (HttpOnly, SameSite=Strict) and redirects to the bare address.
- **Origin**: every state-changing request (anything but GET/HEAD) and every WebSocket must come from
  the page's own origin: another site's page cannot drive it even if it guessed the port.
"""

from __future__ import annotations

import hmac
import secrets
from http.cookies import SimpleCookie
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

SECRET_HEADER = "x-vcamstyle-secret"
SECRET_COOKIE = "vcamstyle_secret"
SAFE_METHODS = frozenset({"GET", "HEAD"})

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


def _cookie(headers: dict[str, str], name: str) -> str | None:
    jar = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is treated as no cookie (http.cookies raises CookieError)
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


class Guard:
    """ASGI middleware refusing every request that fails a check (see the module doc)."""

    def __init__(self, app: Callable, secret: str, port_of: Callable[[], int]) -> None:
        """``port_of``: the port the server listens on (known once it is bound)."""
        self.app = app
        self.secret = secret
        self.port_of = port_of

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        """``(status, reason)`` when the request must be refused, else None."""
        headers = _headers(scope)
        port = self.port_of()
        if headers.get("host", "") not in loopback_hosts(port):
            return 403, (f"refused: Host {headers.get('host', '(none)')!r} is not this computer's loopback "
                         f"address; open http://127.0.0.1:{port}/ (`vcamstyle ui`)")
        method = scope.get("method", "GET")
        if scope["type"] == "websocket" or method not in SAFE_METHODS:
            origin = headers.get("origin")
            if origin not in page_origins(port):
                return 403, f"refused: Origin {origin or '(none)'!r} is not the control page's own"
        given = None
        if scope["type"] == "http" and scope.get("path") == "/" and method in SAFE_METHODS:
            # `vcamstyle ui`'s address wins over a cookie: one left by an earlier start (cookies do not
            # depend on the port) would otherwise lock the new page out.
            given = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("secret") or [None])[0]
        given = given or headers.get(SECRET_HEADER) or _cookie(headers, SECRET_COOKIE)
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
