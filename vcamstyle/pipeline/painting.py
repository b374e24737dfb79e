"""The style network's step of a frame, at low resolution: stylize, spare the face, keep the colours,
smooth where still, and fit the guided upsampling. What ``Painter.paint`` returns (``Painted``) serves
the frame it was made from and, with ``style.schedule: async``, the frames after it until the next one
is ready: the guided filter's local fits ``output ~ a * grey(guide) + b`` are applied to each new
full-resolution frame as the guide (``composite_cv.guided_blend``), so edges come from the current frame.

Tensors: network input ``1x3xhxw`` float in [0, 1]; mask ``1x1xhxw`` float in [0, 1] (1 = person);
pictures ``Bx3xhxw`` float32 in [0, 1]. Runs on whatever thread calls it (``StyleWorker``'s in async).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vcamstyle.models import RegionStyle, Stylizer
from vcamstyle.pipeline import composite, composite_cv


@dataclass(frozen=True)
class PaintJob:
    """One frame's network input: ``content`` ``1x3xhxw`` and the mask at its size ``1x1xhxw``."""

    content: torch.Tensor
    mask: torch.Tensor


@dataclass(frozen=True)
class Painted:
    """The stylized pictures (``Bx3xhxw``: one for every styled region, or the person's then the
    background's), their guide (the network input, ``1x3xhxw``) and, where the fused compositor will use
    them, the guided fits of the first and last picture (``composite_cv.guided_fits``)."""

    styled: torch.Tensor
    guide: torch.Tensor
    fits: list[tuple[np.ndarray, np.ndarray]] | None = None


class Painter:
    """The style step with its temporal state (the last ``(content, stylized)`` for still smoothing)."""

    def __init__(self, stylizer: Stylizer, person: RegionStyle | None, background: RegionStyle | None,
                 face_strength: float | None, preserve_color: bool, smoothing: float, fit: bool) -> None:
        """``fit``: also compute the guided fits (the CPU's fused compositor, both regions styled)."""
        self.stylizer = stylizer
        self.person, self.background = person, background
        self.face_strength, self.preserve_color, self.smoothing, self.fit = face_strength, preserve_color, smoothing, fit
        self._state: tuple[torch.Tensor, torch.Tensor] | None = None

    def reset(self) -> None:
        self._state = None

    @property
    def spares_face(self) -> bool:
        """Whether the person is styled with a lower strength on the face (``face_strength``)."""
        style = self.person
        return (style is not None and self.face_strength is not None and style.strength > 0
                and self.face_strength < style.strength)

    @torch.inference_mode()
    def paint(self, job: PaintJob) -> Painted:
        small, small_mask = job.content, job.mask
        styled = self.stylizer.stylize(small, small_mask, self.person, self.background)
        styled = self._spare_face(styled, small, small_mask)
        if self.preserve_color:
            styled = composite.preserve_color(styled, small)
        if self.smoothing > 0:
            styled = composite.still_smoothing(styled, small, self._state, self.smoothing)
            self._state = (small, styled)
        fits = None
        if self.fit:
            fits = composite_cv.guided_fits(styled[::max(1, styled.shape[0] - 1)], small)
        return Painted(styled, small, fits)

    def _spare_face(self, styled: torch.Tensor, content: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``styled`` with the face region taken back towards ``content`` so that the face's effective
        strength is ``face_strength`` (the stylizer gave it the person's). ``styled``: ``Bx3xhxw`` in [0,1],
        the person's picture first; only that one changes. When one picture serves both regions and the
        background is styled too, the background keeps the unspared picture as a second one: the face
        region reaches the feathered edge, where the background's side would show the spared face's
        content (up to 69/255 off the background's style where the mask is 0.2-0.5)."""
        if not self.spares_face:
            return styled
        person = self.person
        face = composite.face_region(mask.float())
        spared = torch.lerp(styled[:1], content.to(styled.dtype),
                            face.mul_(1 - self.face_strength / person.strength).to(styled.dtype))
        if styled.shape[0] > 1:
            return torch.cat([spared, styled[1:]])
        return torch.cat([spared, styled]) if self.background is not None else spared
