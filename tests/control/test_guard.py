"""Every refusal of the control page's guard: secret (a header, never a cookie), WebSocket tickets, Host,
Origin (HTTP and WebSocket), uploads, the gallery's listed files only, and a server that can listen on
the loopback only."""

from __future__ import annotations

import inspect
import socket
import stat
from pathlib import Path

import pytest
from control_fakes import ORIGIN, PORT, FakeDaemon, png_bytes
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from vcamstyle.control import ControlServer, control_path, read_control
from vcamstyle.control import gallery as gallery_module
from vcamstyle.control.guard import MAX_TICKETS, TICKET_TTL_S, Tickets
from vcamstyle.control.server import LOOPBACK, bind_loopback


def test_a_good_request_passes(client: TestClient) -> None:
    response = client.get("/api/state")
    assert response.status_code == 200
    assert response.json()["values"]["person.strength"] == 0.7


def test_no_secret_is_refused(bare: TestClient) -> None:
    response = bare.get("/api/state")
    assert response.status_code == 401
    assert "no secret" in response.text


def test_wrong_secret_is_refused(bare: TestClient) -> None:
    response = bare.get("/api/state", headers={"x-vcamstyle-secret": "guessed"})
    assert response.status_code == 403
    assert "wrong secret" in response.text


@pytest.mark.parametrize("path", ["/api/state", "/api/form", "/api/gallery", "/api/gallery/0123456789abcdef.jpg",
                                  "/static/index.html", "/static/nothing.js"])
def test_everything_but_the_pages_shell_needs_the_secret(bare: TestClient, path: str) -> None:
    assert bare.get(path).status_code == 401


def test_the_pages_shell_is_the_packaged_file_and_sets_no_cookie(bare: TestClient) -> None:
    from importlib import resources

    static = resources.files("vcamstyle.control").joinpath("static")
    page = bare.get("/")
    assert page.status_code == 200 and page.content == static.joinpath("index.html").read_bytes()
    assert page.headers["referrer-policy"] == "no-referrer"
    assert bare.get("/static/app.js").content == static.joinpath("app.js").read_bytes()
    assert "set-cookie" not in page.headers


def test_an_old_cookie_only_request_is_refused(bare: TestClient, server: ControlServer, config_file: Path) -> None:
    """The secret is never a cookie: a 127.0.0.1 cookie reaches every port, other local servers included."""
    before = config_file.read_bytes()
    bare.cookies.set("vcamstyle_secret", server.secret)
    assert bare.get("/api/state").status_code == 401
    assert bare.post("/api/config", json={"changes": {"person.strength": "0.2"}},
                     headers={"origin": ORIGIN}).status_code == 401
    assert _ws(bare, origin=ORIGIN)[0] == 4401
    assert config_file.read_bytes() == before
    opened = bare.get(f"/?secret={server.secret}", follow_redirects=False)  # the old address form
    assert opened.status_code == 200 and "set-cookie" not in opened.headers


def test_the_secret_in_the_address_is_not_accepted(bare: TestClient, server: ControlServer) -> None:
    assert bare.get(f"/api/state?secret={server.secret}").status_code == 401
    assert _ws(bare, path=f"/ws?secret={server.secret}", origin=ORIGIN)[0] == 4401


@pytest.mark.parametrize("host", ["evil.example", f"evil.example:{PORT}", "127.0.0.1", "127.0.0.1:1",
                                  f"192.168.1.5:{PORT}", f"localhost.evil.example:{PORT}"])
def test_a_host_that_is_not_the_loopback_is_refused(client: TestClient, host: str) -> None:
    response = client.get("/api/state", headers={"host": host})
    assert response.status_code == 403
    assert "is not this computer's loopback" in response.text


@pytest.mark.parametrize("host", [f"127.0.0.1:{PORT}", f"localhost:{PORT}", f"[::1]:{PORT}"])
def test_each_loopback_name_is_accepted(client: TestClient, host: str) -> None:
    assert client.get("/api/state", headers={"host": host}).status_code == 200


@pytest.mark.parametrize("origin", [None, "http://evil.example", f"http://127.0.0.1:{PORT + 1}", "null"])
def test_a_post_from_another_origin_is_refused_and_writes_nothing(bare: TestClient, server: ControlServer,
                                                                   config_file: Path, origin: str | None) -> None:
    before = config_file.read_bytes()
    headers = {"x-vcamstyle-secret": server.secret}
    if origin:
        headers["origin"] = origin
    response = bare.post("/api/config", json={"changes": {"person.strength": "0.2"}}, headers=headers)
    assert response.status_code == 403
    assert "is not the control page's own" in response.text
    assert config_file.read_bytes() == before


