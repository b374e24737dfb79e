"""The configuration: schema, loading, validation with precise messages, diffing, the template.

One YAML file (default ``$XDG_CONFIG_HOME/vcamstyle/config.yaml``) describes the camera, the virtual
camera, the person mask and the effect of each region (person, background). ``load_config`` returns an
immutable ``Config`` whose relative paths are already resolved; every failure raises
``ConfigValidationError`` (a ``ConfigError``) naming the file, the key path, what was expected and
what was found, one problem per line. ``diff_stages`` tells the live reload which pipeline stages a
change touches. This package must stay light: no torch, no model imports.

Layout (each module imports only the ones above it):

- ``vocab``: known names, allowed values, stage names.
- ``checks``: value checks raising ``_Problem`` messages; the annotated field types.
- ``schema``: the pydantic models (``Config`` and its sections).
- ``keys``: key paths of the schema (``schema_keys``).
- ``report``: ``ConfigValidationError``; pydantic errors translated to key-path messages.
- ``yaml_reader``: YAML parsing with line positions, duplicate keys, syntax errors.
- ``resolve``: relative paths made absolute.
- ``load``: ``load_config``, ``parse_config``, ``override``, ``dump_default``, ``ensure_config``.
- ``diff``: ``leaf_values``, ``changed_keys``, ``diff_stages``, ``KEY_STAGES``.
- ``output_overlap``: ``output.path`` refused when it is a file the configuration reads.
"""

from __future__ import annotations

# Besides ``__all__`` (unchanged by the split), the field types, the literal aliases and ``paths``
# stay importable from here as before (tests patch ``vcamstyle.config.paths.bundled_styles_dir``).
from vcamstyle import paths
from vcamstyle.config.checks import (
    FilePath,
    Flag,
    Fps,
    OptionalFilePath,
    OptionalFps,
    OptionalSize,
    Size,
    describe,
)
from vcamstyle.config.diff import KEY_STAGES, changed_keys, diff_stages, leaf_values
from vcamstyle.config.keys import schema_keys
from vcamstyle.config.load import dump_default, ensure_config, key_line, load_config, override, parse_config
from vcamstyle.config.output_overlap import check_output_not_input, input_files, output_overlaps, same_file
from vcamstyle.config.report import ConfigValidationError
from vcamstyle.config.resolve import resolve_path, resolve_paths
from vcamstyle.config.schema import (
    BackgroundRegion,
    CameraConfig,
    Config,
    ControlConfig,
    OutputConfig,
    PersonRegion,
    Region,
    SegmentationConfig,
    StyleConfig,
    StyleRef,
)
from vcamstyle.config.vocab import (
    EFFECTS,
    FOURCCS,
    KNOWN_BACKENDS,
    KNOWN_SEGMENTERS,
    KNOWN_STYLIZERS,
    OUTPUT_FORMATS,
    REGION_NAMES,
    STAGES,
    VIDEO_FILE_SUFFIXES,
    Effect,
    Fourcc,
    OutputFormat,
    RegionName,
)

__all__ = [
    "BackgroundRegion",
    "CameraConfig",
    "Config",
    "ConfigValidationError",
    "ControlConfig",
    "EFFECTS",
    "FOURCCS",
    "KEY_STAGES",
    "KNOWN_BACKENDS",
    "KNOWN_SEGMENTERS",
    "KNOWN_STYLIZERS",
    "OUTPUT_FORMATS",
    "OutputConfig",
    "PersonRegion",
    "REGION_NAMES",
    "Region",
    "STAGES",
    "SegmentationConfig",
    "StyleConfig",
    "StyleRef",
    "VIDEO_FILE_SUFFIXES",
    "changed_keys",
    "check_output_not_input",
    "describe",
    "diff_stages",
    "dump_default",
    "ensure_config",
    "input_files",
    "key_line",
    "leaf_values",
    "load_config",
    "output_overlaps",
    "override",
    "parse_config",
    "resolve_path",
    "resolve_paths",
    "same_file",
    "schema_keys",
]
