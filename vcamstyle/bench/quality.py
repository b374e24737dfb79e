"""``vcamstyle bench --quality`` / ``benchmarks/quality.py``: image quality of the pipeline, measured.

Over clips built from real photos with a known person mask (``quality_clips``), on the CPU, offline:

- temporal stability: the frame-difference error over the still part, the DIS flow warping error
  over the moving part and the frame-difference error over the first second of stillness after the
  motion (``settle``: the picture must be steady from the moment the person stops, not catch up for a
  while), each also for a naive per-frame run (no mask EMA, no temporal smoothing of the painting, the
  stylizer's content state reset every frame) and as a ratio to it; also on a flat scene (a still
  person before a plain plaster wall, both regions in plain flat-coloured styles), where any drift of
  the painting shows;
- region independence: the person region's output when only the background's style changes (the
  largest mean absolute difference over several alternatives), and the background's when only the
  person's changes;
- edge quality: the halo width (the band along the true silhouette where the output is off every
  blend of the two regions' own stylized images, the whole frame in each region's style,
  ``quality_metrics.off_blend``), the same width against the room without the person (for
  information: see ``_outline``), and the mask IoU against the ground truth for each segmenter and
  for the configured choice;
- face legibility: the share of output frames in which the face detector still finds the face.

Everything runs at the configuration given (default: the shipped template) with only the keys each
measure needs changed.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable

import cv2
import numpy as np

from vcamstyle import paths
from vcamstyle.bench import quality_metrics as qm
from vcamstyle.bench.quality_clips import Clip, build_clip, cutout, flat_style, photos, smooth_wall
from vcamstyle.bench.quality_faces import FaceFinder
from vcamstyle.bench.quality_schedule import NETWORK_FRAMES, compare_schedules, format_schedules
from vcamstyle.config import Config, override, parse_config
from vcamstyle.pipeline import Engine, Pipeline, StyleWorker

log = logging.getLogger(__name__)

SIZES = {"16:9": (360, 640), "4:3": (480, 640)}
SEGMENTERS = ("selfie", "selfie_landscape")
#: Alternative styles for the other region in the independence test (bundled names, or an effect).
ALTERNATIVES = ("styles/ink_wash.png", "styles/neon.png", "blur")
#: Frames run per configuration in the independence and halo tests; the last ``COMPARED`` are compared.
SHORT_RUN, COMPARED = 6, 3
#: Pixels kept away from the silhouette when a region is compared (feather and mask error live there).
REGION_MARGIN = 10
#: The halo profile reaches this far (px) from the silhouette; each side's floor is the median of its
#: outermost ``HALO_FLOOR_BANDS`` bands. A style leaking across the edge reached 20-40 px (the network's
#: receptive field), so a floor taken closer (the metric's default, 18-24 px) sat inside that band.
HALO_REACH, HALO_FLOOR_BANDS = 64, 16
TARGETS = {"independence": 3.0, "halo_px": 2, "iou": 0.95, "still_ratio": 0.25, "settle_ratio": 0.25,
           "face_share": 0.95}


PHOTOS = ("astronaut", "grace_hopper")
#: The shortest still part after the motion that the async settle measure fits in: its first still
#: painting comes up to ``2N - 2`` frames after the stop (``quality_schedule.first_still_painting``).
SETTLE_MIN = 2 * max(NETWORK_FRAMES)


@dataclass(frozen=True)
class QualityOptions:
    """The clips to build: ``still`` frames of a still person (at least ``SHORT_RUN``: the independence
    and halo runs use the first ones), then ``moving`` frames of a moving one (at least 2), then
    ``settle`` still frames (at least ``SETTLE_MIN``; 30: the first second at 30 fps), for each of ``photos`` at each
    of ``aspects``, in the drawn room and, with ``flat``, also before a plain wall in flat styles
    (stability only). ``ValueError`` names the bad value and what is allowed."""

    still: int = 20
    moving: int = 24
    aspects: tuple[str, ...] = ("16:9", "4:3")
    photos: tuple[str, ...] = PHOTOS
    settle: int = 30
    flat: bool = True

    def __post_init__(self) -> None:
        if self.still < SHORT_RUN:
            raise ValueError(f"still must be at least {SHORT_RUN} frames, got {self.still}")
        if self.moving < 2:
            raise ValueError(f"moving must be at least 2 frames, got {self.moving}")
        if self.settle < SETTLE_MIN:
            raise ValueError(f"settle must be at least {SETTLE_MIN} frames (the async measure starts up to "
                             f"{SETTLE_MIN - 2} frames after the stop and needs 2), got {self.settle}")
        for kind, given, allowed in (("aspect", self.aspects, tuple(SIZES)), ("photo", self.photos, PHOTOS)):
            unknown = [value for value in given if value not in allowed]
            if unknown or not given:
                raise ValueError(f"unknown {kind} {', '.join(map(repr, unknown)) or '(none given)'}: "
                                 f"choose from {', '.join(allowed)}")


def default_config() -> Config:
    """The shipped template on the CPU."""
    return parse_config("device: cpu\n", paths.template_config_path())


def _changed(config: Config, changes: dict[str, Any]) -> Config:
    return override(config, changes, source="quality benchmark", base_dir=paths.shipped_config_dir())


def _region_changes(region: str, choice: str) -> dict[str, Any]:
    if choice in ("blur", "original"):
        return {f"{region}.effect": choice}
    return {f"{region}.effect": "style", f"{region}.style": choice}


class Runner:
    """Runs configurations over clips; one ``Engine`` so models and style codes are built once."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.engine = Engine()
        self.frame_ms: list[float] = []
        #: Whether the last ``run`` computed the person mask (a configuration that shows the same picture
        #: in both regions skips segmentation: its masks are empty and have no IoU).
        self.computed_mask = False

    def run(self, clip: Clip, changes: dict[str, Any] | None = None, frames: int | None = None,
            naive: bool = False, timed: bool = False) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Outputs and masks of the pipeline over the first ``frames`` frames of ``clip``."""
        # every frame painted from itself, deterministically (``quality_schedule`` judges the async schedule)
        config = _changed(self.config, {"style.schedule": "every_frame", **(changes or {})})
        if naive:
            config = _changed(config, {"segmentation.smoothing": 0, "style.smoothing": 0})
        size = clip.frames[0].shape[:2]
        scene = self.engine.build(config, size, None)
        pipeline = Pipeline(scene.segmenter, scene.stylizer, scene.settings, scene.device)
        self.computed_mask = pipeline.uses_mask
        if scene.stylizer is not None and hasattr(scene.stylizer, "reset"):
            scene.stylizer.reset()
        outputs, masks = [], []
        for frame in clip.frames[:frames]:
            if naive:
                pipeline.reset()
                if hasattr(scene.stylizer, "reset"):
                    scene.stylizer.reset()
            start = time.perf_counter()
            result = pipeline.process(frame)
            if timed:
                self.frame_ms.append((time.perf_counter() - start) * 1000)
            outputs.append(result.image)
            masks.append(result.mask)
        return outputs, masks


    def run_schedule(self, clip: Clip, schedule: str, scheduler: Callable[[StyleWorker, int], None] | None,
                     changes: dict[str, Any] | None = None) -> list[np.ndarray]:
        """Outputs over every frame of ``clip`` with ``style.schedule`` as given (and ``changes``), the
        async network's thread replaced by ``scheduler`` (``quality_schedule.delayed_network``)."""
        config = _changed(self.config, {**(changes or {}), "style.schedule": schedule})
        scene = self.engine.build(config, clip.frames[0].shape[:2], None)
        if scene.stylizer is not None and hasattr(scene.stylizer, "reset"):
            scene.stylizer.reset()
        pipeline = Pipeline(scene.segmenter, scene.stylizer, scene.settings, scene.device, scheduler=scheduler)
        try:
            return [pipeline.process(frame).image for frame in clip.frames]
        finally:
            pipeline.close()


