"""``vcamstyle setup loopback``, part one: what the machine has, what it should have, and the steps between.

Reading only: nothing here changes the system. ``loopback_setup`` carries the plan out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from vcamstyle.commands.host import Host
from vcamstyle.errors import SetupError

MODULE = "v4l2loopback"
MODPROBE_FILE = "/etc/modprobe.d/v4l2loopback.conf"
MODULES_LOAD_FILE = "/etc/modules-load.d/v4l2loopback.conf"
SYS_MODULE = "/sys/module/v4l2loopback"
VIRTUAL_VIDEO = "/sys/devices/virtual/video4linux"
LABEL_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.+-]{0,30}")


@dataclass(frozen=True)
class LoopbackOptions:
    """The module options vcamstyle documents (``systemd/v4l2loopback.conf`` holds the same line)."""

    video_nr: int = 10
    card_label: str = "vcamstyle"
    exclusive_caps: int = 1
    devices: int = 1
    max_buffers: int = 2

    def __post_init__(self) -> None:
        if not 0 <= self.video_nr <= 255:
            raise SetupError(f"video_nr {self.video_nr} is out of range", hint="use a number from 0 to 255 (default 10)")
        if self.exclusive_caps not in (0, 1):
            raise SetupError(f"exclusive_caps must be 0 or 1, got {self.exclusive_caps}", hint="use --exclusive-caps 0 or 1")
        if not LABEL_PATTERN.fullmatch(self.card_label):
            raise SetupError(f"card label {self.card_label!r} is not usable",
                             hint="use 1-31 letters, digits, spaces, '_', '.', '+' or '-', starting with a letter or digit")

    def arguments(self) -> list[str]:
        """``key=value`` words for ``modprobe`` (one word each: a label with spaces stays one argument)."""
        return [f"devices={self.devices}", f"exclusive_caps={self.exclusive_caps}", f"video_nr={self.video_nr}",
                f"card_label={self.card_label}", f"max_buffers={self.max_buffers}"]

    def options_line(self) -> str:
        """The ``options`` line of the modprobe.d file (a label with spaces in double quotes)."""
        words = [w if " " not in w else w.replace("=", '="', 1) + '"' for w in self.arguments()]
        return f"options {MODULE} " + " ".join(words)

    @property
    def device(self) -> str:
        return f"/dev/video{self.video_nr}"


def modprobe_text(options: LoopbackOptions) -> str:
    return (f"# {MODPROBE_FILE}: written by `vcamstyle setup loopback`; options of the virtual camera.\n"
            "# exclusive_caps=1: Chrome, Chromium and Meet list the device only while vcamstyle writes to it;\n"
            "# exclusive_caps=0: always listed (some Zoom and Teams setups need it), Chrome-based apps may ignore it.\n"
            "# Change it with `vcamstyle setup loopback --exclusive-caps 0` (or edit here and reload the module).\n"
            f"{options.options_line()}\n")


def modules_load_text() -> str:
    return (f"# {MODULES_LOAD_FILE}: written by `vcamstyle setup loopback`; loads the virtual camera at boot\n"
            f"# (its options are in {MODPROBE_FILE}).\n{MODULE}\n")


@dataclass(frozen=True)
class LoadedModule:
    """The loaded module as sysfs shows it: its loopback devices ``{number: card label}``, exclusive_caps."""

    devices: dict[int, str]
    exclusive_caps: list[int] | None  # None when the module does not expose it


def loaded_module(host: Host) -> LoadedModule | None:
    """The loaded v4l2loopback, or None when it is not loaded."""
    if not host.path(SYS_MODULE).is_dir():
        return None
    devices = {}
    base = host.path(VIRTUAL_VIDEO)
    for entry in sorted(base.iterdir()) if base.is_dir() else []:
        if entry.name.startswith("video") and entry.name[5:].isdigit():
            name = host.read(f"{VIRTUAL_VIDEO}/{entry.name}/name")
            devices[int(entry.name[5:])] = (name or "").strip()
    caps_text = host.read(f"{SYS_MODULE}/parameters/exclusive_caps")
    caps = None
    if caps_text is not None:
        caps = [1 if word.strip() in ("Y", "1") else 0 for word in caps_text.split(",") if word.strip()]
    return LoadedModule(devices, caps)


def loaded_mismatch(loaded: LoadedModule, wanted: LoopbackOptions) -> str | None:
    """What differs between the loaded module and ``wanted`` (None: it already is what we want)."""
    label = loaded.devices.get(wanted.video_nr)
    if label is None:
        shown = ", ".join(f"/dev/video{n} ({name})" for n, name in loaded.devices.items()) or "no device"
        return f"it is loaded with {shown}, not {wanted.device}"
    if label != wanted.card_label:
        return f"{wanted.device} is labelled {label!r}, not {wanted.card_label!r}"
    if loaded.exclusive_caps is not None:
        index = sorted(loaded.devices).index(wanted.video_nr)
        caps = loaded.exclusive_caps[index] if index < len(loaded.exclusive_caps) else loaded.exclusive_caps[0]
        if caps != wanted.exclusive_caps:
            return f"{wanted.device} has exclusive_caps={caps}, not {wanted.exclusive_caps}"
    return None


@dataclass(frozen=True)
class Step:
    """One change: what it does in words, and the commands (run as root) that do it."""

    description: str
    kind: str  # write | unload | load
    path: str | None = None
    text: str | None = None
    commands: tuple[tuple[str, ...], ...] = ()


@dataclass
class Plan:
    """The steps from this machine's state to the wanted one, and what is already right."""

    options: LoopbackOptions
    steps: list[Step] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    mismatch: str | None = None  # the loaded module's difference, when it must be reloaded


