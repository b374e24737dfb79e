"""The daemon's lifecycle: the frame loop and live reload, and everything that controls or reports on it.

- ``service``: ``Service``, the ``vcamstyle run`` process (frame loop, reload, shutdown).
- ``control``: ``start``/``stop``/``status``/``reload``/``logs`` from another process (systemd or pidfile).
- ``pidfile``, ``statusfile``, ``logfile``: the runtime files; ``sdnotify``: systemd notifications.
- ``watcher``: the config-file watcher; ``signals``: signal handlers that cannot deadlock;
  ``transaction``: a reload's new parts, prepared before the old ones go; ``preflight``: the output
  checked before anything slow; ``file_checks``: the files a configuration names, checked by
  ``config check``, start and reload alike; ``threads``: the network thread-count policy;
  ``metrics``: frame-rate and per-stage timing statistics; ``style_size``: feeds ``style.size: auto``;
  ``closing``: the parts closed in order at shutdown, each to completion.

Public face: the names in ``__all__``; other packages import only those.
"""

from vcamstyle.public import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "Service": "service",
    "camera_settings": "service",
    "output_geometry": "service",
    "control": "control",
    "StageTimes": "metrics",
    "RateMeter": "metrics",
    "percentile": "metrics",
    "threads_for": "threads",
    "reserved_cores": "threads",
    "check_output": "preflight",
    "check_files": "file_checks",
    "one_line_handler": "logfile",
})
