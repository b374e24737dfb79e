"""The local control page: live preview, style gallery and try-on, every setting, served by the daemon.

- ``server``: ``ControlServer`` (uvicorn on its own thread, 127.0.0.1 only) and ``bind_loopback``.
- ``guard``: the per-start secret, the loopback Host check and the Origin check, in front of everything.
- ``app``: the routes (page, state, settings, gallery, upload, try-on, WebSocket).
- ``preview``: ``PreviewTap``, the frame loop's hook (free while no page watches) and the JPEG encoder.
- ``form``: the settings form generated from the configuration schema and the template's help.
- ``yaml_edit``: round-trip edits of config.yaml, written atomically; ``validate``: as `config check`.
- ``gallery``: bundled and user styles, thumbnails, checked uploads; ``tryon``: styles on your frame.
- ``runtime``: ``control.json`` (address + secret, mode 0600) for ``vcamstyle ui``.

Public face: the names in ``__all__``.
"""

from vcamstyle.public import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "ControlServer": "server",
    "serve_page": "server",
    "PreviewTap": "preview",
    "read_control": "runtime",
    "control_path": "runtime",
})
