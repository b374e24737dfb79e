"""End-to-end tests against the real v4l2loopback driver. They run INSIDE ``loopback-vm`` (``.ci/run`` and
``scripts/e2e.sh`` start them there with ``VCAMSTYLE_E2E=1``); in a normal test run they are skipped.

One daemon (``vm_daemon``) serves the whole session: the guest is emulated and a daemon start costs
about a minute (mostly importing torch), so tests reuse it and restart it only where restarting is the point.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vm import DEVICE, VmDaemon, camera_image

IN_VM = os.environ.get("VCAMSTYLE_E2E") == "1"
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IN_VM and os.path.exists(DEVICE):
        return
    reason = ("runs inside loopback-vm against the real v4l2loopback driver (.ci/run and scripts/e2e.sh "
              "run it with VCAMSTYLE_E2E=1)")
    if IN_VM:
        reason = f"VCAMSTYLE_E2E=1 but {DEVICE} does not exist: is the v4l2loopback module loaded?"
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def restored_thread_policy() -> Iterator[None]:
    """Overrides the suite-wide fixture of that name: these tests run the daemon as its own process and
    never touch this process's thread policy, and importing torch here cost each guest 100-180 s of its
    first test (and the memory of a second torch beside the daemon's in a 2 GiB guest)."""
    yield


@pytest.fixture(autouse=True)
def injected_cpu_flags() -> frozenset[str]:
    """Overrides the suite-wide fixture of that name: the daemon under test is another process, which
    a monkeypatch here would not reach anyway."""
    return frozenset()


@pytest.fixture(scope="session")
def e2e_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def still(e2e_root: Path) -> tuple[Path, np.ndarray]:
    """The camera stand-in: a PNG still and its ``HxWx3 uint8 RGB`` pixels."""
    path = e2e_root / "camera.png"
    return path, camera_image(path)


@pytest.fixture(scope="session")
def vm_daemon(e2e_root: Path) -> Iterator[VmDaemon]:
    daemon = VmDaemon(e2e_root / "daemon")
    daemon.root.mkdir(exist_ok=True)
    yield daemon
    if daemon.status() is not None:
        daemon.cli("stop", "--timeout", "60")