def _ws(client: TestClient, path: str = "/ws", **headers: str) -> tuple[int, str]:
    """The close code and reason the server answers a WebSocket handshake with (0: accepted)."""
    headers.setdefault("host", f"127.0.0.1:{PORT}")  # the test client's WebSocket names "testserver"
    try:
        with client.websocket_connect(path, headers=headers) as ws:
            ws.receive_text()
            return 0, ""
    except WebSocketDisconnect as exc:
        return exc.code, exc.reason


def test_a_websocket_from_another_origin_is_refused(bare: TestClient, server: ControlServer) -> None:
    for headers in ({"x-vcamstyle-secret": server.secret, "origin": "http://evil.example"},
                    {"x-vcamstyle-secret": server.secret}):
        code, reason = _ws(bare, **headers)
        assert code == 4403 and "is not the control page's own" in reason


def test_a_websocket_naming_another_host_is_refused(bare: TestClient, server: ControlServer) -> None:
    code, reason = _ws(bare, host="evil.example", origin=ORIGIN, **{"x-vcamstyle-secret": server.secret})
    assert code == 4403 and "loopback" in reason


def test_a_websocket_without_the_secret_is_refused(bare: TestClient, server: ControlServer) -> None:
    assert _ws(bare, origin=ORIGIN)[0] == 4401
    code, reason = _ws(bare, origin=ORIGIN, **{"x-vcamstyle-secret": "guessed"})
    assert code == 4403 and reason.startswith("refused: wrong secret")
    assert _ws(bare, origin=ORIGIN, **{"x-vcamstyle-secret": server.secret}) == (0, "")


def _ticket(client: TestClient) -> str:
    response = client.post("/api/ticket")
    assert response.status_code == 200, response.text
    return response.json()["ticket"]


def test_a_ticket_needs_the_secret_and_the_pages_origin(bare: TestClient, server: ControlServer) -> None:
    assert bare.post("/api/ticket", headers={"origin": ORIGIN}).status_code == 401
    assert bare.post("/api/ticket", headers={"origin": ORIGIN, "x-vcamstyle-secret": "guessed"}).status_code == 403
    response = bare.post("/api/ticket", headers={"origin": "http://evil.example", "x-vcamstyle-secret": server.secret})
    assert response.status_code == 403 and "is not the control page's own" in response.text


def test_a_websocket_ticket_opens_one_socket_once(client: TestClient, bare: TestClient) -> None:
    ticket = _ticket(client)
    assert _ws(bare, path=f"/ws?ticket={ticket}", origin=ORIGIN) == (0, "")
    code, reason = _ws(bare, path=f"/ws?ticket={ticket}", origin=ORIGIN)
    assert code == 4403 and "already used" in reason


def test_an_unknown_ticket_is_refused(bare: TestClient) -> None:
    code, reason = _ws(bare, path="/ws?ticket=made-up", origin=ORIGIN)
    assert code == 4403 and "unknown or already used" in reason


def test_an_expired_ticket_is_refused(client: TestClient, bare: TestClient, server: ControlServer) -> None:
    now = [1000.0]
    server.tickets.clock = lambda: now[0]
    ticket, fresh = _ticket(client), _ticket(client)
    now[0] += TICKET_TTL_S + 0.01
    code, reason = _ws(bare, path=f"/ws?ticket={ticket}", origin=ORIGIN)
    assert code == 4403 and "expired" in reason
    assert _ws(bare, path=f"/ws?ticket={fresh}", origin=ORIGIN)[0] == 4403  # used up by nobody, still too old
    now[0] -= 5.0
    assert _ws(bare, path=f"/ws?ticket={_ticket(client)}", origin=ORIGIN) == (0, "")


def test_a_ticket_from_another_origin_is_refused_and_not_used_up(client: TestClient, bare: TestClient) -> None:
    ticket = _ticket(client)
    code, reason = _ws(bare, path=f"/ws?ticket={ticket}", origin="http://evil.example")
    assert code == 4403 and "is not the control page's own" in reason
    assert _ws(bare, path=f"/ws?ticket={ticket}", origin=ORIGIN) == (0, "")


def test_outstanding_tickets_are_bounded_oldest_first() -> None:
    tickets = Tickets()
    issued = [tickets.issue() for _ in range(MAX_TICKETS + 1)]
    assert "unknown" in tickets.redeem(issued[0])
    assert tickets.redeem(issued[1]) is None and tickets.redeem(issued[-1]) is None


