"""Issue 10's faults replayed against the real daemon: bad saves, special files, unopenable outputs
and cameras, a camera change, a reload race, editors' save styles, a re-pointed symlink.

For every fault: the daemon stays alive, frames keep flowing (placeholders count), the error shows in
status.json, a good save afterwards is applied, and the daemon's fds and threads come back to where
they were.

How fast a save lands (the issue's "within 2 s") is a wall-clock figure that depends on the machine's
load, so it is measured by ``benchmarks/reload_apply.py``, never asserted here: the waits below are hang
guards (``APPLY_GUARD_S``), ten times the bound, that only a save never applied can reach.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from harness import FaultDaemon

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Hang guard for a good save to show in status (a lost save waits forever; a slow machine takes seconds).
APPLY_GUARD_S = 20.0


def alias_bomb() -> str:
    lines = ['  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"  {name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
        previous = name
    return "unknown_key:\n" + "\n".join(lines) + "\n"


@dataclass
class Fault:
    """Makes the config bad in one way; ``undo`` puts a plain file back (before the good save)."""

    name: str
    apply: Callable[[FaultDaemon], None]
    error: str | None  # a piece of the error status must show (None: any error)
    undo: Callable[[FaultDaemon], None] = lambda d: None


def _bad_text(extra: str = "", replace: tuple[str, str] | None = None) -> Callable[[FaultDaemon], None]:
    def apply(d: FaultDaemon) -> None:
        text = d.good_text()
        if replace:
            text = text.replace(*replace)
        d.save(text + extra)
    return apply


def _output(lines: str) -> Callable[[FaultDaemon], None]:
    return _bad_text(replace=("output:\n  backend: none\n", f"output:\n{lines}"))


def _fifo(d: FaultDaemon) -> None:
    d.target.unlink()
    os.mkfifo(d.target)


def _directory(d: FaultDaemon) -> None:
    d.target.unlink()
    d.target.mkdir()


def _remove_directory(d: FaultDaemon) -> None:
    d.target.rmdir()
    d.target.write_text(d.good_text())


def _point_link_at(target: Path) -> Callable[[FaultDaemon], None]:
    def apply(d: FaultDaemon) -> None:
        tmp = d.config.with_name(".config.yaml.link")
        tmp.symlink_to(target)
        os.replace(tmp, d.config)
    return apply


def _blocker(d: FaultDaemon) -> Path:
    blocker = d.root / "a_file"
    blocker.write_text("not a directory")
    return blocker


FAULTS = [
    Fault("invalid-value", _bad_text(replace=('color: "', 'color: 12 #"')), "background.color"),
    Fault("unknown-key-alias-bomb", _bad_text(alias_bomb()), "expands to more than"),
    Fault("deep-nesting", _bad_text("deep: " + "[" * 3000 + "]" * 3000 + "\n"), "nesting deeper"),
    Fault("huge-file", _bad_text("#" * 400_000 + "\n"), "too large"),
    Fault("not-utf8", lambda d: d.target.write_bytes(b"camera:\n  device: \xff\xfe\n"), "not UTF-8"),
    Fault("empty-file", lambda d: d.save(""), "is empty"),  # never the defaults: a truncated save
    Fault("vanished", lambda d: d.target.unlink(), "not found"),
    Fault("fifo", _fifo, "FIFO"),
    Fault("directory", _directory, "is a directory", _remove_directory),
    Fault("symlink-to-dev-zero", _point_link_at(Path("/dev/zero")), "character device",
          lambda d: _point_link_at(d.target)(d)),
    Fault("output-in-missing-directory",
          lambda d: _output(f"  backend: file\n  path: {_blocker(d)}/sub/out.avi\n")(d), "output"),
    Fault("output-path-is-a-fifo", lambda d: (os.mkfifo(d.root / "out.avi") if not (d.root / "out.avi").exists()
                                              else None, _output(f"  backend: file\n  path: {d.root}/out.avi\n")(d)),
          "is a FIFO"),
    Fault("output-type-the-writer-refuses", lambda d: _output(
        f"  backend: file\n  path: {d.root}/out.webm\n  width: 8192\n  height: 16\n")(d), "output"),
    Fault("output-fps-the-writer-refuses", lambda d: _output(
        f"  backend: file\n  path: {d.root}/out.mp4\n  fps: 0.001\n")(d), "output"),
    Fault("camera-index-opencv-refuses", lambda d: d.save(d.good_text().replace(
        f"device: {d.camera_in_use}", "device: 2147483648")), "camera"),
    Fault("camera-file-missing", lambda d: d.save(d.good_text().replace(
        f"device: {d.camera_in_use}", f"device: {d.root}/no-such-camera.mp4")), "camera"),
]


def test_editors_save_styles_apply_through_the_symlink(daemon: FaultDaemon) -> None:
    """Rename-over, write-in-place, truncate-then-write, vim's backup dance: each applied."""
    baseline = daemon.resources()
    for style in ("rename", "inplace", "truncate", "vim", "rename"):
        daemon.save_good(style)
    daemon.frames_flow()
    daemon.settle_resources(baseline)


