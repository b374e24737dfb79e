"""Fixtures for the daemon integration tests (see ``daemon_harness``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest
from daemon_harness import Daemon, write_camera_video


@pytest.fixture
def daemon_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    for var, sub in (("HOME", "home"), ("XDG_CONFIG_HOME", "config"), ("XDG_RUNTIME_DIR", "run"),
                     ("XDG_STATE_HOME", "state"), ("XDG_DATA_HOME", "data")):
        (tmp_path / sub).mkdir(mode=0o700, exist_ok=True)
        env[var] = str(tmp_path / sub)
    env["VCAMSTYLE_NO_SYSTEMD"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("NOTIFY_SOCKET", None)
    return env


@pytest.fixture
def daemon(tmp_path: Path, daemon_env: dict[str, str]) -> Iterator[Daemon]:
    d = Daemon(tmp_path, daemon_env)
    write_camera_video(d.camera)
    d.write_config()
    yield d
    if d.process is not None and d.process.poll() is None:
        d.process.kill()
        d.process.wait(timeout=10)
