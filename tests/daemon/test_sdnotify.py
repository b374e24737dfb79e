"""sd_notify against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vcamstyle.daemon import sdnotify


def _receive(sock: socket.socket) -> str:
    sock.settimeout(5.0)
    return sock.recv(4096).decode("utf-8")


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A bound datagram socket; $NOTIFY_SOCKET points at it."""
    directory = tmp_path
    if len(str(tmp_path / "notify.sock")) > 100:  # sun_path holds 108 bytes
        directory = Path(tempfile.mkdtemp(prefix="sdn"))
    path = directory / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        yield sock
    path.unlink()


def test_no_socket_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.notify("READY=1") is False
    assert sdnotify.ready("x") is False
    assert sdnotify.stopping() is False


def test_notify_sends_the_state_verbatim(notify_socket: socket.socket) -> None:
    assert sdnotify.notify("READY=1\nSTATUS=hello") is True
    assert _receive(notify_socket) == "READY=1\nSTATUS=hello"


def test_ready_with_status(notify_socket: socket.socket) -> None:
    assert sdnotify.ready("29.8 fps\nperson: starry") is True
    message = _receive(notify_socket)
    assert message.splitlines() == ["READY=1", "STATUS=29.8 fps person: starry"]


def test_reloading_carries_monotonic_usec(notify_socket: socket.socket) -> None:
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert sdnotify.reloading() is True
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    fields = dict(line.split("=", 1) for line in _receive(notify_socket).splitlines())
    assert fields["RELOADING"] == "1"
    assert before <= int(fields["MONOTONIC_USEC"]) <= after


def test_stopping_and_status(notify_socket: socket.socket) -> None:
    assert sdnotify.stopping("shutting down") is True
    assert _receive(notify_socket) == "STOPPING=1\nSTATUS=shutting down"
    assert sdnotify.status("12 fps") is True
    assert _receive(notify_socket) == "STATUS=12 fps"


def test_abstract_namespace_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"vcamstyle-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.notify("WATCHDOG=1") is True
        assert _receive(sock) == "WATCHDOG=1"


def test_send_failure_returns_false_and_logs_at_debug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens.sock"))
    with caplog.at_level("DEBUG", logger="vcamstyle.daemon.sdnotify"):
        assert sdnotify.ready() is False
    assert "sd_notify" in caplog.text
    assert all(record.levelname == "DEBUG" for record in caplog.records)


def test_relative_socket_path_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "relative.sock")
    assert sdnotify.notify("READY=1") is False
