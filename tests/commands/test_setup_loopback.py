"""``vcamstyle setup loopback`` against a faked machine: the plan, the files, the module, a second run, and
each usual failure with its fix (module missing per distribution, Secure Boot, a held device, no sudo)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fake_host import FakeSystem

from vcamstyle.commands import LoopbackOptions, setup_loopback
from vcamstyle.commands.host import install_command
from vcamstyle.errors import SetupError

SYSTEMD_DIR = Path(__file__).resolve().parents[2] / "systemd"


def _run(system: FakeSystem, options: LoopbackOptions | None = None, *, yes: bool = True, answer: bool | None = None,
         holders: dict[str, list[str]] | None = None) -> list[str]:
    out: list[str] = []
    confirm = None if answer is None else (lambda question: answer)
    setup_loopback(options or LoopbackOptions(), yes=yes, echo=out.append, confirm=confirm, host=system.host(),
                   find_holders=lambda path: (holders or {}).get(path, []))
    return "\n".join(out).splitlines()


@pytest.fixture
def system(tmp_path: Path) -> FakeSystem:
    fake = FakeSystem(tmp_path)
    fake.release('ID=debian\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
    return fake


def test_first_run_shows_the_plan_writes_both_files_and_loads_the_module_through_sudo(system: FakeSystem) -> None:
    out = _run(system)
    assert out[0] == "vcamstyle setup loopback will (as root, through sudo or pkexec):"
    assert "write /etc/modprobe.d/v4l2loopback.conf" in out[1]
    assert "write /etc/modules-load.d/v4l2loopback.conf" in out[2]
    modprobe = ["modprobe", "v4l2loopback", "devices=1", "exclusive_caps=1", "video_nr=10", "card_label=vcamstyle",
                "max_buffers=2"]
    assert modprobe in system.root_commands
    assert all(call[0] == "sudo" for call in system.calls if call[0] in ("install", "modprobe", "sudo"))
    options = [line for line in (system.root / "etc/modprobe.d/v4l2loopback.conf").read_text().splitlines()
               if not line.startswith("#")]
    assert options == ["options v4l2loopback devices=1 exclusive_caps=1 video_nr=10 card_label=vcamstyle max_buffers=2"]
    assert "v4l2loopback" in (system.root / "etc/modules-load.d/v4l2loopback.conf").read_text().splitlines()
    assert (system.root / "sys/devices/virtual/video4linux/video10/name").read_text().strip() == "vcamstyle"
    assert out[-1] == "the virtual camera is /dev/video10 ('vcamstyle'); it is loaded at every boot"


def test_the_written_options_are_the_documented_ones() -> None:
    documented = [line for line in (SYSTEMD_DIR / "v4l2loopback.conf").read_text().splitlines()
                  if line.startswith("options ")]
    assert documented == [LoopbackOptions().options_line()]


def test_second_run_changes_nothing_and_says_so(system: FakeSystem) -> None:
    _run(system)
    before = len(system.calls)
    out = _run(system, yes=False)  # no confirmation needed: there is nothing to confirm
    assert len(out) == 1 and out[0].startswith("nothing to change: ")
    assert "v4l2loopback is loaded: /dev/video10" in out[0]
    assert [c for c in system.calls[before:] if c[0] in ("sudo", "pkexec")] == []


def test_a_loaded_module_with_the_right_options_only_gets_the_files(system: FakeSystem) -> None:
    system.load()
    _run(system)
    assert [c[0] for c in system.root_commands] == ["install", "install"]


def test_without_yes_and_without_a_terminal_nothing_changes(system: FakeSystem) -> None:
    with pytest.raises(SetupError, match="no terminal") as caught:
        _run(system, yes=False)
    assert "--yes" in caught.value.hint
    assert system.root_commands == []


def test_a_no_at_the_prompt_changes_nothing(system: FakeSystem) -> None:
    with pytest.raises(SetupError, match="not confirmed"):
        _run(system, yes=False, answer=False)
    assert system.root_commands == []
    assert not (system.root / "etc/modprobe.d/v4l2loopback.conf").exists()


def test_other_options_reload_the_module_when_nothing_holds_it(system: FakeSystem) -> None:
    system.load(exclusive_caps=1)
    out = _run(system, LoopbackOptions(exclusive_caps=0))
    assert any("unload the module (/dev/video10 has exclusive_caps=1, not 0)" in line for line in out)
    assert ["modprobe", "-r", "v4l2loopback"] in system.root_commands
    assert (system.root / "sys/module/v4l2loopback/parameters/exclusive_caps").read_text().startswith("N")


def test_other_options_while_a_program_holds_the_device_name_it_and_never_force_unload(system: FakeSystem) -> None:
    system.load(card_label="OBS Virtual Camera")
    with pytest.raises(SetupError) as caught:
        _run(system, holders={"/dev/video10": ["zoom (pid 4242)"]})
    assert "cannot be reloaded while a program uses it: /dev/video10 is open in zoom (pid 4242)" in caught.value.message
    assert "close that program" in caught.value.hint and "never unloaded by force" in caught.value.hint
    assert not any(c[:2] == ["modprobe", "-r"] for c in system.root_commands)
    assert not any("-f" in c or "--force" in c for c in system.calls)


def test_a_busy_module_that_no_visible_process_holds_says_how_to_find_it(system: FakeSystem) -> None:
    system.load(video_nr=0)
    system.held = True
    with pytest.raises(SetupError, match="in use") as caught:
        _run(system)
    assert "fuser -v /dev/video*" in caught.value.hint


@pytest.mark.parametrize(("release", "expected"), [
    ("ID=ubuntu\nID_LIKE=debian\n", "sudo apt install v4l2loopback-dkms"),
    ("ID=fedora\n", "sudo dnf install akmod-v4l2loopback"),
    ("ID=arch\n", "sudo pacman -S v4l2loopback-dkms"),
    ('ID="opensuse-tumbleweed"\nID_LIKE="opensuse suse"\n', "sudo zypper install v4l2loopback-kmp-default"),
    ("ID=pop\nID_LIKE=\"ubuntu debian\"\n", "sudo apt install v4l2loopback-dkms"),
    ("ID=endeavouros\nID_LIKE=arch\n", "sudo pacman -S v4l2loopback-dkms"),
])
def test_a_missing_module_gives_this_distribution_s_install_command(system: FakeSystem, release: str,
                                                                     expected: str) -> None:
    system.release(release)
    system.module_installed = False
    with pytest.raises(SetupError, match="module is not installed") as caught:
        _run(system)
    assert caught.value.hint.startswith(expected)
    assert system.root_commands == []  # said before anything was written


def test_an_unknown_distribution_still_gets_a_way_to_install(system: FakeSystem) -> None:
    system.release('ID=plan9\nPRETTY_NAME="Plan 9"\n')
    assert "Plan 9" in install_command({"ID": "plan9", "PRETTY_NAME": "Plan 9"})
    assert "v4l2loopback-dkms" in install_command({"ID": "plan9"})


def test_secure_boot_refusal_says_how_to_enrol_the_dkms_key(system: FakeSystem) -> None:
    system.secure_boot = True
    key = system.root / "var/lib/dkms/mok.pub"
    key.parent.mkdir(parents=True)
    key.write_text("key")
    with pytest.raises(SetupError, match="Secure Boot refused to load v4l2loopback") as caught:
        _run(system)
    assert "Key was rejected by service" in caught.value.message
    assert "sudo mokutil --import /var/lib/dkms/mok.pub" in caught.value.hint
    assert "reboot" in caught.value.hint and "Enroll MOK" in caught.value.hint


def test_secure_boot_on_fedora_names_the_akmods_key(system: FakeSystem) -> None:
    system.secure_boot = True
    key = system.root / "etc/pki/akmods/certs/public_key.der"
    key.parent.mkdir(parents=True)
    key.write_text("key")
    with pytest.raises(SetupError) as caught:
        _run(system)
    assert "mokutil --import /etc/pki/akmods/certs/public_key.der" in caught.value.hint


def test_no_sudo_and_no_pkexec(system: FakeSystem) -> None:
    system.tools = set()
    with pytest.raises(SetupError, match="neither sudo nor pkexec") as caught:
        _run(system)
    assert "su -c 'vcamstyle setup loopback --yes'" in caught.value.hint


def test_pkexec_is_used_when_there_is_no_sudo(system: FakeSystem) -> None:
    system.tools = {"pkexec"}
    _run(system)
    assert {call[0] for call in system.calls if call[0] not in ("modinfo",)} == {"pkexec"}


def test_sudo_refused_says_so(system: FakeSystem) -> None:
    system.sudo_refuses = "sudo: a password is required"
    with pytest.raises(SetupError, match="sudo refused to run") as caught:
        _run(system)
    assert "sudo rights" in caught.value.hint


def test_root_runs_the_commands_directly(system: FakeSystem) -> None:
    system.euid = 0
    out = _run(system)
    assert out[0] == "vcamstyle setup loopback will:"
    assert not any(call[0] in ("sudo", "pkexec") for call in system.calls)
    assert any(call[0] == "modprobe" for call in system.calls)


def test_another_device_number_reminds_the_config(system: FakeSystem) -> None:
    out = _run(system, LoopbackOptions(video_nr=42, card_label="My Cam"))
    assert out[-1] == "set output.device: /dev/video42 in your config.yaml (the default names /dev/video10)"
    text = (system.root / "etc/modprobe.d/v4l2loopback.conf").read_text()
    assert re.search(r'^options v4l2loopback .*card_label="My Cam"', text, re.MULTILINE)


@pytest.mark.parametrize("label", ["", "a;rm -rf /", "x" * 40, "-flag"])
def test_unusable_card_labels_are_refused(label: str) -> None:
    with pytest.raises(SetupError, match="card label"):
        LoopbackOptions(card_label=label)


def test_modinfo_outside_the_user_s_path_is_still_found(system: FakeSystem) -> None:
    """Debian puts modinfo in /usr/sbin, which a normal user's PATH lacks: that is not a missing module."""
    run = system.run

    def without_sbin_on_path(args):
        return run(["missing-program"]) if args[0] == "modinfo" else run(args)
    host = system.host()
    host.run = without_sbin_on_path
    out: list[str] = []
    setup_loopback(LoopbackOptions(), yes=True, echo=out.append, confirm=None, host=host, find_holders=lambda p: [])
    assert ["/usr/sbin/modinfo", "-F", "filename", "v4l2loopback"] in system.calls
    assert any(call[:2] == ["sudo", "modprobe"] for call in system.calls)
