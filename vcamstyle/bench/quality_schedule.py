"""``style.schedule``'s quality gate: the style network on its own thread (``async``) against running it
for every frame (``every_frame``) at the same size, on the moving clips, as a viewer sees them.

Both are judged on the camera's clock, with the network taking ``N`` frame intervals per run (``N`` = 1:
it keeps up). Every frame (the whole pipeline waits for the network): a frame is taken every ``N``
frames and shown ``N`` frames later until the next is ready, so the viewer sees the picture of frame
``N * (t // N - 1)`` at frame ``t``. Async: every frame is composed from itself (mask, guide, edges) with
the painting of frame ``N * (t // N - 1)`` carried over (the network took that frame when it became free
and finished it ``N`` frames later); the scheduler is ``delayed_network``, a deterministic model of the
network's thread, so the comparison does not depend on the machine's load. (Generous to every frame: its
full-resolution stages are taken to fit inside the network's ``N`` intervals; really they add to them.)

Measures over the moving part of each clip, per schedule:

- ``warp``: the flow warping error of what is shown (``quality_metrics.warping_error``), at every
  camera frame: a picture held for ``N`` frames while the person moves counts as the jerk it is;
- ``lag`` (pixels): how far the painting shown at frame ``t`` trails the painting of frame ``t`` itself
  (the reference: every frame painted from itself, ``N`` = 1): the length of the median DIS flow vector
  from the reference to the shown picture over the person (the true alpha of frame ``t`` above 0.5,
  eroded by ``quality.REGION_MARGIN``), averaged over the frames. A rigid sway makes that flow the
  person's displacement since the painted frame, which is what the eye sees as a painting dragging
  behind its subject; measured against the reference painting (not the camera frame) the style's own
  texture cancels out, and where the shown picture matches the reference the lag is 0.
  ``speed`` gives the person's own mean motion (pixels per frame) for scale.

And over the still part after the motion (``Clip.settle_part``), for async: ``settle_async_N``, the
static shimmer (``quality_metrics.still_change``) from the first frame that shows a painting of a
still frame (``first_still_painting``) to the end of the part. The frames before it show paintings of
the motion, carried onto the stopped person: that is the lag above (the painting catching up with a
stop), not shimmer of a still scene, and every frame's run shows the same held pictures there. With a
naive run given, ``settle_async_ratio_N`` relates it to the naive run's shimmer over the same frames.
"""

from __future__ import annotations

from typing import Any, Callable

import cv2
import numpy as np

from vcamstyle.bench import quality_metrics as qm
from vcamstyle.bench.quality_clips import Clip
from vcamstyle.pipeline import Pipeline, StyleWorker

#: Network run lengths compared, in camera frame intervals (at 30 fps: a 20 and a 10 fps network).
NETWORK_FRAMES = (2, 3)
#: Pixels kept away from the silhouette when the lag is measured (as ``quality.REGION_MARGIN``).
LAG_MARGIN = 10


def delayed_network(frames: int) -> Callable[[StyleWorker, int], None]:
    """A manual scheduler for a network taking ``frames`` intervals a run: the first frame is painted
    at once (the daemon's first frame waits for its own painting); then every ``frames`` frames the run
    under way finishes and the newest frame's job starts."""
    state: dict[str, Any] = {"flight": None}

    def schedule(worker: StyleWorker, seq: int) -> None:
        if seq == 1:
            worker.run_pending()
        elif (seq - 1) % frames == 0:
            if state["flight"] is not None:
                worker.run_taken(state["flight"])
            state["flight"] = worker.take_pending()
    return schedule


