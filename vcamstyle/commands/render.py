"""``vcamstyle render``: the daemon's pipeline over an image or a video file, written to a file.

Nothing the user has is lost: an output that is the input (the same file, also through a symlink or a
hard link) is refused; an existing output is replaced only with ``force`` (or a yes from ``confirm``).
The result is written to ``<name>.partial<suffix>`` beside the output and renamed over it only when
complete, so an interrupted render (Ctrl-C) leaves that playable partial file, or nothing for an
image, and never a cut-off file under the output's name. Videos keep the input's timestamps (its frame
rate) and its audio track (``vcamstyle.commands.render_video``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vcamstyle import compute
from vcamstyle.config import Config, override
from vcamstyle.commands.render_video import VideoRender
from vcamstyle.config import input_files, same_file
from vcamstyle.devices import IMAGE_SUFFIXES, VIDEO_SUFFIXES, VideoWriter, create_free
from vcamstyle.errors import SinkError, SourceError, StyleImageError, VcamstyleError
from vcamstyle.models.weights import resolve_weights_dir
from vcamstyle.pipeline import Engine, Pipeline, load_picture

log = logging.getLogger(__name__)
#: The declared rate of a one-frame video made from a still picture.
STILL_FPS = 1.0


def mask_to_u8(mask: np.ndarray) -> np.ndarray:
    """``HxW float32`` in [0,1] -> ``HxW uint8``."""
    return np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8)


def side_by_side(original: np.ndarray, mask: np.ndarray, result: np.ndarray) -> np.ndarray:
    """``original | mask | result`` as one ``Hx3WxC uint8 RGB`` image."""
    return np.hstack([original, np.repeat(mask[..., None], 3, axis=2), result])


def read_frames(path: Path):
    """Yields ``HxWx3 uint8 RGB`` frames of an image (once) or a video.

    An image goes through the one picture loader (``vcamstyle.pipeline.load_picture``) at its own size:
    upright by its EXIF orientation, any bit depth / colour mode / profile converted to sRGB, the same
    as when the file is a style or background picture."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        try:
            yield load_picture(path, "render input", lambda height, width: (height, width))
        except StyleImageError as exc:
            raise SourceError(f"{path} is not a readable image: {exc.message}", hint=exc.hint) from exc
        return
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise SourceError(f"{path} cannot be opened as a video or image", hint="use a PNG/JPEG image or an mp4/avi video")
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()


def video_fps(path: Path, default: float = 30.0) -> float:
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) if capture.isOpened() else 0.0
    capture.release()
    return fps if 1 <= fps <= 240 else default


class RenderRefused(SinkError):
    """The output would destroy a file: it is the input, or it exists and replacing it was not asked."""

    exit_code = 2


class RenderInterrupted(VcamstyleError):
    """Ctrl-C during a render: what was done is in the partial file (or nothing, for an image)."""

    exit_code = 130


def check_target(source: Path, output: Path, force: bool, confirm: Callable[[Path], bool] | None,
                 inputs: list[tuple[str, Path]] = ()) -> None:
    """Refuse an output that is ``source`` itself or one of ``inputs`` (``(key, path)``: the files the
    configuration reads), an unknown kind of file, a folder, or an existing file that neither ``force``
    nor ``confirm(output)`` allows to be replaced."""
    suffix = output.suffix.lower()
    if suffix not in IMAGE_SUFFIXES and suffix not in VIDEO_SUFFIXES:
        raise RenderRefused(f"cannot write {output}: unknown file type {output.suffix or '(no suffix)'!r}",
                            hint="name an image (.png, .jpg) or a video (.mp4, .mkv, .mov, .avi)")
    if same_file(source, output):
        raise RenderRefused(f"the output {output} is the input {source}: rendering would overwrite it",
                            hint="give a new output file name")
    for key, path in inputs:
        if same_file(path, output):
            what = key if key == "the config file" else f"the file {key} names"
            raise RenderRefused(f"the output {output} is {what} ({path}): rendering would overwrite it",
                                hint="give a new output file name")
    if output.is_dir():
        raise RenderRefused(f"the output {output} is a folder", hint="give an output file name")
    if os.path.lexists(output) and not force and not (confirm is not None and confirm(output)):
        raise RenderRefused(f"{output} already exists", hint="add --force to replace it, or give another name")


