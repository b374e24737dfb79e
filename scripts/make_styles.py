#!/usr/bin/env python3
"""Generate the bundled style images in config/styles/ procedurally (deterministic, no downloads).

Run: python scripts/make_styles.py [--out config/styles] [--size 512]
Each style is a small function of a seeded random generator, so the images are reproducible and the
project owns them outright (no third-party artwork).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

Image = np.ndarray  # HxWx3 uint8 RGB


def _voronoi_labels(size: int, cells: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    points = rng.uniform(0, size, (cells, 2)).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    best = np.full((size, size), np.inf, np.float32)
    labels = np.zeros((size, size), np.int32)
    for i, (px, py) in enumerate(points):
        d = (xx - px) ** 2 + (yy - py) ** 2
        closer = d < best
        best[closer] = d[closer]
        labels[closer] = i
    return labels, points


def _edges(labels: np.ndarray, width: int) -> np.ndarray:
    edge = np.zeros(labels.shape, np.uint8)
    edge[:-1, :] |= (labels[:-1, :] != labels[1:, :]).astype(np.uint8)
    edge[:, :-1] |= (labels[:, :-1] != labels[:, 1:]).astype(np.uint8)
    return cv2.dilate(edge, np.ones((width, width), np.uint8)) > 0


def _smooth_noise(size: int, rng: np.random.Generator, scales=(4, 8, 16, 32)) -> np.ndarray:
    acc = np.zeros((size, size), np.float32)
    for i, s in enumerate(scales):
        small = rng.random((s, s)).astype(np.float32)
        acc += cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC) / (2 ** i)
    acc -= acc.min()
    return acc / max(acc.max(), 1e-6)


def mosaic(size: int, rng: np.random.Generator) -> Image:
    """Small square tiles in staggered rows with dark grout: the style network reproduces tiles of this
    scale (irregular large cells came out as blobs)."""
    tile, grout = 18, 3
    img = np.full((size, size, 3), (70, 64, 56), np.uint8)
    palette = np.array([[230, 57, 70], [241, 250, 238], [168, 218, 220], [69, 123, 157], [29, 53, 87],
                        [244, 162, 97], [233, 196, 106], [42, 157, 143]], np.float32)
    for y in range(0, size, tile):
        offset = int(rng.integers(0, tile)) if (y // tile) % 2 else 0
        for x in range(-offset, size, tile):
            color = np.clip(palette[rng.integers(len(palette))] + rng.normal(0, 10, 3), 0, 255)
            jx, jy = (int(v) for v in rng.integers(-1, 2, 2))
            cv2.rectangle(img, (x + grout + jx, y + grout + jy), (x + tile - 1 + jx, y + tile - 1 + jy),
                          tuple(int(c) for c in color), -1)
    return img


def waves(size: int, rng: np.random.Generator) -> Image:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    warp = _smooth_noise(size, rng) * 2.5
    phase = np.sin((yy * 14 + np.sin(xx * 9 + warp) * 1.5) * np.pi)
    t = (phase + 1) / 2
    deep, foam = np.array([18, 52, 110], np.float32), np.array([235, 244, 250], np.float32)
    img = deep * (1 - t[..., None]) + foam * t[..., None]
    crest = np.clip((t - 0.85) * 8, 0, 1)[..., None]
    img = img * (1 - crest) + np.array([255, 255, 255], np.float32) * crest
    return img.astype(np.uint8)


def brush_strokes(size: int, rng: np.random.Generator) -> Image:
    img = np.full((size, size, 3), (32, 44, 92), np.uint8)
    flow = _smooth_noise(size, rng, (3, 6)) * np.pi * 2
    palette = np.array([[250, 200, 60], [240, 140, 40], [60, 90, 170], [20, 40, 110], [250, 240, 180], [90, 150, 200]])
    for _ in range(2600):
        x, y = rng.integers(0, size, 2)
        angle = float(np.degrees(flow[y, x]))
        color = tuple(int(c) for c in np.clip(palette[rng.integers(len(palette))] + rng.normal(0, 18, 3), 0, 255))
        cv2.ellipse(img, (int(x), int(y)), (int(rng.integers(10, 26)), int(rng.integers(2, 5))), angle, 0, 360, color, -1, cv2.LINE_AA)
    return img


def pointillism(size: int, rng: np.random.Generator) -> Image:
    img = np.full((size, size, 3), (246, 240, 225), np.uint8)
    base = _smooth_noise(size, rng, (2, 4))
    palette = np.array([[220, 60, 60], [250, 190, 50], [60, 160, 90], [70, 110, 200], [160, 80, 180]])
    for _ in range(9000):
        x, y = rng.integers(0, size, 2)
        idx = int(base[y, x] * (len(palette) - 1) + rng.normal(0, 0.7)) % len(palette)
        cv2.circle(img, (int(x), int(y)), int(rng.integers(2, 5)), tuple(int(c) for c in palette[idx]), -1, cv2.LINE_AA)
    return img


def stained_glass(size: int, rng: np.random.Generator) -> Image:
    """Jewel-coloured Voronoi cells, each brighter at its centre, with thick black leading (thick
    enough, and the cells small enough, that the style network paints the leading too)."""
    labels, points = _voronoi_labels(size, 140, rng)
    jewels = np.array([[200, 25, 45], [25, 80, 190], [240, 185, 25], [25, 150, 80], [130, 35, 160], [235, 100, 25],
                       [235, 235, 215]], np.float32)
    colors = jewels[rng.integers(len(jewels), size=len(points))]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dist = np.hypot(xx - points[labels, 0], yy - points[labels, 1])
    shade = np.clip(1.2 - dist / (size / 14), 0.6, 1.2)[..., None]
    img = np.clip(colors[labels] * shade, 0, 255).astype(np.uint8)
    img[_edges(labels, 9)] = (10, 10, 10)
    return img


def neon(size: int, rng: np.random.Generator) -> Image:
    glow = np.zeros((size, size, 3), np.float32)
    colors = [(255, 40, 200), (40, 240, 255), (180, 255, 60), (255, 120, 30)]
    for _ in range(26):
        pts = np.cumsum(rng.normal(0, size / 10, (8, 2)), axis=0) + rng.uniform(0, size, 2)
        layer = np.zeros_like(glow)
        cv2.polylines(layer, [pts.astype(np.int32)], False, colors[int(rng.integers(len(colors)))], 3, cv2.LINE_AA)
        glow += layer + cv2.GaussianBlur(layer, (0, 0), 7) * 2.5
    return np.clip(glow + np.array([8, 6, 20], np.float32), 0, 255).astype(np.uint8)


def crystals(size: int, rng: np.random.Generator) -> Image:
    img = np.zeros((size, size, 3), np.uint8)
    pts = rng.uniform(-size * 0.1, size * 1.1, (160, 2)).astype(np.float32)
    subdiv = cv2.Subdiv2D((int(-size * 0.2), int(-size * 0.2), int(size * 1.4), int(size * 1.4)))
    for p in pts:
        subdiv.insert((float(p[0]), float(p[1])))
    for tri in subdiv.getTriangleList():
        poly = tri.reshape(3, 2)
        shade = rng.uniform(0.45, 1.0)
        color = np.array([150, 205, 240]) * shade + rng.normal(0, 12, 3)
        cv2.fillConvexPoly(img, np.round(poly).astype(np.int32), tuple(int(c) for c in np.clip(color, 0, 255)), cv2.LINE_AA)
        cv2.polylines(img, [np.round(poly).astype(np.int32)], True, (240, 250, 255), 1, cv2.LINE_AA)
    return img


def ink_wash(size: int, rng: np.random.Generator) -> Image:
    wash = _smooth_noise(size, rng, (3, 6, 12, 48))
    ink = np.clip((wash - 0.35) * 2.2, 0, 1)
    paper = np.array([240, 232, 214], np.float32)
    img = paper * (1 - 0.85 * ink[..., None])
    strokes = np.zeros((size, size), np.uint8)
    for _ in range(40):
        x, y = rng.integers(0, size, 2)
        cv2.ellipse(strokes, (int(x), int(y)), (int(rng.integers(20, 90)), int(rng.integers(2, 7))),
                    float(rng.uniform(0, 180)), 0, int(rng.integers(90, 300)), 255, int(rng.integers(2, 6)), cv2.LINE_AA)
    img *= 1 - 0.8 * (cv2.GaussianBlur(strokes, (0, 0), 1.2)[..., None] / 255.0)
    return np.clip(img, 0, 255).astype(np.uint8)


STYLES = {f.__name__: f for f in (mosaic, waves, brush_strokes, pointillism, stained_glass, neon, crystals, ink_wash)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "config" / "styles")
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for seed, (name, make) in enumerate(STYLES.items()):
        image = make(args.size, np.random.default_rng(1000 + seed))
        cv2.imwrite(str(args.out / f"{name}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
        print(f"wrote {args.out / (name + '.png')}")


if __name__ == "__main__":
    main()
