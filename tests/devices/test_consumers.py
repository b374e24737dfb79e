"""The consumer watch: holders counted from a /proc tree by device number (our own pid never counted),
inotify open/close events on a node, and the simulated layer's consumer events."""

from __future__ import annotations

import os
import threading

import pytest

from vcamstyle.devices import consumers
from vcamstyle.devices.consumers import Holder, NodeWatch, holders
from vcamstyle.devices.v4l2_sim import SimulatedDeviceIO, SimulatedNode

DEVICE = "/dev/null"  # a character device every Linux machine has; the fake /proc links point at it


def fake_proc(root, table: dict[int, tuple[str, list[str]]]):
    """A /proc look-alike: pid -> (comm, fd link targets)."""
    for pid, (comm, targets) in table.items():
        fd_dir = root / str(pid) / "fd"
        fd_dir.mkdir(parents=True)
        (root / str(pid) / "comm").write_text(comm + "\n")
        for n, target in enumerate(targets):
            os.symlink(target, fd_dir / str(n))
    (root / "self").mkdir()  # non-numeric entries are ignored
    return str(root)


@pytest.mark.skipif(not os.path.exists(DEVICE), reason="needs /dev/null")
def test_holders_match_by_device_number_and_leave_out_our_own_pid(tmp_path):
    proc = fake_proc(tmp_path, {
        100: ("vcamstyle", [DEVICE]),             # the daemon itself
        200: ("chrome", ["/tmp/x", DEVICE, DEVICE]),  # counted once
        300: ("bash", ["/tmp/y", "pipe:[123]"]),
        400: ("zoom", ["/dev/../dev/null"]),       # another spelling of the same node
    })
    assert holders(DEVICE, proc, exclude_pid=100) == [Holder(200, "chrome"), Holder(400, "zoom")]
    assert [h.pid for h in holders(DEVICE, proc, exclude_pid=200)] == [100, 400]


def test_holders_of_a_node_that_is_not_a_character_device_or_missing(tmp_path):
    proc = fake_proc(tmp_path / "proc", {200: ("chrome", [str(tmp_path / "f")])})
    (tmp_path / "f").write_text("x")
    assert holders(str(tmp_path / "f"), proc) == []
    assert holders(str(tmp_path / "missing"), proc) == []


@pytest.mark.skipif(not os.path.exists(DEVICE), reason="needs /dev/null")
def test_unreadable_and_vanishing_processes_are_skipped(tmp_path):
    proc = fake_proc(tmp_path, {200: ("chrome", [DEVICE])})
    (tmp_path / "300").mkdir()  # a process that exited between listdir and reading its fds
    assert holders(DEVICE, proc, exclude_pid=1) == [Holder(200, "chrome")]


def test_real_proc_finds_a_child_holding_a_node_and_not_us(tmp_path):
    import subprocess
    import sys
    mine = os.open(DEVICE, os.O_RDONLY)
    try:
        child = subprocess.Popen([sys.executable, "-c", "import sys,time; f=open('/dev/null'); print('ok', flush=True); time.sleep(30)"],
                                 stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "ok"
            pids = [h.pid for h in holders(DEVICE)]
            assert child.pid in pids and os.getpid() not in pids
        finally:
            child.kill()
            child.wait()
    finally:
        os.close(mine)


def test_node_watch_sees_opens_and_closes(tmp_path):
    node = tmp_path / "video10"
    node.write_text("")
    watch = NodeWatch(str(node))
    try:
        assert watch.wait(0.01) is False
        fd = os.open(node, os.O_RDONLY)
        assert watch.wait(1.0) is True
        os.close(fd)
        assert watch.wait(1.0) is True
        assert watch.wait(0.01) is False
    finally:
        watch.close()


def test_node_watch_interrupt_releases_a_blocked_wait(tmp_path):
    node = tmp_path / "video10"
    node.write_text("")
    watch = NodeWatch(str(node))
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(watch.wait(60)))
    waiter.start()
    watch.interrupt()
    waiter.join(5)
    assert not waiter.is_alive() and result == [False]
    watch.close()


def test_node_watch_without_inotify_falls_back_to_counting(tmp_path, monkeypatch, caplog):
    def no_inotify(path):
        raise OSError(28, "No space left on device", "inotify_add_watch")
    monkeypatch.setattr(consumers, "_Inotify", no_inotify)
    watch = NodeWatch(str(tmp_path))
    try:
        assert watch.wait(0.01) is True  # the caller counts every timeout instead
        assert "counting its consumers every few seconds" in caplog.text
    finally:
        watch.close()


def test_simulated_watch_events_and_holders_leave_out_the_producer():
    io = SimulatedDeviceIO({"/dev/video10": SimulatedNode()}, pid=100)
    watch = io.watch("/dev/video10")
    fd = io.open("/dev/video10", os.O_WRONLY)  # our own producer descriptor
    assert watch.wait(0) is True and watch.holders() == []
    io.consumer_open("/dev/video10", 4242)
    assert watch.wait(0) is True and [h.pid for h in watch.holders()] == [4242]
    io.consumer_open("/dev/video10", 4242)
    io.consumer_close("/dev/video10", 4242)
    assert [h.pid for h in watch.holders()] == [4242]  # still one descriptor open
    io.consumer_close("/dev/video10", 4242)
    io.close(fd)
    assert watch.holders() == [] and io.nodes["/dev/video10"].holders == {}
