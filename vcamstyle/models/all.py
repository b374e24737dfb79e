"""Imports every model module so that each registers itself. Add new model modules here."""

# Each import registers its models with vcamstyle.models.registry.
