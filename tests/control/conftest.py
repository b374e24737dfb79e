"""Fixtures for the control page: a config file, a stand-in daemon and a guarded test client."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from starlette.testclient import TestClient

from vcamstyle import paths
from vcamstyle.control import ControlServer

PORT = 48123
ORIGIN = f"http://127.0.0.1:{PORT}"

CONFIG = """\
# my own notes: keep this line
camera:
  device: auto   # the webcam
person:
  effect: style         # what the person becomes
  strength: 0.7         # [0, 1]
background:
  effect: blur
  blur: 25              # pixels
"""


class FakeDaemon:
    """What the page reads from a daemon, without a camera or models."""

    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self.engine = None
        self.scene = None

    def status(self) -> dict[str, Any]:
        return {"state": "streaming", "fps": 30.0, "stage_ms": {}, "last_error": None}


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    return run


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "cfg" / "config.yaml"
    path.parent.mkdir()
    path.write_text(CONFIG)
    path.chmod(0o640)
    return path


@pytest.fixture
def server(config_file: Path, runtime: Path) -> ControlServer:
    srv = ControlServer(FakeDaemon(config_file))
    srv.port = PORT  # not started: the tests drive its ASGI app directly
    return srv


@pytest.fixture
def client(server: ControlServer) -> Iterator[TestClient]:
    """A client that passes every check (secret header, loopback Host, the page's Origin)."""
    with TestClient(server.asgi(), base_url=ORIGIN,
                    headers={"x-vcamstyle-secret": server.secret, "origin": ORIGIN}) as c:
        yield c


@pytest.fixture
def bare(server: ControlServer) -> Iterator[TestClient]:
    """A client with nothing: no secret, no Origin (the loopback Host only)."""
    with TestClient(server.asgi(), base_url=ORIGIN) as c:
        yield c


def png_bytes(size: tuple[int, int] = (40, 30), color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


__all__ = ["paths"]
