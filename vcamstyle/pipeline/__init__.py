"""The per-frame pipeline: camera frame in, styled frame out.

- ``core``: ``Pipeline``, the pure per-frame core (tensors in, tensors out; no I/O, no threads).
- ``scene``: ``Engine`` turns a configuration into a ``Scene`` (built models, encoded styles, plans).
- ``composite`` (torch) and ``composite_cv`` (OpenCV, uint8): mask post-processing and region effects.
- ``images``: the one loader for user pictures (backgrounds, styles, render inputs).
- ``referenced``: the pictures a configuration names (key paths, stages) and their checks.
- ``framing``: camera frames into an output of another shape (cover / contain, never stretched).
- ``style_size``: ``style.size: auto``, the network resolution chosen from measured frame times.

Frame layout and dtype conversions live in ``vcamstyle.frames``, below every package.
Public face: the names in ``__all__``; other packages import only those.
"""

from vcamstyle.public import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "Pipeline": "core",
    "Engine": "scene",
    "Scene": "scene",
    "load_rgb": "images",
    "load_picture": "images",
    "probe": "images",
    "MAX_PIXELS": "images",
    "changed_references": "scene",
    "changed_stages": "scene",
    "referenced_paths": "scene",
    "region_references": "referenced",
    "check_references": "referenced",
    "fit_frame": "framing",
    "FrameFitter": "framing",
    "aspect_differs": "framing",
    "describe_fit": "framing",
    "AUTO_BOUNDS": "style_size",
    "SizeBounds": "style_size",
    "StyleSizeController": "style_size",
    "size_cost": "style_size",
    "StyleWorker": "style_worker",
    "style_schedule": "scene",
})
