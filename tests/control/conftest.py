"""Fixtures for the control page: a config file, a stand-in daemon and a guarded test client."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from starlette.testclient import TestClient

from control_fakes import CONFIG, ORIGIN, PORT, FakeDaemon

from vcamstyle.control import ControlServer


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
