"""Test clips for the quality benchmark, built from real photos with a known ground-truth mask.

A person is cut out of a real photo (scikit-image's astronaut, matplotlib's ``grace_hopper.jpg``) and
composited over a procedurally drawn room, so the person's alpha in every frame is known exactly.
Each clip has a still part (the person does not move; only sensor noise changes), a moving part
(the person sways sideways and bobs) and a second still part (the person stops: how fast the picture
settles after motion), at 16:9 and 4:3. The room is drawn (papered wall, window, shelf, ...) or, for
the flat-style scene, a smoothly textured plaster wall (``smooth_wall``) with plain, flat-coloured
styles (``flat_style``): the case where every bit of shimmer and drift shows.

The cut-out is derived reproducibly: the bundled ``selfie`` segmenter on the whole photo gives a
probability map, which GrabCut refines at full resolution (sure person where the probability is above
0.95, sure background below 0.05, both eroded by 6 px; the rest "probable" person or background on
either side of 0.5); pockets enclosed by the person are filled.
The composite is then made WITH that mask, so the mask is the ground truth of the clip by
construction, whatever errors the derivation has on the original photo.

Frames are ``HxWx3 uint8 RGB``; masks ``HxW float32`` in [0, 1] (1 = person).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
import torch

from vcamstyle.errors import VcamstyleError

#: Sensor noise: Gaussian, this standard deviation in 0-255 units, fresh every frame.
NOISE_SIGMA = 3.0
SEED = 13

Box = tuple[int, int, int, int]  # x, y, w, h


@dataclass(frozen=True)
class Clip:
    """One test clip. ``frames``/``alphas``: the noisy frames and the person's true alpha per frame;
    ``still``: how many leading frames are still; ``moving``: how many frames move after them (the
    rest, ``settle`` frames, are still again, the person back where it started); ``face_box``:
    ``(x, y, w, h)`` of the face in the still frames (found on the clean composite); ``plate``: the room
    without the person, as many noisy frames as the still part (the background's own content)."""

    name: str
    frames: list[np.ndarray]
    alphas: list[np.ndarray]
    still: int
    face_box: Box | None
    plate: list[np.ndarray]
    moving: int | None = None

    def __post_init__(self) -> None:
        if self.moving is not None and not 0 <= self.moving <= len(self.frames) - self.still:
            raise ValueError(f"clip {self.name!r}: {self.moving} moving frames after {self.still} still ones "
                             f"do not fit in {len(self.frames)} frames")

    @property
    def moving_part(self) -> range:
        """Frame indices of the moving part (the last still frame before it not included)."""
        end = len(self.frames) if self.moving is None else self.still + self.moving
        return range(self.still, end)

    @property
    def settle_part(self) -> range:
        """Frame indices of the still part after the motion (empty when the clip ends moving)."""
        return range(self.moving_part.stop, len(self.frames))


def photos() -> dict[str, np.ndarray]:
    """The two real photos, ``HxWx3 uint8 RGB``. Needs scikit-image and matplotlib (the ``test`` extra)."""
    try:
        import matplotlib.cbook
        import skimage.data
    except ImportError as exc:
        raise VcamstyleError(f"the quality benchmark needs {exc.name}",
                             hint="pip install 'vcamstyle[test]' (scikit-image and matplotlib provide the photos)") from exc
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR)
    return {"astronaut": skimage.data.astronaut(), "grace_hopper": cv2.cvtColor(hopper, cv2.COLOR_BGR2RGB)}


def person_probability(photo: np.ndarray) -> np.ndarray:
    """The bundled general ``selfie`` model's person probability for ``photo``, ``HxW float32``."""
    from vcamstyle.frames import resize, to_tensor
    from vcamstyle.models import BuildOptions, create_segmenter

    segmenter = create_segmenter("selfie", BuildOptions(device=torch.device("cpu")))
    with torch.inference_mode():
        low = segmenter.segment(to_tensor(photo))
        prob = resize(low, photo.shape[:2], mode="bilinear")
    return prob[0, 0].clamp(0, 1).numpy()


