"""``vcamstyle ui``: the running daemon's page found in the runtime directory, opened or only printed."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from vcamstyle.cli import app
from vcamstyle.control.runtime import write_control

runner = CliRunner()


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("VCAMSTYLE_NO_SYSTEMD", "1")
    return tmp_path


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url: calls.append(url) or True)
    return calls


def _running(monkeypatch: pytest.MonkeyPatch, pid: int = 4242, state: str = "streaming") -> None:
    monkeypatch.setattr("vcamstyle.daemon.control.status", lambda: {"pid": pid, "state": state})


def test_without_a_daemon_it_says_so_and_how_to_start_one(runtime: Path, opened: list[str]) -> None:
    result = runner.invoke(app, ["ui"])
    assert result.exit_code == 3
    assert "vcamstyle is not running" in result.output and "vcamstyle start" in result.output
    assert opened == []


def test_it_opens_the_running_daemons_page_with_its_secret(runtime: Path, opened: list[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _running(monkeypatch)
    write_control({"url": "http://127.0.0.1:45678/", "port": 45678, "secret": "s3cret", "pid": 4242})
    result = runner.invoke(app, ["ui"])
    assert result.exit_code == 0, result.output
    assert opened == ["http://127.0.0.1:45678/#secret=s3cret"]
    assert "control page: http://127.0.0.1:45678/#secret=s3cret" in result.output


def test_no_browser_only_prints_the_address(runtime: Path, opened: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    _running(monkeypatch)
    write_control({"url": "http://127.0.0.1:45678/", "port": 45678, "secret": "s3cret", "pid": 4242})
    result = runner.invoke(app, ["ui", "--no-browser"])
    assert result.exit_code == 0 and opened == []
    assert "http://127.0.0.1:45678/#secret=s3cret" in result.output


def test_a_page_left_by_an_earlier_daemon_is_not_opened(runtime: Path, opened: list[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _running(monkeypatch, pid=5000)
    write_control({"url": "http://127.0.0.1:45678/", "port": 45678, "secret": "old", "pid": 4242})
    result = runner.invoke(app, ["ui"])
    assert result.exit_code == 1 and opened == []
    assert "serves no control page" in result.output and "control.enabled" in result.output


def test_a_daemon_still_starting_is_said_to_be_starting(runtime: Path, opened: list[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _running(monkeypatch, state="starting")
    result = runner.invoke(app, ["ui"])
    assert result.exit_code == 1 and "still starting" in result.output
