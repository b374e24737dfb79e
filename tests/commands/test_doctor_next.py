"""``doctor`` ends with the one command to run next: the device first, then missing weights, then the service."""

from __future__ import annotations

import pytest

from vcamstyle.commands import next_command
from vcamstyle.commands.doctor import Check

DEVICE = Check("fail", "virtual camera", "no v4l2loopback device", "vcamstyle setup loopback  (loads the module)")
WEIGHTS = Check("fail", "config", "adain: decoder.pth is missing", "run `vcamstyle weights fetch adain` or copy it")
SERVICE = Check("warn", "login service", "not installed", "vcamstyle service install  (runs the daemon at login)")
FINE = Check("ok", "compute", "cpu")


@pytest.mark.parametrize(("checks", "expected"), [
    ([FINE, SERVICE, WEIGHTS, DEVICE], "vcamstyle setup loopback"),
    ([FINE, SERVICE, WEIGHTS], "vcamstyle weights fetch adain"),
    ([SERVICE, FINE], "vcamstyle service install"),
    ([FINE], None),
    ([Check("warn", "upstream weights", "0/6 present", "vcamstyle weights fetch adain (or sanet)")], None),
])
def test_the_next_command_is_the_most_basic_missing_piece(checks: list[Check], expected: str | None) -> None:
    assert next_command(checks) == expected
