"""The preview costs the real frame loop nothing while no page watches: no offer, no encoder thread, no
encoded frame; a page watching over the WebSocket gets frames; once it leaves, encoding stops again."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from vcamstyle.control.preview import PreviewTap
from vcamstyle.daemon.service import Service

NO_PAGE_FRAMES = 15  # output frames sent before a page opens, and again after it closed


CONFIG = """\
camera: {{device: {video}}}
output: {{backend: none}}
person: {{effect: original}}
background: {{effect: color}}
device: cpu
control: {{enabled: true}}
"""


@pytest.fixture
def config_file(tmp_path: Path, make_video, isolated_xdg) -> Path:
    """Cheap effects (no network) on a small file camera, the page on."""
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(video=make_video(tmp_path / "camera.mp4", frames=20, size=(160, 96))))
    return path


class Script:
    """An ``on_frame`` that runs the phases: no page, a page watching (until it got frames), no page."""

    def __init__(self) -> None:
        self.phase = "no page"
        self.offers = 0
        self.at_start: dict[str, Any] = {}
        self.received = 0
        self.after_close: tuple[int, int, int] | None = None  # (encoded, offers, frame) once the page left
        self.connections = contextlib.ExitStack()
        self.ws = None

    def count_offers(self, tap: PreviewTap) -> None:
        real = tap.offer

        def counted(*args: Any) -> None:
            self.offers += 1
            real(*args)

        tap.offer = counted

    def __call__(self, s: Service) -> None:
        tap = s.control.tap
        if self.phase == "no page" and s.frames == 1:
            self.count_offers(tap)
        if self.phase == "no page" and s.frames >= NO_PAGE_FRAMES:
            self.at_start = {"encoded": tap.encoded, "offers": self.offers, "thread": tap._thread,
                             "status": s.status()["control"]}
            origin = s.control.url.rstrip("/")
            self.ws = self.connections.enter_context(
                connect(origin.replace("http", "ws") + "/ws", origin=origin,
                        additional_headers={"x-vcamstyle-secret": s.control.secret}))
            self.ws.send(json.dumps({"preview": True, "side_by_side": True}))
            self.phase = "watching"
        elif self.phase == "watching":
            while True:  # drain what has arrived; the frame loop goes on meanwhile
                try:
                    message = self.ws.recv(timeout=0)
                except TimeoutError:
                    break
                self.received += isinstance(message, bytes)
            if self.received >= 3:
                self.connections.close()
                self.phase = "closing"
        elif self.phase == "closing" and tap.watchers == 0:
            self.after_close = (tap.encoded, self.offers, s.frames)
            self.phase = "closed"
        elif self.phase == "closed" and s.frames >= self.after_close[2] + NO_PAGE_FRAMES:
            self.final = {"encoded": tap.encoded, "offers": self.offers}
            s.stop_event.set()


def test_the_encoder_does_nothing_until_a_page_watches_and_stops_when_it_leaves(config_file: Path) -> None:
    script = Script()
    service = Service(config_file, max_frames=5000, publish=True, on_frame=script)
    assert service.run() == 0
    assert script.phase == "closed", f"stopped in phase {script.phase!r} after {service.frames} frames"
    assert script.at_start["encoded"] == 0 and script.at_start["offers"] == 0
    assert script.at_start["thread"] is None  # no encoder thread was ever started
    assert script.at_start["status"]["preview_frames"] == 0 and script.at_start["status"]["preview_watchers"] == 0
    assert script.received >= 3  # the page got preview frames (binary messages)
    encoded_at_close, offers_at_close, _ = script.after_close
    assert encoded_at_close > 0
    assert script.final["offers"] == offers_at_close  # nothing offered once no page watches
    assert script.final["encoded"] <= encoded_at_close + 1  # at most the frame offered as the page left
