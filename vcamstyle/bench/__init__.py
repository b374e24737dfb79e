"""The benchmark runners behind ``vcamstyle bench`` (and ``benchmarks/*.py``).

- ``runner``: the pipeline over a camera or file, per-stage times, and the seed comparison.
- ``live``: the real daemon loop in-process (threads, camera pacing, sink): latency and soak.
- ``quality``: image quality on clips built from real photos (``quality_clips``, ``quality_metrics``,
  ``quality_faces``): temporal stability, region independence, halo, mask IoU, face legibility.

Public face: the names in ``__all__``.
"""

from vcamstyle.public import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {"runner": "runner", "live": "live", "quality": "quality"})
