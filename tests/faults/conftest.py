"""Fixtures for the fault-injection suite: one real daemon per module (starting one loads the
segmenter; the faults are replayed against the same process, each ending with a good save)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from harness import FaultDaemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultDaemon]:
    d = FaultDaemon(Path(tmp_path_factory.mktemp("fault-daemon")))
    d.start()
    yield d
    if d.process is not None and d.process.poll() is None:
        d.process.kill()
        d.process.wait(timeout=10)