def _mean_iou(masks: list[np.ndarray], clip: Clip, computed: bool = True) -> float | None:
    """Mean IoU of the pipeline's masks against the truth (first frame skipped: the EMA starts there);
    None when the run ``computed`` no mask (the configuration needs none)."""
    if not computed:
        return None
    return float(np.mean([qm.mask_iou(m, a) for m, a in zip(masks[1:], clip.alphas[1:])]))


def _face_share(finder: FaceFinder, outputs: Iterable[np.ndarray], clip: Clip, step: int = 2) -> float | None:
    if clip.face_box is None:
        return None
    checks = [finder.found(out, alpha, clip.face_box)
              for out, alpha in list(zip(outputs, clip.alphas))[::step]]
    return float(np.mean(checks))


def _independence(runner: Runner, clip: Clip, reference: list[np.ndarray], measured: str) -> float:
    """Largest mean abs difference in the ``measured`` region when only the other region's style changes."""
    other = "background" if measured == "person" else "person"
    where = qm.region(clip.alphas[0], person=measured == "person", margin=REGION_MARGIN)
    worst = 0.0
    for choice in ALTERNATIVES:
        outputs, _ = runner.run(clip, _region_changes(other, choice), frames=SHORT_RUN)
        diff = np.mean([qm.region_difference(a, b, where) for a, b in zip(outputs[-COMPARED:], reference[-COMPARED:])])
        worst = max(worst, float(diff))
    return worst