def test_repointing_the_symlink_is_noticed(daemon: FaultDaemon) -> None:
    """Issue 10, fault 7: a dotfile manager re-points the link to another file."""
    other = daemon.dotfiles / "other.yaml"
    color = daemon.next_color()
    other.write_text(daemon.good_text(color=color))
    _point_link_at(other)(daemon)
    daemon.wait_for(lambda: daemon.applied(color), timeout=APPLY_GUARD_S, what="the re-pointed file applied")
    daemon.color = color
    _point_link_at(daemon.target)(daemon)
    daemon.target.write_text(daemon.good_text())
    daemon.save_good()


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_a_bad_save_keeps_the_video_and_the_last_good_config(daemon: FaultDaemon, fault: Fault) -> None:
    baseline = daemon.resources()
    good_color = daemon.color
    fault.apply(daemon)
    daemon.wait_for(lambda: (daemon.status() or {}).get("last_error"), timeout=15, what=f"the {fault.name} error")
    error = daemon.status()["last_error"]
    if fault.error is not None:
        assert fault.error in error, error
    daemon.frames_flow()
    status = daemon.status()
    assert daemon.alive()
    assert status["background"] == f"color {good_color}"  # the last good configuration still runs
    assert status["state"] in ("streaming", "idle")
    fault.undo(daemon)
    daemon.save_good()  # applied, and the fault's error cleared (``applied`` checks both)
    daemon.frames_flow()
    daemon.settle_resources(baseline)


@pytest.mark.parametrize("change", ["camera.device", "camera.width"])
def test_a_camera_change_keeps_frames_flowing(daemon: FaultDaemon, change: str) -> None:
    """Issue 10, fault 1: the reopened camera counts its frames from 1; the output must not freeze
    until the new count passes the old one. Here the real daemon applies the change and goes on
    producing frames with the new camera's size; which frame number the loop takes first from the new
    camera (the bug's cause) is asserted without a clock in tests/daemon/test_service.py."""
    baseline = daemon.resources()
    assert daemon.status()["frames"] > 150  # the old camera's counter is far ahead of a new one's
    color = daemon.next_color()
    if change == "camera.device":
        camera = daemon.camera_wide if daemon.camera_in_use == daemon.camera else daemon.camera
        daemon.camera_in_use = camera
        text = daemon.good_text(color=color)
    else:
        text = daemon.good_text(color=color).replace("  fps: 30\n", "  fps: 30\n  width: 320\n", 1)
    daemon.save(text)
    daemon.wait_for(lambda: daemon.applied(color), timeout=APPLY_GUARD_S, what="the camera change applied")
    daemon.color = color
    daemon.frames_flow(count=45, timeout=APPLY_GUARD_S)
    if change == "camera.device":
        expected = [192, 96] if daemon.camera_in_use == daemon.camera_wide else [160, 96]
        assert daemon.status()["camera"]["granted"][:2] == expected
    daemon.save_good()
    daemon.settle_resources(baseline)


def test_a_newer_save_supersedes_a_slow_pending_build(daemon: FaultDaemon) -> None:
    """Issue 10, fault 5: save a slow-to-build config, then within a second the previous one back;
    the daemon must end on the file's content, not on the slow one."""
    slow = daemon.good_text().replace("person:\n  effect: original\n",
                                      "person:\n  effect: style\n  style: styles/mosaic.png\nstyle:\n  size: 64\n")
    daemon.save(slow)
    time.sleep(0.3)
    color = daemon.next_color()
    daemon.save(daemon.good_text(color=color))
    daemon.wait_for(lambda: daemon.applied(color), timeout=30, what="the newest save applied")
    daemon.color = color
    end = time.monotonic() + 3.0
    while time.monotonic() < end:  # and it stays: the slow build never lands afterwards
        status = daemon.status() or {}
        assert status.get("person") == "original", status
        time.sleep(0.1)