def partial_path(output: Path) -> Path:
    """Where a render is written until it is complete: ``out.partial.mp4`` beside ``out.mp4``."""
    return output.with_name(f"{output.stem}.partial{output.suffix}")


def render_file(config: Config, source: Path, output: Path, compare: bool = False,
                random_weights: bool = False, *, force: bool = False,
                confirm: Callable[[Path], bool] | None = None, console: Any = None,
                config_file: Path | None = None) -> int:
    """Process every frame of ``source`` and write ``output`` (image or video, by suffix). Returns the
    frame count. ``console``: a rich console for the progress line (None: silent). ``config_file``: where
    ``config`` was read (it and the pictures it names are refused as outputs, like the input)."""
    source, output = Path(source), Path(output)
    if not source.is_file():
        raise SourceError(f"input {source} does not exist", hint="give an existing image or video file")
    check_target(source, output, force, confirm, input_files(config, config_file) if config_file else [])
    compute.keep_freed_memory()
    engine = Engine(random_weights=random_weights)
    weights_dir = resolve_weights_dir(str(config.weights_dir) if config.weights_dir else None)
    pipeline: Pipeline | None = None

    def process(frame: np.ndarray) -> np.ndarray:
        nonlocal pipeline
        if pipeline is None:
            # a file is painted frame by frame, each from itself (no network thread racing the reader)
            scene = engine.build(override(config, {"style.schedule": "every_frame"}), frame.shape[:2], weights_dir)
            pipeline = Pipeline(scene.segmenter, scene.stylizer, scene.settings, scene.device)
        result = pipeline.process(frame)
        return side_by_side(frame, mask_to_u8(result.mask), result.image) if compare else result.image

    try:
        partial, file = create_free(partial_path(output))
    except OSError as exc:
        raise SinkError(f"cannot write beside {output} ({exc.strerror or exc})",
                        hint="check the folder exists and is writable") from exc
    if output.suffix.lower() in IMAGE_SUFFIXES or source.suffix.lower() in IMAGE_SUFFIXES:
        count = _render_picture(source, output, partial, file, process)
    else:
        count = _render_video(source, output, partial, file, process, console)
    os.replace(partial, output)
    log.info("rendered %d frame(s) to %s", count, output)
    return count


def _first_frame(source: Path) -> np.ndarray:
    frames = read_frames(source)
    try:
        return next(frames)
    except StopIteration:
        raise SourceError(f"{source} has no frames", hint="check the file plays in a video player") from None
    finally:
        frames.close()


def _render_picture(source: Path, output: Path, partial: Path, file: Any, process: Callable) -> int:
    """One frame: an image's, or a video's first into an image output; a still into a video output is
    a one-frame video. The partial file is removed on any failure or interruption."""
    try:
        image = process(_first_frame(source))
        if output.suffix.lower() in IMAGE_SUFFIXES:
            with file:
                ok, data = cv2.imencode(output.suffix.lower(), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
                if not ok:
                    raise SinkError(f"cannot encode {output}", hint="use a .png or .jpg output")
                file.write(data.tobytes())
        else:
            writer = VideoWriter(file, partial, image.shape[1], image.shape[0], STILL_FPS)
            writer.write(image, 0)
            writer.close()
    except BaseException:
        file.close()
        partial.unlink(missing_ok=True)
        raise
    return 1


def _render_video(source: Path, output: Path, partial: Path, file: Any, process: Callable, console: Any) -> int:
    """Every frame; Ctrl-C finishes the partial file (playable) and says where it is."""
    try:
        job = VideoRender(source, partial, file, process)
    except BaseException:
        file.close()
        partial.unlink(missing_ok=True)
        raise
    try:
        count = job.run(console)
    except KeyboardInterrupt:
        job.finish()
        if job.frames == 0:
            partial.unlink(missing_ok=True)
            raise RenderInterrupted("interrupted before the first frame: nothing written",
                                    hint="run it again to render the file") from None
        raise RenderInterrupted(f"interrupted after {job.frames} frame(s): {partial} holds them ({output} "
                                "was not written)", hint="run it again to render the whole file") from None
    except BaseException:
        job.finish()
        partial.unlink(missing_ok=True)
        raise
    job.finish()
    if count == 0:
        partial.unlink(missing_ok=True)
        raise SourceError(f"{source} has no frames", hint="check the file plays in a video player")
    return count
