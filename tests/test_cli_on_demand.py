"""``vcamstyle status`` shows the on-demand state and who watches the virtual camera."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vcamstyle.cli import app


@pytest.mark.parametrize("extra,line", [
    ({"state": "idle", "consumers": 0, "consumer_apps": []}, "watched by: 0 app(s)"),
    ({"state": "streaming", "consumers": 1, "consumer_apps": ["chrome (pid 7)"]}, "watched by: 1 app(s): chrome (pid 7)"),
    ({"state": "streaming", "consumers": None, "consumer_apps": []}, "watched by: not watched"),
])
def test_status_shows_state_and_consumers(isolated_xdg, monkeypatch, extra, line):
    from vcamstyle.daemon import control
    info = {"pid": 4242, "uptime_s": 3.0, "fps": 0.0, **extra}
    monkeypatch.setattr(control, "status", lambda **kwargs: dict(info))
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 0
    assert f"vcamstyle is {extra['state']} (pid 4242" in result.output and line in result.output
    data = json.loads(CliRunner().invoke(app, ["status", "--json"]).stdout)
    assert data["state"] == extra["state"] and data["consumers"] == extra["consumers"]
