"""Imports every model module so that each registers itself. Add new model modules here."""

from vcamstyle.models.magenta import stylizer  # noqa: F401
from vcamstyle.models.seed import adain, avatarnet, sanet  # noqa: F401
from vcamstyle.models.segmenters import selfie, unet  # noqa: F401
