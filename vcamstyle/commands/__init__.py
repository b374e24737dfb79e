"""One-shot commands that combine the packages: ``vcamstyle render`` and ``vcamstyle doctor``.

- ``render``: the daemon's pipeline over an image or video file, written to a file.
- ``config_check``: the referenced pictures ``run`` would refuse, for ``vcamstyle config check``.
- ``ui``: the running daemon's control page, found and opened in the browser (``vcamstyle ui``).
- ``doctor``: checks the machine (devices, group, models, config) and says what to fix.

Public face: the names in ``__all__``.
"""

from vcamstyle.public import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "render_file": "render",
    "read_frames": "render",
    "run_checks": "doctor",
    "check_config_files": "config_check",
    "open_page": "ui",
})