def refine_cutout(photo: np.ndarray, probability: np.ndarray, iterations: int = 4) -> np.ndarray:
    """GrabCut-refined binary person mask (``HxW uint8`` 0/1) seeded from ``probability``."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (13, 13))
    sure_fg = cv2.erode((probability > 0.95).astype(np.uint8), kernel)
    sure_bg = cv2.erode((probability < 0.05).astype(np.uint8), kernel)
    labels = np.where(probability >= 0.5, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    labels[sure_fg > 0] = cv2.GC_FGD
    labels[sure_bg > 0] = cv2.GC_BGD
    cv2.setRNGSeed(SEED)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(cv2.cvtColor(photo, cv2.COLOR_RGB2BGR), labels, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    person = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    # keep the largest connected part (GrabCut may leave specks)
    count, comp, stats, _ = cv2.connectedComponentsWithStats(person, connectivity=8)
    if count > 2:
        person = (comp == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    return fill_holes(person)


def fill_holes(person: np.ndarray) -> np.ndarray:
    """``person`` (0/1) with background pockets that do not reach the top, left or right border filled
    (the bottom border is where the body leaves the photo, so pockets there count as holes too)."""
    h, w = person.shape
    padded = np.zeros((h + 1, w + 2), np.uint8)
    padded[1:, 1:-1] = person
    flood = padded.copy()
    cv2.floodFill(flood, np.zeros((h + 3, w + 4), np.uint8), (0, 0), 2)
    return (flood[1:, 1:-1] != 2).astype(np.uint8)


def cutout(photo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The person cropped to its bounding box: ``(rgb, alpha)``; alpha anti-aliased (0.7 px Gaussian)."""
    person = refine_cutout(photo, person_probability(photo))
    ys, xs = np.nonzero(person)
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    alpha = cv2.GaussianBlur(person.astype(np.float32), (0, 0), 0.7)
    return photo[top:bottom, left:right].copy(), alpha[top:bottom, left:right].copy()


