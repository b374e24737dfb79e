"""The machine as the set-up commands see it: a command runner, root privileges, the distribution.

Everything that touches the system goes through a ``Host``, so tests replace it with a recorded, faked
one (``tests/commands/fake_host.py``) and the set-up logic never runs a real ``sudo`` there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vcamstyle.errors import SetupError

COMMAND_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Result:
    """What a command did: exit status and its text output."""

    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def output(self) -> str:
        return (self.stderr + "\n" + self.stdout).strip()


Runner = Callable[[Sequence[str]], Result]


def run_system(args: Sequence[str]) -> Result:
    """Run ``args`` for real; a missing program is exit status 127 (as a shell says), never an exception."""
    try:
        done = subprocess.run(list(args), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
                              check=False, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        return Result(127, "", f"{args[0]}: command not found")
    except subprocess.TimeoutExpired:
        return Result(124, "", f"`{' '.join(args)}` did not finish within {COMMAND_TIMEOUT_S:g} s")
    return Result(done.returncode, done.stdout, done.stderr)


@dataclass
class Host:
    """The system: ``root`` is where ``/etc``, ``/sys`` and ``/proc`` are (``/`` for real)."""

    run: Runner = run_system
    root: Path = Path("/")
    euid: int = field(default_factory=os.geteuid)
    which: Callable[[str], str | None] = shutil.which

    def path(self, absolute: str) -> Path:
        """``/etc/x`` under ``root``."""
        return self.root / absolute.lstrip("/")

    def read(self, absolute: str) -> str | None:
        """The text of a file, or None when it does not exist or cannot be read."""
        try:
            return self.path(absolute).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    @property
    def is_root(self) -> bool:
        return self.euid == 0

    def as_root(self, args: Sequence[str]) -> list[str]:
        """``args`` with the prefix that runs them as root: nothing for root, else sudo, else pkexec.

        Raises:
            SetupError: neither sudo nor pkexec is installed.
        """
        if self.is_root:
            return list(args)
        for tool in ("sudo", "pkexec"):
            if self.which(tool):
                return [tool, *args]
        raise SetupError("this step needs root and neither sudo nor pkexec is installed",
                         hint="run the same command as root: su -c 'vcamstyle setup loopback --yes'")

    def run_as_root(self, args: Sequence[str]) -> Result:
        """Run ``args`` as root; a refused sudo/pkexec becomes one clear ``SetupError``."""
        command = self.as_root(args)
        result = self.run(command)
        if result.returncode != 0 and command[0] in ("sudo", "pkexec") and _privilege_refused(command[0], result):
            raise SetupError(f"{command[0]} refused to run `{' '.join(args)}`: {result.output.splitlines()[-1]}",
                             hint="ask your administrator for sudo rights (or run the command as root: "
                                  "su -c 'vcamstyle setup loopback --yes')")
        return result


def _privilege_refused(tool: str, result: Result) -> bool:
    text = result.output.lower()
    if tool == "sudo":
        return any(words in text for words in ("not in the sudoers", "not allowed to", "password is required",
                                               "incorrect password", "no tty present", "a terminal is required"))
    return result.returncode in (126, 127)  # pkexec: dismissed (126) or not authorised (127)


def os_release(host: Host) -> dict[str, str]:
    """``/etc/os-release`` as a dict (``ID``, ``ID_LIKE``, ...); empty when missing."""
    text = host.read("/etc/os-release") or host.read("/usr/lib/os-release") or ""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            values[key.strip()] = value.strip().strip('"').strip("'")
    return values


#: (distribution ids, the command that installs v4l2loopback there).
INSTALL_COMMANDS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"debian", "ubuntu", "linuxmint", "pop", "elementary", "raspbian"}),
     "sudo apt install v4l2loopback-dkms linux-headers-$(uname -r)"),
    (frozenset({"fedora", "rhel", "centos", "rocky", "almalinux"}),
     "sudo dnf install akmod-v4l2loopback  (from RPM Fusion free: https://rpmfusion.org/Configuration)"),
    (frozenset({"arch", "manjaro", "endeavouros"}), "sudo pacman -S v4l2loopback-dkms linux-headers"),
    (frozenset({"opensuse", "opensuse-leap", "opensuse-tumbleweed", "suse", "sles"}),
     "sudo zypper install v4l2loopback-kmp-default"),
    (frozenset({"gentoo"}), "sudo emerge media-video/v4l2loopback"),
    (frozenset({"nixos"}), "add boot.extraModulePackages = [ config.boot.kernelPackages.v4l2loopback ]; "
                           "to configuration.nix, then nixos-rebuild switch"),
)


def install_command(release: dict[str, str]) -> str:
    """How to install the v4l2loopback module on this distribution (``ID``, then ``ID_LIKE``)."""
    ids = [release.get("ID", "").lower(), *release.get("ID_LIKE", "").lower().split()]
    for distro in ids:
        for family, command in INSTALL_COMMANDS:
            if distro in family:
                return command
    name = release.get("PRETTY_NAME") or "this distribution"
    return (f"install your distribution's v4l2loopback kernel module package ({name}; it is usually called "
            "v4l2loopback-dkms), or build it from https://github.com/umlaeute/v4l2loopback")


def signing_key_hint(host: Host) -> str:
    """How to enrol the key that signs DKMS/akmods modules, so Secure Boot loads them."""
    for key in ("/var/lib/dkms/mok.pub", "/var/lib/shim-signed/mok/MOK.der", "/etc/pki/akmods/certs/public_key.der"):
        if host.path(key).exists():
            return (f"enrol the module-signing key: sudo mokutil --import {key} (choose a one-time password), "
                    "reboot, pick 'Enroll MOK' in the blue MOK manager screen and enter that password; "
                    "then run `vcamstyle setup loopback` again (or turn Secure Boot off in the firmware)")
    return ("enrol the key DKMS signs modules with: sudo mokutil --import /var/lib/dkms/mok.pub (its path on "
            "your distribution may differ: see `dkms status` / your distribution's Secure Boot page), reboot and "
            "pick 'Enroll MOK'; then run `vcamstyle setup loopback` again (or turn Secure Boot off in the firmware)")