def _own_pictures(runner: Runner, clip: Clip, on: Clip) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The regions' own stylized images over ``on``'s frames: the whole frame in the person's style
    (as configured, face sparing included) and the whole frame in the background's style."""
    c = runner.config
    as_person = {"background.effect": c.person.effect, "background.strength": c.person.strength}
    # the background's style everywhere, the face included (face_strength 1: styled like the rest)
    as_background = {"person.effect": c.background.effect, "person.strength": c.background.strength,
                     "person.face_strength": 1.0}
    if c.person.style:
        as_person["background.style"] = [{"image": str(r.image), "weight": r.weight} for r in c.person.style]
    if c.background.style:
        as_background["person.style"] = [{"image": str(r.image), "weight": r.weight} for r in c.background.style]
    person_only, _ = runner.run(clip, as_person, frames=SHORT_RUN)
    background_only, _ = runner.run(on, as_background, frames=SHORT_RUN)
    return person_only, background_only


def _edge_width(clip: Clip, reference: list[np.ndarray], person_only: list[np.ndarray],
                background_only: list[np.ndarray]) -> tuple[int, list[float]]:
    distance = qm.signed_distance(clip.alphas[0])
    profiles = [qm.halo_profile(qm.off_blend(o, p, b), distance, reach=HALO_REACH)
                for o, p, b in zip(reference[-COMPARED:], person_only[-COMPARED:], background_only[-COMPARED:])]
    profile = np.nanmean(np.stack(profiles), axis=0)
    return qm.halo_width(profile, floor_bands=HALO_FLOOR_BANDS), [round(float(v), 2) for v in profile]


def _halo(runner: Runner, clip: Clip, reference: list[np.ndarray]) -> tuple[int, list[float]]:
    """Halo width (px) and the mean off-blend profile against the regions' own stylized images: the
    whole frame in the person's style and the whole frame in the background's style. Anything of one
    style painted over the other's side of the silhouette, or neither style, counts."""
    person_only, background_only = _own_pictures(runner, clip, clip)
    return _edge_width(clip, reference, person_only, background_only)


def _outline(runner: Runner, clip: Clip, reference: list[np.ndarray]) -> int:
    """For information, not a target: the same width with the background's reference styled from the
    room without the person. It counts what the background's style paints because the person is there
    (a style that draws edges draws the silhouette as it draws every edge in the room) and what the
    network cannot know (the room hidden behind the person shapes the room reference's texture up to
    its receptive field away): no picture made from the camera frame scores 0 here."""
    empty = [np.zeros_like(a) for a in clip.alphas[:len(clip.plate)]]
    room = Clip(f"{clip.name} room", clip.plate, empty, len(clip.plate), None, clip.plate)
    person_only, background_only = _own_pictures(runner, clip, room)
    return _edge_width(clip, reference, person_only, background_only)[0]


@dataclass(frozen=True)
class Scene:
    """A clip and the configuration changes it is measured with; ``full``: every measure (the drawn
    room), else stability only (the flat scene: its styles paint no texture to judge edges by)."""

    clip: Clip
    changes: dict[str, Any] = field(default_factory=dict)
    full: bool = True


@dataclass
class Stability:
    """One clip's stability run: the row's numbers and the outputs they came from."""

    row: dict[str, Any]
    outputs: list[np.ndarray]
    masks: list[np.ndarray]
    naive: list[np.ndarray]


def measure_stability(runner: Runner, scene: Scene) -> Stability:
    """Shimmer of the still part, warping error of the moving part and shimmer of the first second
    after the motion (from the last moving frame, which is at rest), against the naive run."""
    clip, inputs = scene.clip, scene.clip.frames
    parts = {"still": slice(1, clip.still), "settle": slice(clip.settle_part.start - 1, clip.settle_part.stop)}
    moving = slice(clip.still - 1, clip.moving_part.stop)
    outputs, masks = runner.run(clip, scene.changes, timed=True)
    naive, _ = runner.run(clip, scene.changes, naive=True)
    row: dict[str, Any] = {"clip": clip.name, "size": f"{inputs[0].shape[1]}x{inputs[0].shape[0]}"}
    row["input_still"] = qm.still_change(inputs[parts["still"]])
    for name, part in parts.items():
        if part.stop - part.start < 2:
            continue
        row[name] = qm.still_change(outputs[part])
        row[f"{name}_naive"] = qm.still_change(naive[part])
        row[f"{name}_ratio"] = row[name] / row[f"{name}_naive"]
    row["warp"] = qm.warping_error(outputs[moving], inputs[moving])
    row["warp_naive"] = qm.warping_error(naive[moving], inputs[moving])
    row["warp_ratio"] = row["warp"] / row["warp_naive"]
    return Stability(row, outputs, masks, naive)