def room(size: tuple[int, int], seed: int = SEED) -> np.ndarray:
    """A textured room, ``HxWx3 uint8 RGB`` at ``size = (H, W)``: papered wall, window, bookshelf,
    framed picture, plant and desk edge, drawn with a seeded generator (no image files)."""
    h, w = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    wall = np.array([196, 184, 160], np.float32) * (0.85 + 0.15 * (1 - yy / h))[..., None]
    stripes = 6 * np.sin(xx / max(w, 1) * 2 * np.pi * 24)[..., None]
    grain = cv2.GaussianBlur(rng.normal(0, 10, (h, w)).astype(np.float32), (0, 0), 1.2)[..., None]
    img = np.clip(wall + stripes + grain, 0, 255).astype(np.uint8)
    u = w / 100
    # window (left): frame, sky gradient, mullions
    x0, y0, x1, y1 = int(4 * u), int(0.08 * h), int(26 * u), int(0.62 * h)
    sky = np.linspace(215, 150, y1 - y0)[:, None, None] * np.array([0.75, 0.88, 1.0])
    img[y0:y1, x0:x1] = np.clip(sky + rng.normal(0, 3, (y1 - y0, x1 - x0, 3)), 0, 255).astype(np.uint8)
    cv2.rectangle(img, (x0, y0), (x1, y1), (245, 245, 240), max(2, int(0.8 * u)))
    cv2.line(img, ((x0 + x1) // 2, y0), ((x0 + x1) // 2, y1), (245, 245, 240), max(2, int(0.6 * u)))
    cv2.line(img, (x0, (y0 + y1) // 2), (x1, (y0 + y1) // 2), (245, 245, 240), max(2, int(0.6 * u)))
    # bookshelf (right): boards and books of random colours and heights
    sx0, sx1 = int(74 * u), int(97 * u)
    cv2.rectangle(img, (sx0, int(0.05 * h)), (sx1, int(0.9 * h)), (92, 62, 38), -1)
    for shelf in range(4):
        base = int((0.27 + 0.21 * shelf) * h)
        cv2.rectangle(img, (sx0, base), (sx1, base + max(3, int(0.015 * h))), (120, 84, 52), -1)
        x = sx0 + int(u)
        while x < sx1 - 2 * u:
            bw = int(rng.integers(max(3, int(0.8 * u)), max(5, int(2.2 * u))))
            bh = int(rng.uniform(0.11, 0.18) * h)
            color = tuple(int(c) for c in rng.integers(30, 230, 3))
            cv2.rectangle(img, (x, base - bh), (min(x + bw, sx1 - int(u)), base - 1), color, -1)
            x += bw + int(rng.integers(0, 2))
    # framed picture (centre-left, above the person's shoulder line) with a few shapes
    px0, py0, px1, py1 = int(30 * u), int(0.1 * h), int(44 * u), int(0.34 * h)
    cv2.rectangle(img, (px0, py0), (px1, py1), (60, 50, 40), -1)
    cv2.rectangle(img, (px0 + 4, py0 + 4), (px1 - 4, py1 - 4), (230, 220, 190), -1)
    cv2.circle(img, ((px0 + px1) // 2, (py0 + py1) // 2), max(4, int(3 * u)), (200, 80, 60), -1)
    # plant (left, below the window) and desk edge (bottom)
    cv2.rectangle(img, (int(8 * u), int(0.72 * h)), (int(16 * u), int(0.9 * h)), (150, 90, 60), -1)
    for _ in range(14):
        cx, cy = int(rng.uniform(6, 18) * u), int(rng.uniform(0.55, 0.74) * h)
        cv2.ellipse(img, (cx, cy), (int(2.2 * u), int(0.8 * u)), float(rng.uniform(0, 180)), 0, 360,
                    (int(rng.integers(30, 70)), int(rng.integers(110, 160)), int(rng.integers(40, 80))), -1, cv2.LINE_AA)
    cv2.rectangle(img, (0, int(0.9 * h)), (w, h), (110, 80, 56), -1)
    return img


def smooth_wall(size: tuple[int, int], seed: int = SEED) -> np.ndarray:
    """A plain plaster wall, ``HxWx3 uint8 RGB`` at ``size = (H, W)``: a soft vertical light gradient and
    gentle blotches a few levels deep at a tenth of the frame's scale, nothing sharp (seeded)."""
    h, w = size
    rng = np.random.default_rng(seed)
    yy = np.mgrid[0:h, 0:w][0].astype(np.float32)
    base = np.array([200, 188, 170], np.float32) * (0.88 + 0.12 * (1 - yy / h))[..., None]
    blotches = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 0.1 * min(h, w))
    spread = float(blotches.std())
    blotches *= 6.0 / spread if spread > 1e-3 else 0.0  # a picture too small to have blotches has none
    fine = cv2.GaussianBlur(rng.normal(0, 1.5, (h, w)).astype(np.float32), (0, 0), 2.0)
    return np.clip(base + (blotches + fine)[..., None] + 0.5, 0, 255).astype(np.uint8)


#: Plain palettes of the flat styles (RGB): warm for the person, cool for the background.
FLAT_PALETTES = {
    "warm": ((214, 96, 62), (238, 176, 84), (156, 52, 48), (246, 222, 170), (120, 78, 60)),
    "cool": ((58, 104, 160), (110, 170, 196), (36, 58, 96), (200, 220, 226), (86, 130, 110)),
}


def flat_style(palette: str, size: int = 256, cells: int = 24, seed: int = SEED) -> np.ndarray:
    """A style picture of flat colour patches (``size x size x 3 uint8 RGB``): Voronoi cells of
    ``cells`` seeded points, each one colour of ``FLAT_PALETTES[palette]``, hard edges, no texture."""
    rng = np.random.default_rng(seed + list(FLAT_PALETTES).index(palette))  # each its own layout
    colours = np.array(FLAT_PALETTES[palette], np.uint8)
    points = rng.uniform(0, size, (cells, 2)).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    nearest = np.argmin((xx[..., None] - points[:, 0]) ** 2 + (yy[..., None] - points[:, 1]) ** 2, axis=-1)
    return colours[rng.integers(0, len(colours), cells)][nearest]


def place(person: np.ndarray, alpha: np.ndarray, size: tuple[int, int], dx: float, dy: float,
          height_share: float = 0.92) -> tuple[np.ndarray, np.ndarray]:
    """The cut-out scaled to ``height_share`` of the frame height, bottom-aligned and horizontally
    centred, shifted by ``(dx, dy)`` output pixels (sub-pixel). Returns ``(rgb float32, alpha)`` at ``size``."""
    h, w = size
    scale = height_share * h / person.shape[0]
    ph, pw = person.shape[:2]
    tx = (w - pw * scale) / 2 + dx
    ty = h - ph * scale + dy
    matrix = np.array([[scale, 0, tx], [0, scale, ty]], np.float32)
    rgb = cv2.warpAffine(person.astype(np.float32), matrix, (w, h), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    a = cv2.warpAffine(alpha, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    # the photo's bottom edge continues below the frame: extend the alpha there
    if dy < 0:
        a[int(h + dy):] = np.maximum(a[int(h + dy):], a[int(h + dy) - 1:int(h + dy)])
    return rgb, np.clip(a, 0, 1)


def composite(background: np.ndarray, rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``alpha * rgb + (1 - alpha) * background`` as float32."""
    return alpha[..., None] * rgb + (1 - alpha[..., None]) * background.astype(np.float32)


def add_noise(image: np.ndarray, rng: np.random.Generator, sigma: float = NOISE_SIGMA) -> np.ndarray:
    """``image`` (float32, 0-255) plus Gaussian sensor noise, as ``uint8``."""
    return np.clip(image + rng.normal(0, sigma, image.shape) + 0.5, 0, 255).astype(np.uint8)


def build_clip(name: str, person: np.ndarray, alpha: np.ndarray, size: tuple[int, int], still: int, moving: int,
               face_finder: Callable[[np.ndarray, np.ndarray], Box | None] | None = None, seed: int = SEED,
               settle: int = 0, wall: np.ndarray | None = None) -> Clip:
    """``still`` frames of a still person, ``moving`` frames of a person swaying by 8 % of the frame
    width (one full period) and bobbing by 1.5 % of its height, then ``settle`` still frames (back at
    the start), with fresh noise every frame, before ``wall`` (default: the drawn ``room``)."""
    h, w = size
    rng = np.random.default_rng(seed)
    wall = room(size, seed) if wall is None else wall
    frames, alphas = [], []
    clean_still, still_alpha = None, None
    for t in range(still + moving + settle):
        phase = 0.0 if t < still or t >= still + moving else 2 * np.pi * (t - still + 1) / moving
        dx, dy = 0.08 * w * np.sin(phase), 0.015 * h * (1 - np.cos(phase))
        rgb, a = place(person, alpha, size, dx, dy)
        clean = composite(wall, rgb, a)
        if t == 0:
            clean_still, still_alpha = np.clip(clean + 0.5, 0, 255).astype(np.uint8), a
        frames.append(add_noise(clean, rng))
        alphas.append(a)
    face = face_finder(clean_still, still_alpha) if face_finder is not None else None
    plate_rng = np.random.default_rng(seed + 1)
    plate = [add_noise(wall.astype(np.float32), plate_rng) for _ in range(still)]
    return Clip(name, frames, alphas, still, face, plate, moving)
