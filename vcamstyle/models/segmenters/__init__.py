"""Person segmenters: ``selfie`` (MediaPipe selfie segmentation, embedded, the offline default; its
models and licence in ``assets/``) and ``unet`` (the seed's UNet-ResNet18, published checkpoint).

Internal to ``vcamstyle.models``: other packages use the registry (``vcamstyle.models``).
"""
