"""Weight files of the upstream networks: the catalog, where they live, download, verification.

- ``store``: the catalog (``catalog.json``), the weights directory, ``list_status``/``fetch``/``verify``.
- ``download``: one resumable, verified download from its sources (http, Google Drive, Yandex Disk).
- ``http_get``: one HTTP(S) GET with user-facing errors.
- ``sniff``: what a file with a weights file's name really is, from its first bytes (HTML page,
  truncated archive, TorchScript, ...).

Loading checkpoints is ``checkpoint`` (here); ``verify`` and ``fetch`` trust a file without a
published sum only after ``vcamstyle.models.weights.checkpoint_layout`` has loaded it (``weights_only=True``)
and found the expected keys and shapes.
Public face: the names in ``__all__``.
"""

from vcamstyle.public import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "fetch": "store",
    "list_status": "store",
    "verify": "store",
    "require_files": "store",
    "resolve_weights_dir": "store",
    "sha256_file": "download",
    "sniff_checkpoint": "sniff",
})
