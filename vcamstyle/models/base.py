"""The contracts every segmenter and stylizer fulfils.

Tensor conventions (see ``vcamstyle.frames``): images are ``1x3xHxW float32`` RGB in [0, 1] on the
model's device; masks are ``1x1xHxW float32`` in [0, 1] with 1 = person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

import torch


@runtime_checkable
class Segmenter(Protocol):
    """Person segmentation."""

    name: str

    def preferred_size(self, height: int, width: int) -> tuple[int, int]:
        """The (h, w) a ``height x width`` frame should be shrunk to before ``segment`` (the caller
        does it with a fast area filter on ``uint8``; ``segment`` then has no resizing left to do)."""
        ...

    def segment(self, frame: torch.Tensor) -> torch.Tensor:
        """``1x3xHxW`` RGB [0,1] -> soft person mask ``1x1xhxw`` in [0,1].

        ``h x w`` is the model's working resolution (letterbox padding, if any, already removed); the
        caller resizes the mask to the frame's ``H x W``, which also undoes any aspect-ratio squash.
        """
        ...


@dataclass(frozen=True)
class RegionStyle:
    """A region's style: an encoded style (method-specific, from ``encode_style``/``blend_codes``) and
    a strength in [0, 1] (0 = the region's original content, 1 = full style)."""

    code: Any
    strength: float = 1.0


@runtime_checkable
class Stylizer(Protocol):
    """Arbitrary-style transfer with per-region styles.

    ``encode_style`` runs once per style image (off the frame loop, cached by the caller);
    ``stylize`` runs once per frame and encodes the content once.
    """

    name: str
    #: H and W of ``stylize``'s input are padded internally to this multiple; callers may pass any size.
    size_multiple: int

    def style_size(self, height: int, width: int) -> tuple[int, int]:
        """The (H, W) ``encode_style`` resizes a ``height x width`` style image to (long side at most
        ``style_shape.STYLE_LONG_CAP``); raises ``StyleImageError`` for a shape the method refuses.
        Callers load the picture at this size, so the file is resampled once."""
        ...

    def encode_style(self, image: torch.Tensor) -> Any:
        """``1x3xHxW`` RGB [0,1] style image -> an opaque style code for this method."""
        ...

    def blend_codes(self, codes: Sequence[Any], weights: Sequence[float]) -> Any:
        """Weighted blend of several style codes (weights are normalised to sum to 1)."""
        ...

    def stylize(
        self,
        content: torch.Tensor,
        mask: torch.Tensor,
        person: RegionStyle | None,
        background: RegionStyle | None,
    ) -> torch.Tensor:
        """Paint ``content`` (``1x3xHxW``, RGB [0,1]) with ``person`` where ``mask`` (``1x1xHxW``) is 1 and
        ``background`` where it is 0, in one pass where the method allows it.

        A ``None`` region is not styled (its pixels are unspecified in the output; the caller composites
        another effect there). Returns ``Bx3xHxW`` RGB in [0,1], same size as ``content``: ``B`` 1, one
        picture for every styled region (mixed by ``mask`` if the method mixes in one picture), or ``B``
        2, the person's picture then the background's, each the whole frame in that region's style
        (the caller composites them with its full-resolution mask).
        """
        ...
