"""``vcamstyle render``: the daemon's pipeline over an image or a video file, written to a file."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from vcamstyle import compute
from vcamstyle.config import Config
from vcamstyle.devices import IMAGE_SUFFIXES
from vcamstyle.errors import SinkError, SourceError, StyleImageError
from vcamstyle.models.weights import resolve_weights_dir
from vcamstyle.pipeline import Engine, Pipeline, load_picture

log = logging.getLogger(__name__)


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


def render_file(config: Config, source: Path, output: Path, compare: bool = False,
                random_weights: bool = False) -> int:
    """Process every frame of ``source`` and write ``output`` (image or video, by suffix). Returns the frame count."""
    if not Path(source).is_file():
        raise SourceError(f"input {source} does not exist", hint="give an existing image or video file")
    compute.keep_freed_memory()
    engine = Engine(random_weights=random_weights)
    weights_dir = resolve_weights_dir(str(config.weights_dir) if config.weights_dir else None)
    writer: cv2.VideoWriter | None = None
    pipeline: Pipeline | None = None
    to_image = Path(output).suffix.lower() in IMAGE_SUFFIXES
    count = 0
    try:
        for frame in read_frames(Path(source)):
            if pipeline is None:
                scene = engine.build(config, frame.shape[:2], weights_dir)
                pipeline = Pipeline(scene.segmenter, scene.stylizer, scene.settings, scene.device)
            result = pipeline.process(frame)
            image = result.image
            if compare:
                image = side_by_side(frame, mask_to_u8(result.mask), image)
            bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
            count += 1
            if to_image:
                if not cv2.imwrite(str(output), bgr):
                    raise SinkError(f"cannot write {output}", hint="check the folder exists and the suffix is .png or .jpg")
                break
            if writer is None:
                fourcc = cv2.VideoWriter_fourcc(*("mp4v" if Path(output).suffix.lower() == ".mp4" else "MJPG"))
                writer = cv2.VideoWriter(str(output), fourcc, video_fps(Path(source)), (bgr.shape[1], bgr.shape[0]))
                if not writer.isOpened():
                    raise SinkError(f"cannot write video {output}", hint="use an .mp4 or .avi file name in an existing folder")
            writer.write(bgr)
    finally:
        if writer is not None:
            writer.release()
    if count == 0:
        raise SourceError(f"{source} has no frames", hint="check the file plays in a video player")
    log.info("rendered %d frame(s) to %s", count, output)
    return count
