"""A faked machine for the set-up commands: a temporary root (``/etc``, ``/sys``) and a recording runner
that plays ``sudo``, ``install``, ``modinfo``, ``modprobe`` and ``systemctl`` with injectable failures."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vcamstyle.commands.host import Host, Result

SECURE_BOOT = "modprobe: ERROR: could not insert 'v4l2loopback': Key was rejected by service"
NOT_FOUND = "modprobe: FATAL: Module v4l2loopback not found in directory /lib/modules/6.1.0-57-amd64"
IN_USE = "modprobe: FATAL: Module v4l2loopback is in use."


@dataclass
class FakeSystem:
    root: Path
    euid: int = 1000
    tools: set[str] = field(default_factory=lambda: {"sudo", "pkexec", "systemctl"})
    module_installed: bool = True
    secure_boot: bool = False
    sudo_refuses: str | None = None  # sudo's stderr when it refuses
    held: bool = False  # modprobe -r reports "in use"
    systemctl_fail: dict[str, Result] = field(default_factory=dict)  # first systemctl word -> result
    calls: list[list[str]] = field(default_factory=list)

    def host(self) -> Host:
        return Host(run=self.run, root=self.root, euid=self.euid,
                    which=lambda tool: f"/usr/bin/{tool}" if tool in self.tools else None)

    def release(self, text: str) -> None:
        (self.root / "etc").mkdir(parents=True, exist_ok=True)
        (self.root / "etc/os-release").write_text(text)

    def load(self, video_nr: int = 10, card_label: str = "vcamstyle", exclusive_caps: int = 1) -> None:
        """Make the module loaded, as the kernel would show it in sysfs."""
        params = self.root / "sys/module/v4l2loopback/parameters"
        params.mkdir(parents=True, exist_ok=True)
        (params / "exclusive_caps").write_text(",".join(["Y" if exclusive_caps else "N"] + ["N"] * 7) + "\n")
        (self.root / "sys/module/v4l2loopback/refcnt").write_text("0\n")
        node = self.root / f"sys/devices/virtual/video4linux/video{video_nr}"
        node.mkdir(parents=True, exist_ok=True)
        (node / "name").write_text(card_label + "\n")

    def unload(self) -> None:
        shutil.rmtree(self.root / "sys/module/v4l2loopback", ignore_errors=True)
        shutil.rmtree(self.root / "sys/devices/virtual/video4linux", ignore_errors=True)

    @property
    def root_commands(self) -> list[list[str]]:
        return [call[1:] for call in self.calls if call[0] in ("sudo", "pkexec")]

    def run(self, args: Sequence[str]) -> Result:
        args = list(args)
        self.calls.append(args)
        if args[0] in ("sudo", "pkexec"):
            if self.sudo_refuses is not None:
                return Result(1, "", self.sudo_refuses)
            args = args[1:]
        program = args[0]
        if program == "install":
            source, dest = Path(args[-2]), Path(args[-1])
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
            return Result(0)
        if program in ("modinfo", "/usr/sbin/modinfo"):
            return Result(0, "/lib/modules/x/updates/v4l2loopback.ko\n") if self.module_installed else \
                Result(1, "", "modinfo: ERROR: Module v4l2loopback not found.")
        if program == "modprobe":
            return self._modprobe(args[1:])
        if program in ("systemctl", "journalctl"):
            key = args[2] if program == "systemctl" else "journalctl"
            if key in self.systemctl_fail:
                return self.systemctl_fail[key]
            return Result(0, "active\n" if key == "is-active" else ("enabled\n" if key == "is-enabled" else ""))
        return Result(127, "", f"{program}: command not found")

    def _modprobe(self, args: list[str]) -> Result:
        if args[0] == "-r":
            if self.held:
                return Result(1, "", IN_USE)
            self.unload()
            return Result(0)
        if not self.module_installed:
            return Result(1, "", NOT_FOUND)
        if self.secure_boot:
            return Result(1, "", SECURE_BOOT)
        options = dict(word.split("=", 1) for word in args[1:])
        self.load(int(options["video_nr"]), options["card_label"], int(options["exclusive_caps"]))
        return Result(0)
