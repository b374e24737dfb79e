"""Hypothesis strategies for config documents, derived from the schema (``vcamstyle.config.schema``).

Every leaf key of ``Config`` gets a strategy of well-typed values read from its own check: the bounds of
a number check (edges and just-inside values included), the choices of a choice check, true/false for
a flag. Keys whose values are not numbers, choices or flags (paths, colours, device names) have a rule
in ``RULES``; a new key with neither makes ``leaf`` raise, so it cannot go untested. Each value is odd
(``odd``: out of range by a hair, non-finite, huge, tiny, text YAML does not read as a number, the wrong
type) in about one case of ``ODD_ONE_IN``; the cross-field rules (sizes set together and even for the
format, ``effect: image`` with an image, ``backend: file`` with a path) are mostly kept, so about half
of the documents are valid and the accepted space is explored, not only the refusals.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hypothesis import strategies as st
from pydantic import BaseModel, BeforeValidator
from pydantic.fields import FieldInfo

from vcamstyle import paths
from vcamstyle.config import KNOWN_SEGMENTERS, KNOWN_STYLIZERS, Config

ODD_ONE_IN = 16

#: Files the test folder holds (see ``make_folder``): readable pictures under unusual names.
GOOD_PICTURES = ["ok.png", "styles/waves.png", "styles/neon.png", "new\nline.png", "ünïcödé.png",
                 "sub dir/ok.png", "./ok.png", "sub dir/../ok.png", "tab\tname.png"]
ODD_PICTURES = ["dir", "dir/", "empty.png", "text.png", "missing.png", "", "  ", "~", "/", "/dev/null",
                "/proc/self/status", "a" * 300 + ".png", "ok.png/", "nul\0name.png", "camera.mp4", "config.yaml"]
#: ``output.path`` with ``backend: file``: videos of every container, PNG folders, names already taken.
GOOD_OUTPUTS = ["out.mp4", "out.mkv", "out.avi", "out.mov", "OUT.MP4", "frames/", "frames", "png dir.d/",
                "rec ünï.mkv", "sub/deeper/out.mp4", "taken.mp4", "dir", "./out.avi"]
ODD_OUTPUTS = ["out.txt", "ok.png", "camera.mp4", "config.yaml", "frames.mp4/", "text.png/out.mp4", "/dev/null",
               "a" * 300 + ".mp4", "", "  ", "nul\0name.mp4", "/dev/null/out.mkv"]
#: Two camera files: a still image and a short video (see ``make_folder``).
CAMERAS = ["camera.png", "camera.mp4"]

ODD = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1.0e308, -1.0e308, 5e-324, 1e-300, 2**63, 8193, 15, 65536, 0.9999999999999999,
                     1.0000000000000002, float("inf"), float("nan")]),
    st.sampled_from(["1e3", "1E-2", "0.5", "inf", ".nan", "1_000", "0x10", "", "auto", "12px", "true", "#12345",
                     "\x1b[31m", "none"]),
    st.booleans(), st.none(), st.just([]), st.just([1, 2]), st.just({}), st.just({"a": 1}),
)


def sometimes(good: st.SearchStrategy, odd: st.SearchStrategy = ODD) -> st.SearchStrategy:
    """``good`` in ``ODD_ONE_IN - 1`` cases of ``ODD_ONE_IN``, else ``odd``."""
    # sampled_from draws its index evenly (an integer draw leans to its bounds, which would make odd values common)
    return st.sampled_from(range(ODD_ONE_IN)).flatmap(lambda n: odd if n == ODD_ONE_IN // 2 else good)


def check_of(field: FieldInfo) -> Any:
    return next((m.func for m in field.metadata if isinstance(m, BeforeValidator)), None)


def number(bounds: dict[str, Any]) -> tuple[st.SearchStrategy, st.SearchStrategy]:
    """(good, just-outside) strategies for a number check's ``bounds``."""
    low, high = bounds["low"], bounds["high"]
    if bounds["integer"]:
        good = st.one_of(st.integers(low, high), st.sampled_from([low, high, low + 1, high - 1, float(low)]))
        return good, st.sampled_from([low - 1, high + 1, low + 0.5])
    top = high if high is not None else 1.0e308
    inside = [v for v in (low, top, math.nextafter(low, math.inf), math.nextafter(top, -math.inf), int(low) + 1)
              if (v > low if bounds["low_open"] else v >= low) and (v < top if bounds["high_open"] else v <= top)]
    good = st.one_of(st.floats(low, top, exclude_min=bounds["low_open"], exclude_max=bounds["high_open"]),
                     st.sampled_from(inside))
    outside = [math.nextafter(low, -math.inf)] + ([math.nextafter(high, math.inf)] if high is not None else [])
    if bounds["low_open"]:
        outside.append(low)
    if bounds["high_open"]:
        outside.append(high)
    return good, st.sampled_from(outside)


