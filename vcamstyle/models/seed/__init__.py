"""The seed project's networks, loading their published checkpoints unchanged (strictly).

- ``adain``, ``sanet``, ``avatarnet`` (+ ``avatarnet_network``, ``avatarnet_decorator``): the three
  arbitrary-style networks; ``vgg``: the normalised VGG-19 encoder and decoder AdaIN and SANet share.
- ``baseline``: the seed's per-frame algorithm rebuilt from these networks (``bench --seed-baseline``).

Internal to ``vcamstyle.models``: other packages use ``vcamstyle.models``.
"""
