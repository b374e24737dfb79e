"""``python slow_daemon.py SECONDS run --config FILE``: the real daemon (``vcamstyle run``) on a slow
machine: every pipeline call takes SECONDS longer, so the frame loop runs below the camera's rate."""

from __future__ import annotations

import sys
import time

from vcamstyle.cli import main
from vcamstyle.pipeline.core import Pipeline

DELAY_S = float(sys.argv.pop(1))
_process = Pipeline.process


def slow_process(self: Pipeline, frame):  # type: ignore[no-untyped-def]
    time.sleep(DELAY_S)
    return _process(self, frame)


Pipeline.process = slow_process  # type: ignore[method-assign]
sys.argv[0] = "vcamstyle"
main()
