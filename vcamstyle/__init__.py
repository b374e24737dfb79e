"""vcamstyle: a live style-transfer virtual camera.

The daemon reads the physical webcam, segments the person, renders the person and the background
with independent effects (artistic style, blur, colour, image) and publishes the result as a virtual
camera.

Where things live (each package's ``__init__`` says more and lists its public names):

- ``cli``: the ``vcamstyle`` command (parse, call, turn errors into exit codes; nothing else); ``cli_setup``:
  its ``setup`` and ``service`` groups; ``cli_support``: what both share (help style, errors to exit codes).
- ``config/``: the YAML configuration: schema, loading, validation messages, diffs (no torch).
- ``daemon/``: the daemon's lifecycle: run loop and live reload, start/stop/status, runtime files.
- ``devices/``: camera input (``camera``) and virtual-camera output (``virtualcam``, v4l2loopback).
- ``pipeline/``: the per-frame pipeline: pure core, scene building, compositing, user pictures.
- ``models/``: segmenters and style networks behind a registry; ``models/weights/``: weight files.
- ``control/``: the local control page (loopback HTTP: live preview, style gallery, every setting).
- ``bench/``: the benchmark runners behind ``vcamstyle bench``.
- ``commands/``: one-shot commands that combine the packages (``render``, ``doctor``).
- Foundations used by every package: ``errors`` (the error types and their hints), ``paths`` (XDG
  and bundled files), ``frames`` (frame layout/dtype conversions), ``compute`` (device, precision,
  allocator policy), ``public`` (lazy package faces).

Imports point down the list ``cli -> bench -> commands -> daemon -> control -> devices, pipeline -> models -> config
-> foundations`` (tests/test_architecture.py checks it).
"""

__version__ = "0.1.0"
