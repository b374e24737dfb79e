"""``python slow_daemon.py SECONDS run --config FILE``: the real daemon (``vcamstyle run``) on a slow
machine: every pipeline call takes SECONDS longer, so the frame loop runs below the camera's rate.

With ``VCAMSTYLE_TEST_SENDS=FILE`` set, the CLOCK_MONOTONIC time of every frame handed to a file sink
is appended to FILE (one float per line), so a test knows the wall time the recording covers exactly."""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from vcamstyle.cli import main
from vcamstyle.devices.filesink import FileSink
from vcamstyle.pipeline.core import Pipeline

DELAY_S = float(sys.argv.pop(1))
_process = Pipeline.process


def slow_process(self: Pipeline, frame):  # type: ignore[no-untyped-def]
    time.sleep(DELAY_S)
    return _process(self, frame)


Pipeline.process = slow_process  # type: ignore[method-assign]

SENDS = os.environ.get("VCAMSTYLE_TEST_SENDS")
if SENDS:
    _send = FileSink.send
    _log = open(SENDS, "a", buffering=1)  # noqa: SIM115 - open for the life of the process, line-buffered

    def logged_send(self: FileSink, frame: np.ndarray) -> None:
        _log.write(f"{time.monotonic():.6f}\n")
        _send(self, frame)

    FileSink.send = logged_send  # type: ignore[method-assign]
sys.argv[0] = "vcamstyle"
main()