def test_an_oversize_upload_is_refused(client: TestClient, config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vcamstyle.control.app.MAX_UPLOAD_BYTES", 1000)
    response = client.post("/api/upload?filename=big.png", content=b"\x89PNG" + b"0" * 2000)
    assert response.status_code == 413
    assert "too large" in response.json()["error"]
    assert not (config_file.parent / "styles").exists()


def test_an_upload_that_is_not_a_picture_is_refused_with_the_loaders_message(client: TestClient, config_file: Path,
                                                                              runtime: Path) -> None:
    response = client.post("/api/upload?filename=notes.png", content=b"these are not pixels")
    assert response.status_code == 422
    assert "cannot be read: it is not an image" in response.json()["error"]
    assert not (config_file.parent / "styles").exists()
    assert [p.name for p in (runtime / "vcamstyle").iterdir() if p.name.startswith(".upload")] == []


def test_an_upload_over_the_pixel_limit_is_refused(client: TestClient, config_file: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vcamstyle.pipeline.images.MAX_PIXELS", 100)
    response = client.post("/api/upload?filename=wide.png", content=png_bytes((40, 30)))
    assert response.status_code == 422
    assert "too large" in response.json()["error"]
    assert not (config_file.parent / "styles").exists()


def test_a_good_upload_lands_in_the_styles_folder_under_a_clean_name(client: TestClient, config_file: Path) -> None:
    response = client.post("/api/upload?filename=../../My Photo!.png", content=png_bytes())
    assert response.status_code == 200, response.text
    assert response.json()["ref"] == "styles/My_Photo.png"
    assert (config_file.parent / "styles" / "My_Photo.png").read_bytes() == png_bytes()
    assert sorted(p.name for p in config_file.parent.parent.iterdir()) == ["cfg", "run"]  # nothing written beside it


@pytest.mark.parametrize("entry", ["..%2F..%2Fconfig.yaml", "../../etc/passwd", "%2e%2e%2fconfig",
                                   "0000000000000000", "brush_strokes"])
def test_the_gallery_serves_only_files_it_listed(client: TestClient, entry: str) -> None:
    response = client.get(f"/api/gallery/{entry}.jpg")
    assert response.status_code == 404


def test_the_gallery_serves_a_listed_thumbnail(client: TestClient) -> None:
    styles = client.get("/api/gallery").json()["styles"]
    assert {"brush_strokes", "stained_glass"} <= {s["ref"].split("/")[-1].split(".")[0] for s in styles}
    thumb = client.get(f"/api/gallery/{styles[0]['id']}.jpg")
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"


def test_only_the_pages_own_static_files_are_served(client: TestClient) -> None:
    assert client.get("/static/app.js").status_code == 200
    for name in ("../server.py", "..%2Fserver.py", "index.html.bak", "__init__.py"):
        assert client.get(f"/static/{name}").status_code == 404


def test_the_server_cannot_listen_beyond_the_loopback() -> None:
    assert LOOPBACK == "127.0.0.1"
    assert "host" not in inspect.signature(ControlServer).parameters
    assert "host" not in inspect.signature(bind_loopback).parameters
    sock = bind_loopback(0)
    try:
        assert sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()


def test_the_running_server_publishes_its_secret_user_only_and_refuses_other_interfaces(
        config_file: Path, runtime: Path) -> None:
    srv = ControlServer(FakeDaemon(config_file)).start()
    try:
        info = read_control()
        assert info["url"] == srv.url and info["secret"] == srv.secret
        assert stat.S_IMODE(control_path().stat().st_mode) == 0o600
        outside = _non_loopback_address()
        if outside is not None:
            with pytest.raises(OSError):
                socket.create_connection((outside, srv.port), timeout=1).close()
    finally:
        srv.stop()
    assert read_control() is None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()


def _non_loopback_address() -> str | None:
    """This machine's address on a non-loopback interface, if it has one."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


def test_uploads_are_checked_by_the_configured_file_loader() -> None:
    from vcamstyle.pipeline import load_picture, probe

    assert gallery_module.load_picture is load_picture and gallery_module.probe is probe


def test_control_enabled_false_serves_nothing(config_file: Path, runtime: Path) -> None:
    from vcamstyle.config import ControlConfig
    from vcamstyle.control import serve_page

    assert serve_page(FakeDaemon(config_file), ControlConfig(enabled=False)) is None
    assert read_control() is None


def test_a_taken_port_is_logged_and_the_daemon_goes_on(config_file: Path, runtime: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    from vcamstyle.config import ControlConfig
    from vcamstyle.control import serve_page

    taken = bind_loopback(0)
    try:
        port = taken.getsockname()[1]
        assert serve_page(FakeDaemon(config_file), ControlConfig(port=port)) is None
    finally:
        taken.close()
    assert f"cannot listen on 127.0.0.1:{port}" in caplog.text and "control.port: 0" in caplog.text
    assert read_control() is None
