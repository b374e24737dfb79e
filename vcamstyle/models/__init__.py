"""Models: person segmenters and style networks behind one registry.

- ``registry``: ``BuildOptions``, ``create_segmenter``/``create_stylizer``, ``list_models``; every model
  module registers its factory at import time (``all`` imports them, loaded by the registry on demand).
- ``base``: the ``Segmenter``/``Stylizer`` protocols and ``RegionStyle``.
- one module per network: ``magenta`` (+ ``magenta_transformer``, ``onnx_weights``), ``adain``, ``sanet``,
  ``avatarnet`` (+ ``avatarnet_network``, ``avatarnet_decorator``), ``selfie`` (+ ``tflite_reader``,
  ``tflite_layers``, ``tflite_graph``), ``unet``; shared pieces: ``vgg``, ``stylize_common``,
  ``subpixel``, ``checkpoint`` (strict, ``weights_only`` loading).
- ``seed_baseline``: the 2020 seed project's per-frame algorithms, the reference the benchmarks beat.
- ``weights/``: the weight files (catalog, download, verification).

Public face: the names in ``__all__``; other packages import only those.
"""

from vcamstyle.public import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "BuildOptions": "registry",
    "create_segmenter": "registry",
    "create_stylizer": "registry",
    "list_models": "registry",
    "RegionStyle": "base",
    "Segmenter": "base",
    "Stylizer": "base",
    "check_style_shape": "style_shape",
    "STYLE_LONG_CAP": "style_shape",
    "SEED_STYLE_SIDE": "seed_baseline",
    "SeedBaseline": "seed_baseline",
    "build_seed_baseline": "seed_baseline",
    "seed_style_square": "seed_baseline",
    "check_seed_method": "seed_baseline",
})