def measure_clip(runner: Runner, finder: FaceFinder, clip: Clip, stability: Stability) -> dict[str, Any]:
    """Every measure of a room clip, on top of its stability run (``measure_stability``)."""
    row, outputs, masks = stability.row, stability.outputs, stability.masks
    inputs = clip.frames
    row["iou"] = _mean_iou(masks, clip, runner.computed_mask)
    for name in SEGMENTERS:
        # a colour background needs the mask (both regions original would skip segmentation) and costs
        # no style network
        _, seg_masks = runner.run(clip, {"segmentation.model": name, "person.effect": "original",
                                         "background.effect": "color"})
        row[f"iou_{name}"] = _mean_iou(seg_masks, clip, runner.computed_mask)
    row["person_vs_background_style"] = _independence(runner, clip, outputs[:SHORT_RUN], "person")
    row["background_vs_person_style"] = _independence(runner, clip, outputs[:SHORT_RUN], "background")
    row["independence"] = max(row["person_vs_background_style"], row["background_vs_person_style"])
    row["halo_px"], row["halo_profile"] = _halo(runner, clip, outputs[:SHORT_RUN])
    row["outline_px"] = _outline(runner, clip, outputs[:SHORT_RUN])
    row["face_share"] = _face_share(finder, outputs, clip)
    row["face_share_input"] = _face_share(finder, inputs, clip)
    return row


def flat_styles(folder: Path) -> dict[str, Any]:
    """The flat scene's changes: a warm flat style for the person, a cool one for the background (both
    ``quality_clips.flat_style``, written into ``folder`` as PNG)."""
    changes: dict[str, Any] = {}
    for region, palette in (("person", "warm"), ("background", "cool")):
        path = folder / f"flat_{palette}.png"
        cv2.imwrite(str(path), cv2.cvtColor(flat_style(palette), cv2.COLOR_RGB2BGR))
        changes |= {f"{region}.effect": "style", f"{region}.style": str(path)}
    return changes


def build_scenes(options: QualityOptions, finder: FaceFinder, folder: Path) -> list[Scene]:
    """The room clips (every measure) and, with ``options.flat``, the flat scene's clips (stability)."""
    scenes = []
    flat = flat_styles(folder) if options.flat else {}
    for name, photo in photos().items():
        if name not in options.photos:
            continue
        person, alpha = cutout(photo)
        for aspect in options.aspects:
            size = SIZES[aspect]
            scenes.append(Scene(build_clip(f"{name} {aspect}", person, alpha, size, options.still, options.moving,
                                           face_finder=finder.reference, settle=options.settle)))
            if options.flat:
                clip = build_clip(f"{name} {aspect} flat", person, alpha, size, options.still, options.moving,
                                  settle=options.settle, wall=smooth_wall(size))
                scenes.append(Scene(clip, flat, full=False))
    return scenes


def _worst(rows: list[dict[str, Any]], key: str, pick: Callable[..., Any] = max) -> Any:
    return pick((r[key] for r in rows if r.get(key) is not None), default=None)


def run_quality(config: Config | None = None, options: QualityOptions = QualityOptions()) -> dict[str, Any]:
    """The whole benchmark: one row per clip and a summary against the targets."""
    config = config or default_config()
    finder = FaceFinder()
    runner = Runner(config)
    rows, schedules = [], []
    with tempfile.TemporaryDirectory(prefix="vcamstyle-quality-") as folder:
        for scene in build_scenes(options, finder, Path(folder)):
            stability = measure_stability(runner, scene)
            rows.append(measure_clip(runner, finder, scene.clip, stability) if scene.full else stability.row)
            schedules.append(compare_schedules(partial(runner.run_schedule, changes=scene.changes), scene.clip,
                                               naive=stability.naive))
    settle_async = [v for s in schedules for k, v in s.items() if k.startswith("settle_async_ratio_")]
    summary = {
        "still_ratio": _worst(rows, "still_ratio"),
        "settle_ratio": _worst(rows, "settle_ratio"),
        "settle_async_ratio": max(settle_async, default=None),
        "warp_ratio": _worst(rows, "warp_ratio"),
        "independence": _worst(rows, "independence"),
        "halo_px": _worst(rows, "halo_px"),
        "iou": _worst(rows, "iou", min),
        "face_share": _worst(rows, "face_share", min),
        "frame_ms_median": statistics.median(runner.frame_ms) if runner.frame_ms else None,
    }
    return {"config": {"segmentation": config.segmentation.model, "person": config.person.summary(),
                       "background": config.background.summary(), "style_size": config.style.size},
            "rows": rows, "summary": summary, "targets": TARGETS, "schedules": schedules}


