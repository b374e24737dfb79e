"""The control page's HTTP routes (Starlette): page, state, settings, gallery, upload, try-on, WebSocket.

Everything here sits behind ``Guard`` (``server.build_app``). The only files written are
``config.yaml`` (``yaml_edit``) and new pictures in its ``styles/`` folder (``gallery``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from vcamstyle import paths
from vcamstyle.control.form import file_values, settings_form
from vcamstyle.control.gallery import MAX_UPLOAD_BYTES, Gallery, UploadRefused
from vcamstyle.control.guard import TICKET_TTL_S, Tickets
from vcamstyle.control.preview import VIEWS, PreviewTap
from vcamstyle.control.tryon import paint_tiles
from vcamstyle.control.validate import check_candidate
from vcamstyle.control.yaml_edit import parse_value, set_keys, write_checked
from vcamstyle.errors import VcamstyleError

log = logging.getLogger(__name__)

STATE_INTERVAL_S = 0.5
STATIC_FILES = {"app.js": "text/javascript", "style.css": "text/css"}
REGIONS = ("person", "background")


class DaemonView(Protocol):
    """What the page reads from the running daemon (``vcamstyle.daemon.Service`` provides it)."""

    config_path: Path
    engine: Any
    scene: Any

    def status(self) -> dict[str, Any]: ...


def _static(name: str) -> bytes:
    return resources.files("vcamstyle.control").joinpath("static", name).read_bytes()


class ControlApp:
    """The routes, bound to one daemon, its preview tap and the guard's WebSocket tickets."""

    def __init__(self, daemon: DaemonView, tap: PreviewTap, tickets: Tickets) -> None:
        self.daemon = daemon
        self.tap = tap
        self.tickets = tickets
        self.gallery = Gallery(daemon.config_path)
        self.pages = 0  # open WebSockets: pages showing the status
        self._file_cache: tuple[tuple[int, int, int], dict[str, Any]] | None = None

    # ------------------------------------------------------------------ the file
    def file_state(self) -> dict[str, Any]:
        """The values config.yaml writes now (an edit by hand shows at the next poll; parsed again only
        when the file's inode, size or modification time changed)."""
        path = Path(self.daemon.config_path)
        try:
            info = path.stat()
            key = (info.st_ino, info.st_size, info.st_mtime_ns)
            if self._file_cache is None or self._file_cache[0] != key:
                text = path.read_text(encoding="utf-8")
                values = file_values(YAML(typ="safe", pure=True).load(text))
                self._file_cache = (key, {"values": values, "file_error": None})
            return self._file_cache[1]
        except (OSError, UnicodeDecodeError, YAMLError) as exc:
            return {"values": {}, "file_error": f"{path}: cannot be read ({exc})"}

    def write_changes(self, changes: dict[str, Any]) -> None:
        """Write ``changes`` (dotted key -> value) into config.yaml, validated as `config check` does;
        raises ``VcamstyleError`` (nothing written) when the result would be refused."""
        path = Path(self.daemon.config_path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        new_text = set_keys(text, changes)
        write_checked(path, new_text, lambda candidate: check_candidate(candidate, path))
        log.info("control page wrote %s (%s)", path, ", ".join(sorted(changes)))

    def state(self) -> dict[str, Any]:
        status = self.daemon.status()
        status["watchers"] = {"pages": self.pages, "preview": self.tap.watchers}
        status["preview_error"] = self.tap.last_error
        return {"status": status, **self.file_state()}

    # ------------------------------------------------------------------ routes
    async def index(self, request: Request) -> Response:
        """The page's shell (public: the packaged file; its script reads the secret from ``#secret=``)."""
        return Response(_static("index.html"), media_type="text/html",
                        headers={"cache-control": "no-store", "x-frame-options": "DENY",
                                 "referrer-policy": "no-referrer",
                                 "content-security-policy": "default-src 'self'; img-src 'self' blob: data:; "
                                                            "connect-src 'self'; frame-ancestors 'none'"})

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            return Response("not found", status_code=404)
        return Response(_static(name), media_type=STATIC_FILES[name], headers={"cache-control": "no-store"})

    async def ticket(self, request: Request) -> Response:
        """A one-use WebSocket ticket (the Guard checked the secret and the Origin)."""
        return JSONResponse({"ticket": self.tickets.issue(), "expires_in_s": TICKET_TTL_S})

    async def form(self, request: Request) -> Response:
        return JSONResponse({"sections": settings_form(), "regions": list(REGIONS)})

    async def get_state(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self.state))

    async def post_config(self, request: Request) -> Response:
        """``{"changes": {"person.strength": "0.5"}}``: each value is YAML text, as typed in the file."""
        body = await _json_body(request)
        changes = body.get("changes") if isinstance(body, dict) else None
        if not isinstance(changes, dict) or not changes or not all(isinstance(v, str) for v in changes.values()):
            return _refused(400, 'expected {"changes": {"section.key": "value as YAML text"}}')
        try:
            parsed = {str(k): parse_value(v) for k, v in changes.items()}
            await run_in_threadpool(self.write_changes, parsed)
        except VcamstyleError as exc:
            return _refused(422, str(exc))
        return JSONResponse({"ok": True, **self.file_state()})

    async def gallery_list(self, request: Request) -> Response:
        entries = await run_in_threadpool(self.gallery.entries)
        return JSONResponse({"styles": [{"id": e.id, "name": e.name, "source": e.source, "ref": e.ref}
                                        for e in entries]})

    async def thumbnail(self, request: Request) -> Response:
        entry = self.gallery.entry(request.path_params["entry"])
        if entry is None:
            return Response("not found (not a gallery picture)", status_code=404)
        try:
            data = await run_in_threadpool(self.gallery.thumbnail, entry)
        except VcamstyleError as exc:
            return _refused(422, str(exc))
        return Response(data, media_type="image/jpeg")

    async def apply(self, request: Request) -> Response:
        """``{"id": ..., "region": "person"|"background", "as": "style"|"image"}``."""
        body = await _json_body(request)
        entry = self.gallery.entry(str(body.get("id"))) if isinstance(body, dict) else None
        region, use = (body.get("region"), body.get("as", "style")) if isinstance(body, dict) else (None, None)
        if entry is None or region not in REGIONS or use not in ("style", "image"):
            return _refused(400, 'expected {"id": a gallery id, "region": "person" | "background", '
                                 '"as": "style" | "image"}')
        try:
            await run_in_threadpool(self.write_changes, {f"{region}.effect": use, f"{region}.{use}": entry.ref})
        except VcamstyleError as exc:
            return _refused(422, str(exc))
        return JSONResponse({"ok": True, **self.file_state()})

    async def upload(self, request: Request) -> Response:
        """The raw picture as the body; ``?filename=`` names it."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
            return _refused(413, f"the picture is too large (at most {MAX_UPLOAD_BYTES // 1_000_000} MB)")
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_UPLOAD_BYTES:
                return _refused(413, f"the picture is too large (at most {MAX_UPLOAD_BYTES // 1_000_000} MB)")
        name = request.query_params.get("filename") or "picture"
        try:
            entry = await run_in_threadpool(self.gallery.add, os.path.basename(name), bytes(data), paths.runtime_dir())
        except UploadRefused as exc:
            return _refused(422, str(exc))
        return JSONResponse({"ok": True, "id": entry.id, "name": entry.name, "ref": entry.ref})

    async def try_on(self, request: Request) -> Response:
        """``{"ids": [...]}`` -> ``{"tiles": [{"id", "jpeg": base64}]}`` painted on the current frame."""
        body = await _json_body(request)
        ids = body.get("ids") if isinstance(body, dict) else None
        entries = [self.gallery.entry(str(i)) for i in ids] if isinstance(ids, list) else []
        if not entries or any(e is None for e in entries):
            return _refused(400, 'expected {"ids": [gallery ids]}')
        scene, frame = self.daemon.scene, self.tap.last_original
        if frame is None:
            return _refused(409, "no camera frame yet: try-on paints the preview's frame (open the preview; "
                                 "under output.on_demand the camera is on only while an app watches)")
        if scene is None or scene.stylizer is None:
            return _refused(409, "no style network is loaded: set a region's effect to style first")
        try:
            tiles = await run_in_threadpool(paint_tiles, self.daemon.engine, scene.stylizer, scene.device, frame,
                                            [e.path for e in entries])
        except VcamstyleError as exc:
            return _refused(422, str(exc))
        return JSONResponse({"tiles": [{"id": e.id, "jpeg": base64.b64encode(t).decode()}
                                       for e, t in zip(entries, tiles)]})

    async def socket(self, websocket: WebSocket) -> None:
        """State every ``STATE_INTERVAL_S``; preview frames (binary: one byte view index, then the JPEG)
        while the page asks for them with ``{"preview": true, "side_by_side": bool}``."""
        await websocket.accept()
        self.pages += 1
        watching: bool | None = None  # None: not watching; else side_by_side
        sent_seq = 0
        next_state = 0.0
        loop = asyncio.get_running_loop()
        fresh = asyncio.Event()

        def wake() -> None:
            loop.call_soon_threadsafe(fresh.set)

        self.tap.listeners.add(wake)
        try:
            receiver = asyncio.ensure_future(websocket.receive_text())
            while True:
                if receiver.done():
                    wish = _wish(receiver.result())
                    if watching is not None:
                        self.tap.unwatch(watching)
                    watching = wish
                    if watching is not None:
                        self.tap.watch(watching)
                    receiver = asyncio.ensure_future(websocket.receive_text())
                now = loop.time()
                if now >= next_state:
                    next_state = now + STATE_INTERVAL_S
                    await websocket.send_text(json.dumps(await run_in_threadpool(self.state), default=str))
                fresh.clear()  # before reading: a frame encoded after this sets it again
                latest = self.tap.latest()
                if watching is not None and latest is not None and latest.seq != sent_seq:
                    sent_seq = latest.seq
                    for index, view in enumerate(VIEWS):
                        if view in latest.jpeg:
                            await websocket.send_bytes(bytes([index]) + latest.jpeg[view])
                waiter = asyncio.ensure_future(fresh.wait())
                await asyncio.wait({receiver, waiter}, timeout=max(0.0, next_state - loop.time()),
                                   return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
        except (WebSocketDisconnect, RuntimeError):
            pass  # the page closed (RuntimeError: Starlette's "not connected" after a close)
        finally:
            self.tap.listeners.discard(wake)
            receiver.cancel()
            self.pages -= 1
            if watching is not None:
                self.tap.unwatch(watching)

    def routes(self) -> list:
        return [
            Route("/", self.index),
            Route("/static/{name}", self.static),
            Route("/api/ticket", self.ticket, methods=["POST"]),
            Route("/api/form", self.form),
            Route("/api/state", self.get_state),
            Route("/api/config", self.post_config, methods=["POST"]),
            Route("/api/gallery", self.gallery_list),
            Route("/api/gallery/{entry}.jpg", self.thumbnail),
            Route("/api/apply", self.apply, methods=["POST"]),
            Route("/api/upload", self.upload, methods=["POST"]),
            Route("/api/tryon", self.try_on, methods=["POST"]),
            WebSocketRoute("/ws", self.socket),
        ]


def _wish(text: str) -> bool | None:
    """A page's preview request: None (no preview) or whether it shows original | mask | result."""
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict) or not message.get("preview"):
        return None
    return bool(message.get("side_by_side"))


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > 64 * 1024:
        return None
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None


def _refused(status: int, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


def build_routes(app: ControlApp) -> Starlette:
    return Starlette(routes=app.routes())