def style_entry(picture: st.SearchStrategy) -> st.SearchStrategy:
    weight, weight_outside = number({"low": 0, "high": None, "integer": False, "low_open": True, "high_open": False})
    return st.one_of(picture, st.fixed_dictionaries({"image": picture},
                                                    optional={"weight": sometimes(weight, st.one_of(ODD, weight_outside))}))


PICTURE = sometimes(st.sampled_from(GOOD_PICTURES), st.sampled_from(ODD_PICTURES))
COLOR = st.one_of(st.sampled_from(["#202020", "#fff", "#ABCDEF", "#00ff00"]),
                  st.from_regex(r"#[0-9a-fA-F]{6}", fullmatch=True))
#: Keys whose good values the schema's checks do not describe (paths, names, colours, mixed types).
RULES: dict[str, st.SearchStrategy] = {
    "camera.device": sometimes(st.sampled_from(CAMERAS), st.sampled_from(["auto", 0, "/dev/video0", "Integrated"])),
    "output.backend": st.sampled_from(["none", "file", "auto", "v4l2loopback"]),
    "output.device": sometimes(st.sampled_from(["auto", "/dev/video10", "/dev/null"])),
    "output.path": sometimes(st.sampled_from(GOOD_OUTPUTS), st.sampled_from(ODD_OUTPUTS)),
    "segmentation.model": sometimes(st.sampled_from(["auto", *KNOWN_SEGMENTERS])),
    "style.method": sometimes(st.sampled_from(["magenta"] * 4 + list(KNOWN_STYLIZERS))),
    "style.size": sometimes(st.one_of(st.just("auto"), st.integers(64, 2160), st.sampled_from([64, 2160, 64.0]))),
    "person.style": sometimes(st.one_of(PICTURE, st.lists(style_entry(PICTURE), min_size=1, max_size=3)),
                              st.one_of(ODD, st.just([{"image": "ok.png", "weight": 1.0e308}] * 2))),
    "person.color": sometimes(COLOR),
    "person.image": PICTURE,
    "control.port": sometimes(st.sampled_from([0, 0, 0, 65535, 1])),  # a fixed port may be taken: mostly 0
    "device": sometimes(st.sampled_from(["auto", "cpu"]), st.sampled_from(["gpu", "cuda:x", "", "CPU"])),
    "threads": sometimes(st.one_of(st.just("auto"), st.integers(1, 64))),
    "weights_dir": st.sampled_from([None, "weights", "dir", "text.png"]),
}
for _key in ("style", "color", "image"):
    RULES[f"background.{_key}"] = RULES[f"person.{_key}"]


def leaf(key: str, field: FieldInfo) -> st.SearchStrategy:
    """Mostly well-typed values for one schema key (see the module doc)."""
    if key in RULES:
        return RULES[key]
    check = check_of(field)
    if getattr(check, "choices", None):
        return sometimes(st.sampled_from(check.choices), st.one_of(ODD, st.sampled_from([c.upper() for c in check.choices])))
    if field.annotation is bool:
        return sometimes(st.booleans())
    if getattr(check, "bounds", None):
        good, outside = number(check.bounds)
        if check.bounds["optional"]:
            good = st.one_of(good, st.none())
        return sometimes(good, st.one_of(ODD, outside))
    raise LookupError(f"no strategy for the config key {key}: add a rule to RULES in {__file__}")


def _model(field: FieldInfo) -> type[BaseModel] | None:
    annotation = field.annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def section(name: str, overrides: dict[str, st.SearchStrategy]) -> st.SearchStrategy[dict[str, Any]]:
    """Some of the section's keys, each with its leaf strategy (``overrides`` by dotted key win)."""
    model = _model(Config.model_fields[name])
    assert model is not None
    keys = {key: overrides.get(f"{name}.{key}", leaf(f"{name}.{key}", field)) for key, field in model.model_fields.items()}
    return st.fixed_dictionaries({}, optional=keys)


EVEN_SIZES = st.one_of(st.integers(8, 160).map(lambda n: 2 * n), st.sampled_from([16, 640, 360, 1280, 720, 8192]))
ODD_SIZES = st.sampled_from([17, 641, 361, 8191, 15, 8193, 0])


