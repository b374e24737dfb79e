"""One-shot commands that combine the packages: ``render``, ``doctor``, ``setup loopback``, ``service``.

- ``render``: the daemon's pipeline over an image or video file, written to a file.
- ``config_check``: the referenced pictures ``run`` would refuse, for ``vcamstyle config check``.
- ``ui``: the running daemon's control page, found and opened in the browser (``vcamstyle ui``).
- ``doctor``: checks the machine (devices, group, models, config) and says what to fix.
- ``host``: the machine as the set-up commands see it (command runner, root via sudo/pkexec, distribution).
- ``loopback_plan`` / ``loopback_setup``: ``vcamstyle setup loopback`` (the plan, then carrying it out).
- ``user_service``: ``vcamstyle service install | uninstall | status`` (the systemd user unit).

Public face: the names in ``__all__``.
"""

from vcamstyle.public import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "render_file": "render",
    "read_frames": "render",
    "run_checks": "doctor",
    "next_command": "doctor",
    "check_config_files": "config_check",
    "LoopbackOptions": "loopback_plan",
    "setup_loopback": "loopback_setup",
    "install_service": "user_service",
    "uninstall_service": "user_service",
    "service_state": "user_service",
    "open_page": "ui",
})
