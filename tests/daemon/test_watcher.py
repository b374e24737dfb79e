"""ConfigWatcher: the path kept as given; links followed at every check; a re-pointed link noticed;
stop() is not a reload."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from vcamstyle.daemon.watcher import ConfigWatcher, link_chain, signature, watched_dirs


def test_link_chain_and_watched_dirs_follow_relative_links(tmp_path: Path) -> None:
    (tmp_path / "dotfiles" / "vcamstyle").mkdir(parents=True)
    target = tmp_path / "dotfiles" / "vcamstyle" / "config.yaml"
    target.write_text("threads: 1\n")
    (tmp_path / "conf").mkdir()
    middle = tmp_path / "conf" / "middle.yaml"
    middle.symlink_to(Path("..") / "dotfiles" / "vcamstyle" / "config.yaml")
    link = tmp_path / "config.yaml"
    link.symlink_to(middle)
    assert link_chain(link) == [link, middle, target]
    assert watched_dirs(link) == [tmp_path, tmp_path / "conf", target.parent]
    before = signature(link)
    target.write_text("threads: 2\n")
    assert signature(link) != before


class Recorder:
    def __init__(self) -> None:
        self.calls = 0
        self.event = threading.Event()

    def __call__(self) -> None:
        self.calls += 1
        self.event.set()

    def wait(self, timeout: float = 10.0) -> bool:
        ok = self.event.wait(timeout)
        self.event.clear()
        return ok


def test_edits_through_the_link_and_a_repointed_link_are_noticed(tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    (tmp_path / "config").mkdir()
    first, second = dotfiles / "a.yaml", tmp_path / "elsewhere.yaml"
    first.write_text("threads: 1\n")
    second.write_text("threads: 2\n")
    link = tmp_path / "config" / "config.yaml"
    link.symlink_to(first)
    recorder = Recorder()
    watcher = ConfigWatcher(link, recorder, poll_s=0.1).start()
    try:
        assert watcher.path == link  # not resolved
        first.write_text("threads: 3\n")  # the target edited in place
        assert recorder.wait()
        tmp = link.with_name("tmp-link")
        tmp.symlink_to(second)
        os.replace(tmp, link)  # re-pointed to a file in a folder not watched before
        assert recorder.wait()
        time.sleep(0.3)
        recorder.calls = 0
        second.write_text("threads: 4\n")  # and that folder is watched now
        assert recorder.wait()
    finally:
        watcher.stop()


def test_stop_is_not_a_reload(tmp_path: Path) -> None:
    """Issue 10: every stop logged a spurious "config reloaded: no change"."""
    path = tmp_path / "config.yaml"
    path.write_text("threads: 1\n")
    recorder = Recorder()
    watcher = ConfigWatcher(path, recorder, poll_s=0.1).start()
    time.sleep(0.3)
    watcher.stop()
    assert recorder.calls == 0
    assert watcher.pending() is False