@st.composite
def output_size(draw: st.DrawFn, section_: dict[str, Any], max_pixels: int | None) -> dict[str, Any]:
    """Width and height set together (or not at all), even for every format; now and then an odd one,
    one side missing, or sizes beyond the bounds."""
    kind = draw(st.sampled_from(range(2 * ODD_ONE_IN)))
    section_ = {k: v for k, v in section_.items() if k not in ("width", "height")}
    if kind % 3 == 0:
        return section_  # the camera's size
    width, height = draw(EVEN_SIZES), draw(EVEN_SIZES)
    if max_pixels is not None:
        while width * height > max_pixels:
            width, height = max(16, width // 2 // 2 * 2), max(16, height // 2 // 2 * 2)
    if kind == 1:
        width = draw(ODD_SIZES)
    elif kind == 2:
        height = draw(ODD_SIZES)
    elif kind == 4:
        return {**section_, "width": width}
    return {**section_, "width": width, "height": height}


@st.composite
def region(draw: st.DrawFn, name: str, overrides: dict[str, st.SearchStrategy]) -> dict[str, Any]:
    """A region whose effect mostly has what it needs (an image for ``image``, a style for ``style``)."""
    data = draw(section(name, overrides))
    if data.get("effect") == "image" and "image" not in data and draw(st.integers(0, 7)):
        data["image"] = draw(st.sampled_from(GOOD_PICTURES))
    if data.get("effect") == "style" and data.get("style") is None and "style" in data and draw(st.integers(0, 7)):
        del data["style"]  # the default style
    return data


def documents(overrides: dict[str, st.SearchStrategy] | None = None, max_pixels: int | None = None,
              sections: tuple[str, ...] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Config documents over every section and top-level key of ``Config`` (or only ``sections``).
    ``max_pixels`` bounds the output size (the pipeline runs on 2 CPU cores in CI)."""
    overrides = overrides or {}
    parts: dict[str, st.SearchStrategy] = {}
    for name, field in Config.model_fields.items():
        if sections is not None and name not in sections:
            continue
        if _model(field) is None:
            parts[name] = overrides.get(name, leaf(name, field))
        elif name in ("person", "background"):
            parts[name] = region(name, overrides)
        elif name == "output":
            parts[name] = section(name, overrides).flatmap(lambda s: output_size(s, max_pixels)).flatmap(_file_has_path)
        else:
            parts[name] = section(name, overrides)
    return st.fixed_dictionaries({}, optional=parts)


def forcing(documents_: st.SearchStrategy[dict[str, Any]],
            keys: dict[str, st.SearchStrategy]) -> st.SearchStrategy[dict[str, Any]]:
    """``documents_`` with each dotted key of ``keys`` always present, drawn from its strategy."""
    @st.composite
    def forced(draw: st.DrawFn) -> dict[str, Any]:
        document = draw(documents_)
        for key, strategy in keys.items():
            name, leaf_ = key.split(".")
            document[name] = {**document.get(name, {}), leaf_: draw(strategy)}
        if "output" in document:
            document["output"] = draw(_file_has_path(document["output"]))
        return document

    return forced()


def _file_has_path(output: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``backend: file`` mostly with a path (else it is refused for the missing path alone)."""
    if output.get("backend") != "file" or "path" in output:
        return st.just(output)
    return sometimes(st.sampled_from(GOOD_OUTPUTS).map(lambda path: {**output, "path": path}), st.just(output))


def make_folder(root: Path) -> Path:
    """The config's folder: the files ``GOOD_PICTURES``, ``ODD_PICTURES``, ``GOOD_OUTPUTS`` and ``CAMERAS``
    name (relative paths resolve beside the config; ``styles/...`` falls back to the bundled styles)."""
    styles = paths.bundled_styles_dir()
    for name in ("ok.png", "new\nline.png", "ünïcödé.png", "sub dir/ok.png", "tab\tname.png"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(styles / "waves.png", root / name)
    shutil.copy(styles / "mosaic.png", root / "camera.png")
    frames = [np.roll(np.asarray(cv2.imread(str(styles / "mosaic.png"))[:96, :128]), 4 * i, axis=1) for i in range(8)]
    writer = cv2.VideoWriter(str(root / "camera.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 30, (128, 96))
    for frame in frames:
        writer.write(np.ascontiguousarray(frame))
    writer.release()
    (root / "dir").mkdir()
    (root / "weights").mkdir()
    (root / "empty.png").write_bytes(b"")
    (root / "text.png").write_text("not a picture")
    (root / "taken.mp4").write_bytes(b"somebody's video")
    return root