def file_step(host: Host, path: str, text: str, why: str) -> Step | None:
    current = host.read(path)
    if current == text:
        return None
    verb = "write" if current is None else "replace"
    return Step(f"{verb} {path} ({why})", "write", path=path, text=text)


#: ``modinfo`` by name, then where distributions keep it (Debian leaves /usr/sbin off a user's PATH).
MODINFO = ("modinfo", "/usr/sbin/modinfo", "/sbin/modinfo")


def module_available(host: Host) -> bool:
    """True when ``modinfo`` finds the module for the running kernel (or it is already loaded)."""
    if host.path(SYS_MODULE).is_dir():
        return True
    for program in MODINFO:
        result = host.run([program, "-F", "filename", MODULE])
        if result.returncode != 127:  # 127: no such program, try the next place
            return result.returncode == 0
    return False


def make_plan(host: Host, options: LoopbackOptions) -> Plan:
    """Compare the machine with ``options``; the steps are in the order they must run."""
    plan = Plan(options)
    for path, text, why in ((MODPROBE_FILE, modprobe_text(options), options.options_line()),
                            (MODULES_LOAD_FILE, modules_load_text(), "load the module at every boot")):
        step = file_step(host, path, text, why)
        if step:
            plan.steps.append(step)
        else:
            plan.already.append(f"{path} is up to date")
    load = Step(f"load the module now: modprobe {MODULE} {' '.join(options.arguments())}", "load",
                commands=(("modprobe", MODULE, *options.arguments()),))
    loaded = loaded_module(host)
    if loaded is None:
        plan.steps.append(load)
        return plan
    plan.mismatch = loaded_mismatch(loaded, options)
    if plan.mismatch is None:
        plan.already.append(f"{MODULE} is loaded: {options.device} ({options.card_label!r}, "
                            f"exclusive_caps={options.exclusive_caps})")
        return plan
    plan.steps.append(Step(f"unload the module ({plan.mismatch}): modprobe -r {MODULE}", "unload",
                           commands=(("modprobe", "-r", MODULE),)))
    plan.steps.append(load)
    return plan


def format_plan(plan: Plan, host: Host) -> str:
    """The plan as the user reads it before saying yes."""
    prefix = "" if host.is_root else " (as root, through sudo or pkexec)"
    lines = [f"vcamstyle setup loopback will{prefix}:"]
    lines += [f"  {i}. {step.description}" for i, step in enumerate(plan.steps, 1)]
    lines += [f"  already done: {item}" for item in plan.already]
    return "\n".join(lines)
