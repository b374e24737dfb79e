"""Models: person segmenters and style networks behind one registry, grouped by kind.

- ``registry``: ``BuildOptions``, ``create_segmenter``/``create_stylizer``, ``list_models``; every model
  module registers its factory at import time (``all`` imports them, loaded by the registry on demand).
- ``base``: the ``Segmenter``/``Stylizer`` protocols and ``RegionStyle``; ``style_shape``: the bounds on
  a style picture's shape; ``stylize_common``: compute policy and helpers every stylizer shares.
- ``segmenters/``: the person segmenters: ``selfie`` (MediaPipe, embedded, the default; its ``.tflite``
  files in ``segmenters/assets``) and ``unet`` (the seed's UNet-ResNet18).
- ``magenta/``: the offline default stylizer (Magenta's arbitrary style network): ``stylizer``,
  ``transformer``, ``norms``, ``ort``, ``onnx_weights``, ``subpixel``.
- ``seed/``: the seed's style networks: ``adain``, ``sanet``, ``avatarnet`` (+ ``avatarnet_network``,
  ``avatarnet_decorator``), their shared ``vgg``, and ``baseline`` (the seed's per-frame algorithm, the
  reference the benchmarks beat).
- ``runtimes/``: what executes graphs: ``tflite_reader``/``tflite_graph``/``tflite_layers`` (a TFLite
  flatbuffer replayed in torch) and ``onnx_export`` (ONNX export, onnxruntime sessions).
- ``weights/``: the weight files: catalog, download, verification, strict ``weights_only`` loading
  (``checkpoint``) and the expected layout of every checkpoint (``checkpoint_layout``).

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
    "SEED_STYLE_SIDE": "seed.baseline",
    "SeedBaseline": "seed.baseline",
    "build_seed_baseline": "seed.baseline",
    "seed_style_square": "seed.baseline",
    "check_seed_method": "seed.baseline",
})
