"""Issue 26: a live reload of any generated configuration, the way the running daemon applies one.

One in-process ``Service`` (a video or image file as its camera, the null or a file sink) runs a good
configuration; each example saves a generated one (``config_strategies``) over it, and the service
reloads it as its watcher would (``_reload`` on the reload thread's side, ``_apply_pending`` between
two frames) and then sends two more frames through its own frame loop. What must hold:

- ``config check`` accepted the file: it is what runs now (scene, geometry, sink), frames keep flowing;
- ``config check`` refused it: the last good configuration keeps running, frames keep flowing, and
  ``status``'s last error names the key of every problem;
- never an internal error (``status`` never says "a bug in vcamstyle"; nothing logged with a traceback).

Derandomized (the same examples every run). Each accepted configuration is the next example's "last good
one", so the examples are a chain of edits, like a user's.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import config_strategies as gen  # noqa: E402
from test_schema_property import RUN_MAX_PIXELS, SETTINGS, check  # noqa: E402
from vcamstyle.config import load_config, schema_keys  # noqa: E402
from vcamstyle.daemon import Service, output_geometry  # noqa: E402

RELOAD_EXAMPLES = 24
GOOD = """\
camera:
  device: camera.mp4
output:
  backend: none
  width: 160
  height: 96
person:
  effect: blur
background:
  effect: color
style:
  size: 64
device: cpu
threads: 1
"""
#: The camera stays a file (a missing camera is waited for at start, and a reload to one is refused
#: with "camera: ..."); the sink is one that opens here (no loopback device); the style network is the
#: offline one (the seed's networks need downloaded weights, which a reload refuses with the fetch
#: command: tests/faults and tests/models/weights cover that).
DOCUMENTS = gen.forcing(gen.documents(max_pixels=RUN_MAX_PIXELS), {"camera.device": st.sampled_from(gen.CAMERAS),
                                                                    "output.backend": st.sampled_from(["none", "file"]),
                                                                    "style.method": st.just("magenta")})
#: What ``status`` shows for a refused file: ``<file>: <key path>: ...`` per problem.
PROBLEM = re.compile(r"^(?P<file>[^\n]*?config\.yaml): (?P<key>[a-z_]+(?:\.[a-z_]+)?)(?:\[\d+\](?:\.(image|weight))?)?: ")


def frames_flow(service: Service, count: int = 2) -> None:
    """``count`` more frames through the service's own frame loop (which applies a pending reload first),
    all of them written to the sink that runs afterwards."""
    before, sink = service.frames, service.sink
    sent_before = sink.frames_sent if sink is not None else 0
    service.max_frames = before + count
    service.loop()
    assert service.frames == before + count
    assert service.sink is not None, service.last_error
    assert service.sink.frames_sent == (sent_before if service.sink is sink else 0) + count, service.last_error


def assert_names_its_keys(error: str | None) -> None:
    assert error, "a refused reload left no error in status"
    assert "a bug in vcamstyle" not in error and "Traceback" not in error, error
    for line in error.splitlines():
        match = PROBLEM.match(line)
        assert match and match["key"] in schema_keys(), f"status does not name the key: {line}"


def test_a_live_reload_applies_what_config_check_accepts_and_keeps_the_last_good_one(
        tmp_path_factory: pytest.TempPathFactory, isolated_xdg, caplog) -> None:
    folder = gen.make_folder(tmp_path_factory.mktemp("reload"))
    config_file = folder / "config.yaml"
    config_file.write_text(GOOD)
    service = Service(config_file, publish=False)
    service.start()
    service.watcher.stop()  # the test saves and reloads itself; the watcher's own reload would race it
    outcomes: list[bool] = []
    try:
        frames_flow(service)

        @settings(max_examples=RELOAD_EXAMPLES, **SETTINGS)
        @given(document=DOCUMENTS)
        def property_(document: dict[str, Any]) -> None:
            text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
            last_good, last_geometry = service.scene.config, service._geometry
            accepted = check(text, folder)  # config check (writes config.yaml)
            caplog.clear()
            with caplog.at_level(logging.INFO):
                service._reload()
                frames_flow(service)
            outcomes.append(accepted is not None)
            tracebacks = [r.getMessage() for r in caplog.records if r.exc_info]
            assert not tracebacks, f"logged with a traceback: {tracebacks}\n{text}"
            if accepted is None:
                assert service.scene.config == last_good and service._geometry == last_geometry, text
                assert_names_its_keys(service.last_error)
                return
            assert service.config_error is None, f"config check accepted what the reload refused: " \
                                                 f"{service.config_error}\n{text}"
            running = service.scene.config
            assert running == load_config(config_file), text
            width, height, fps = output_geometry(running, service.source.granted)
            assert service._geometry == (width, height, fps)
            assert f"{width}x{height}" in service.sink.describe(), service.sink.describe()
            if running.output.backend == "file":
                assert service.sink.requested == running.output.path, service.sink.describe()

        property_()
    finally:
        service.shutdown()
    print(f"reload: {sum(outcomes)} of {len(outcomes)} generated configurations accepted")
    assert 0.25 <= sum(outcomes) / len(outcomes) <= 0.75, outcomes
