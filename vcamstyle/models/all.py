"""Imports every model module so that each registers itself. Add new model modules here."""

from vcamstyle.models import adain, avatarnet, magenta, sanet, selfie, unet  # noqa: F401