def shown_frame(t: int, frames: int) -> int:
    """The frame whose picture (every frame) or painting (async) is shown at frame ``t``."""
    return max(0, frames * (t // frames - 1))


def lag_px(shown: np.ndarray, reference: np.ndarray, alpha: np.ndarray) -> float:
    """Length (px) of the median DIS flow from ``reference`` to ``shown`` over the person's interior."""
    where = qm.region(alpha, person=True, margin=LAG_MARGIN)
    if not where.any():
        return 0.0
    flow = qm.backward_flow(reference, shown)
    return float(np.hypot(np.median(flow[..., 0][where]), np.median(flow[..., 1][where])))


def person_speed(clip: Clip) -> float:
    """Mean motion (px per frame) of the person's centroid over the moving part."""
    centres = []
    for alpha in clip.alphas[clip.still - 1:clip.moving_part.stop]:
        m = cv2.moments((alpha > 0.5).astype(np.uint8), binaryImage=True)
        centres.append((m["m10"] / max(m["m00"], 1), m["m01"] / max(m["m00"], 1)))
    steps = [np.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(centres, centres[1:])]
    return float(np.mean(steps)) if steps else 0.0


def first_still_painting(stop: int, frames: int) -> int:
    """The first frame at which the painting shown (``shown_frame``) is of frame ``stop - 1`` or later:
    of a still frame, when the motion ends with frame ``stop - 1`` at rest."""
    t = stop
    while shown_frame(t, frames) < stop - 1:
        t += 1
    return t


def compare_schedules(run: Callable[..., list[np.ndarray]], clip: Clip,
                      network_frames: tuple[int, ...] = NETWORK_FRAMES,
                      naive: list[np.ndarray] | None = None) -> dict[str, Any]:
    """The gate's numbers for one clip. ``run(clip, schedule, scheduler)`` returns the pipeline's outputs
    over every frame of ``clip`` (``quality.Runner.run_schedule``); ``naive``: the naive per-frame run's
    outputs over the same frames, for the settle ratio."""
    reference = run(clip, "every_frame", None)
    moving = clip.moving_part
    inputs = [clip.frames[t] for t in moving]
    row: dict[str, Any] = {"clip": clip.name, "speed": person_speed(clip)}
    for n in network_frames:
        carried = run(clip, "async", delayed_network(n))
        shown = {"every_frame": [reference[shown_frame(t, n)] for t in moving],
                 "async": [carried[t] for t in moving]}
        for name, pictures in shown.items():
            row[f"warp_{name}_{n}"] = qm.warping_error(pictures, inputs)
            row[f"lag_{name}_{n}"] = float(np.mean([lag_px(p, reference[t], clip.alphas[t])
                                                    for p, t in zip(pictures, moving)]))
        start = first_still_painting(clip.settle_part.start, n)
        if clip.settle_part.stop - start >= 2:
            row[f"settle_async_{n}"] = qm.still_change(carried[start:clip.settle_part.stop])
            if naive is not None:
                row[f"settle_async_ratio_{n}"] = row[f"settle_async_{n}"] / qm.still_change(naive[start:clip.settle_part.stop])
    row["warp_reference"] = qm.warping_error([reference[t] for t in moving], inputs)
    return row


def schedule_gate(rows: list[dict[str, Any]], network_frames: tuple[int, ...] = NETWORK_FRAMES) -> bool:
    """Whether async is no worse than every frame at the same size on every clip, in both measures."""
    return all(row[f"{m}_async_{n}"] <= row[f"{m}_every_frame_{n}"] for row in rows for n in network_frames
               for m in ("warp", "lag"))


def format_schedules(rows: list[dict[str, Any]], network_frames: tuple[int, ...] = NETWORK_FRAMES) -> str:
    """A markdown table: per clip and network length, warping error and lag of both schedules."""
    lines = ["| clip | person px/frame | network frames | warp every frame | warp async | lag every frame px | lag async px "
             "| async shimmer after the stop vs naive |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        for n in network_frames:
            settle = row.get(f"settle_async_ratio_{n}")
            lines.append(f"| {row['clip']} | {row['speed']:.1f} | {n} | {row[f'warp_every_frame_{n}']:.2f} | "
                         f"{row[f'warp_async_{n}']:.2f} | {row[f'lag_every_frame_{n}']:.1f} | {row[f'lag_async_{n}']:.1f} "
                         f"| {'n/a' if settle is None else f'{settle:.2f}x'} |")
    verdict = "yes" if schedule_gate(rows, network_frames) else "NO"
    lines.append(f"\nasync no worse than every frame at the same size (warp and lag, every clip): {verdict}")
    return "\n".join(lines)
