"""``vcamstyle setup loopback``, part two: carry the plan out and explain each usual failure with its fix.

The failures recognised: the module is not installed (the install command for this distribution),
Secure Boot refuses an unsigned DKMS module ("Key was rejected by service": enrol the key), the module
is loaded with other options while a program holds a device (named; never a forced unload), and no
sudo. Each is a ``SetupError`` whose hint is the fix.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

from vcamstyle.commands.host import Host, Result, install_command, os_release, signing_key_hint
from vcamstyle.commands.loopback_plan import (
    MODULE,
    SYS_MODULE,
    LoopbackOptions,
    Plan,
    Step,
    loaded_mismatch,
    format_plan,
    loaded_module,
    make_plan,
    module_available,
)
from vcamstyle.errors import SetupError

#: Finds the processes holding a device node: ``path -> ["name (pid N)", ...]``.
HolderFinder = Callable[[str], list[str]]


def proc_holders(host: Host) -> HolderFinder:
    """Holders read from ``/proc/*/fd`` under the host's root (other users' processes only as root)."""
    from vcamstyle.devices import holders

    def find(path: str) -> list[str]:
        found = holders(str(host.path(path)), proc_root=str(host.path("/proc")))
        return [f"{h.command} (pid {h.pid})" for h in found]
    return find


def missing_module_error(host: Host) -> SetupError:
    return SetupError(f"the {MODULE} kernel module is not installed for the running kernel ({os.uname().release})",
                      hint=f"{install_command(os_release(host))}; then run `vcamstyle setup loopback` again")


def _modprobe_error(host: Host, step: Step, result: Result, find_holders: HolderFinder, devices: list[int]) -> SetupError:
    text = result.output
    lowered = text.lower()
    if "key was rejected by service" in lowered or "required key not available" in lowered:
        return SetupError(f"Secure Boot refused to load {MODULE}: the module is not signed with a key this machine "
                          f"trusts ({text.splitlines()[-1] if text else 'Key was rejected by service'})",
                          hint=signing_key_hint(host))
    if "not found" in lowered and "module" in lowered:
        return missing_module_error(host)
    if step.kind == "unload" and ("in use" in lowered or "busy" in lowered):
        return _held_error(devices, find_holders, text)
    command = " ".join(step.commands[0]) if step.commands else step.description
    return SetupError(f"`{command}` failed (exit status {result.returncode}): {text or 'no output'}",
                      hint=f"see `sudo dmesg | tail` for the kernel's reason; `modinfo {MODULE}` shows the installed module")


def _held_error(devices: list[int], find_holders: HolderFinder, detail: str = "") -> SetupError:
    held = {f"/dev/video{n}": who for n in devices if (who := find_holders(f"/dev/video{n}"))}
    if held:
        names = "; ".join(f"{path} is open in {', '.join(who)}" for path, who in held.items())
        return SetupError(f"{MODULE} is loaded with other options and cannot be reloaded while a program uses it: {names}",
                          hint="close that program (or `vcamstyle stop` if it is the daemon), then run "
                               "`vcamstyle setup loopback` again; it is never unloaded by force")
    return SetupError(f"{MODULE} is loaded with other options and is in use"
                      + (f" ({detail.splitlines()[-1]})" if detail else ""),
                      hint="a process you cannot see has it open: `sudo fuser -v /dev/video*` names it; close it, "
                           "then run `vcamstyle setup loopback` again")


def _write(host: Host, step: Step) -> None:
    assert step.path is not None and step.text is not None
    with tempfile.NamedTemporaryFile("w", prefix="vcamstyle-", suffix=".conf", delete=False, encoding="utf-8") as tmp:
        tmp.write(step.text)
    try:
        os.chmod(tmp.name, 0o644)
        result = host.run_as_root(["install", "-D", "-m", "0644", tmp.name, str(host.path(step.path))])
    finally:
        os.unlink(tmp.name)
    if result.returncode != 0:
        raise SetupError(f"cannot write {step.path}: {result.output or f'exit status {result.returncode}'}",
                         hint=f"check that {os.path.dirname(step.path)} is writable by root (a read-only /etc?)")


def apply_plan(host: Host, plan: Plan, find_holders: HolderFinder | None = None) -> list[str]:
    """Run the plan's steps in order; the lines say what was done.

    Raises:
        SetupError: a step failed; nothing after it ran (files already written stay, they are right).
    """
    find = find_holders or proc_holders(host)
    loaded = loaded_module(host)
    devices = sorted(loaded.devices) if loaded else []
    if any(step.kind == "load" for step in plan.steps) and not module_available(host):
        raise missing_module_error(host)
    if any(step.kind == "unload" for step in plan.steps):
        refcount = (host.read(f"{SYS_MODULE}/refcnt") or "0").strip()
        if any(find(f"/dev/video{n}") for n in devices) or (refcount.isdigit() and int(refcount) > 0):
            raise _held_error(devices, find)
    done = []
    for step in plan.steps:
        if step.kind == "write":
            _write(host, step)
        else:
            for command in step.commands:
                result = host.run_as_root(command)
                if result.returncode != 0:
                    raise _modprobe_error(host, step, result, find, devices)
        done.append(f"done: {step.description}")
    _check_loaded(host, plan)
    return done


def _check_loaded(host: Host, plan: Plan) -> None:
    loaded = loaded_module(host)
    if loaded is None:
        raise SetupError(f"modprobe reported success but {MODULE} is not loaded",
                         hint="see `sudo dmesg | tail` for the kernel's reason")
    mismatch = loaded_mismatch(loaded, plan.options)
    if mismatch:
        raise SetupError(f"{MODULE} is loaded but {mismatch}",
                         hint="another modprobe.d file may override the options: `grep -r v4l2loopback /etc/modprobe.d`")


def setup_loopback(options: LoopbackOptions, *, yes: bool, echo: Callable[[str], None],
                   confirm: Callable[[str], bool] | None, host: Host | None = None,
                   find_holders: HolderFinder | None = None) -> None:
    """The whole command: show the plan, ask (unless ``yes``), apply it, say what is there now.

    ``confirm`` is None when there is no terminal to ask on: then only ``yes`` proceeds.

    Raises:
        SetupError: the user said no, or a step failed (its hint is the fix).
    """
    host = host or Host()
    plan = make_plan(host, options)
    if not plan.steps:
        echo("nothing to change: " + "; ".join(plan.already))
        return
    if any(step.kind == "load" for step in plan.steps) and not module_available(host):
        raise missing_module_error(host)
    echo(format_plan(plan, host))
    if not yes:
        if confirm is None:
            raise SetupError("nothing was changed: there is no terminal to confirm the plan on",
                             hint="run `vcamstyle setup loopback --yes` to apply it")
        if not confirm("apply these changes?"):
            raise SetupError("nothing was changed (not confirmed)", hint="run it again and answer yes, or add --yes")
    for line in apply_plan(host, plan, find_holders):
        echo(line)
    echo(f"the virtual camera is {options.device} ({options.card_label!r}); it is loaded at every boot")
    if options.video_nr != LoopbackOptions().video_nr:
        echo(f"set output.device: {options.device} in your config.yaml (the default names /dev/video10)")
