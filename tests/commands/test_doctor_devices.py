"""``doctor`` on the virtual camera: who has each loopback open, and a stuck node with its fix."""

from __future__ import annotations

from vcamstyle.commands import doctor
from vcamstyle.devices import consumers, v4l2


def test_doctor_names_the_processes_holding_the_loopback_and_a_stuck_node(monkeypatch):
    seen = []

    def fake_holders(path, *args, **kwargs):
        seen.append(path)
        return [consumers.Holder(77, "chrome")] if path == "/dev/video10" else []
    monkeypatch.setattr(consumers, "holders", fake_holders)
    ready = v4l2.VideoDevice("/dev/video10", "vcamstyle", v4l2.LOOPBACK_DRIVER, caps=0x05200002)
    stuck = v4l2.VideoDevice("/dev/video11", "vcamstyle", v4l2.LOOPBACK_DRIVER, caps=0x05200000)
    checks = list(doctor._loopback_user_checks([ready, stuck]))
    text = [(c.level, c.detail, c.fix) for c in checks]
    assert seen == ["/dev/video10", "/dev/video11"]
    assert ("ok", "/dev/video10: open in chrome (pid 77) (processes of other users are not visible unless you are "
            "root)", None) in text
    stuck_checks = [c for c in checks if c.level == "warn"]
    assert len(stuck_checks) == 1 and "/dev/video11 is stuck" in stuck_checks[0].detail
    assert stuck_checks[0].fix == "vcamstyle start repairs it"
    assert any("/dev/video11: no process has it open" in c.detail for c in checks)