COLUMNS = [
    ("clip", "clip", "{}"), ("size", "size", "{}"),
    ("still", "still err", "{:.2f}"), ("still_naive", "naive", "{:.2f}"), ("still_ratio", "ratio", "{:.2f}"),
    ("settle", "after stop err", "{:.2f}"), ("settle_naive", "naive", "{:.2f}"), ("settle_ratio", "ratio", "{:.2f}"),
    ("warp", "warp err", "{:.2f}"), ("warp_naive", "naive", "{:.2f}"), ("warp_ratio", "ratio", "{:.2f}"),
    ("person_vs_background_style", "person|bg style", "{:.1f}"),
    ("background_vs_person_style", "bg|person style", "{:.1f}"),
    ("halo_px", "halo px", "{}"), ("outline_px", "vs room px", "{}"), ("iou", "IoU", "{:.3f}"),
    ("iou_selfie", "IoU selfie", "{:.3f}"), ("iou_selfie_landscape", "IoU landscape", "{:.3f}"),
    ("face_share", "face found", "{:.0%}"),
]


def _cell(fmt: str, value: Any) -> str:
    return "n/a" if value is None else fmt.format(value)


def format_quality(report: dict[str, Any]) -> str:
    """A markdown table, one row per clip, then the summary against the targets."""
    lines = ["| " + " | ".join(title for _, title, _ in COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    for row in report["rows"]:
        lines.append("| " + " | ".join(_cell(fmt, row.get(key)) for key, _, fmt in COLUMNS) + " |")
    s, t = report["summary"], report["targets"]
    def at_most(key: str, target: float, unit: str = "x", fmt: str = "{:.2f}") -> tuple[str, str, bool | None]:
        value = s.get(key)
        return (_cell(fmt, value) + ("" if value is None else unit), f"<= {target}{unit}",
                None if value is None else value <= target)

    checks = [
        ("static shimmer vs naive (worst clip)", *at_most("still_ratio", t["still_ratio"])),
        ("shimmer in the first second after motion vs naive (worst)", *at_most("settle_ratio", t["settle_ratio"])),
        ("the same, style.schedule async, from its first still painting (worst)",
         *at_most("settle_async_ratio", t["settle_ratio"])),
        ("moving warping error vs naive (worst)", f"{s['warp_ratio']:.2f}x", "no worse than before", None),
        ("region independence (worst, 0-255)", *at_most("independence", t["independence"], "", "{:.1f}")),
        ("halo beyond the feather (worst)", *at_most("halo_px", t["halo_px"], " px", "{}")),
        ("mask IoU, configured segmenter (worst)", _cell("{:.3f}", s["iou"]), f">= {t['iou']}",
         None if s["iou"] is None else s["iou"] >= t["iou"]),
        ("face found (worst clip)", _cell("{:.0%}", s["face_share"]), f">= {t['face_share']:.0%}",
         None if s["face_share"] is None else s["face_share"] >= t["face_share"]),
    ]
    lines += ["", "| measure | value | target | met |", "|---|---|---|---|"]
    for name, value, target, met in checks:
        lines.append(f"| {name} | {value} | {target} | {'' if met is None else ('yes' if met else 'NO')} |")
    if report.get("schedules"):
        lines += ["", "style.schedule, async against every frame at the same size (moving part; "
                  "vcamstyle.bench.quality_schedule):", "", format_schedules(report["schedules"])]
    c = report["config"]
    lines.append(f"\nconfig: segmentation {c['segmentation']}, person {c['person']}, background {c['background']}, "
                 f"style.size {c['style_size']}; frame time median {_cell('{:.1f}', s['frame_ms_median'])} ms "
                 "(includes the benchmark's own load; compare runs on one machine only)")
    return "\n".join(lines)
