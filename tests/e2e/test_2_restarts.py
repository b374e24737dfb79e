"""``vcamstyle stop`` then ``start`` three times, without and with a consumer held open across the
restarts (run once per exclusive_caps value: .ci/run boots the guest with 1 and with 0)."""

from __future__ import annotations

from vm import HEIGHT, WIDTH, HeldConsumer, config_text, device_caps, v4l2_frames, wait_for

FRAME = WIDTH * HEIGHT * 2
OUTPUT = 0x00000002


def test_three_restarts_without_a_consumer(vm_daemon, still, tmp_path):
    text = config_text(still[0])
    vm_daemon.ensure(text)
    for i in range(3):
        vm_daemon.stop()
        assert device_caps() & OUTPUT  # our stop leaves it ready for the next producer (never stuck)
        vm_daemon.start_ok(text)
        assert len(v4l2_frames(4, tmp_path / f"r{i}.raw")) == 4 * FRAME, f"restart {i + 1}"
    assert "Traceback" not in vm_daemon.log()


def test_three_restarts_with_a_consumer_held_open(vm_daemon, still, tmp_path):
    text = config_text(still[0])
    vm_daemon.ensure(text)
    consumer = HeldConsumer(tmp_path / "held.raw")
    try:
        wait_for(lambda: consumer.size() >= 2 * FRAME, "the held consumer's first frames")
        for i in range(3):
            vm_daemon.stop()
            vm_daemon.start_ok(text)
            size = consumer.size()
            wait_for(lambda: consumer.size() >= size + 3 * FRAME, f"frames for the held consumer after restart {i + 1}")
            assert consumer.alive()
    finally:
        consumer.close()
    assert "Traceback" not in vm_daemon.log()
