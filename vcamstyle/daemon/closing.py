"""Closing the daemon's parts at shutdown: each to completion, in order, one failure never keeping the rest open."""

from __future__ import annotations

import logging
import time
from typing import Callable, Iterable, Optional

log = logging.getLogger(__name__)

#: A part whose close takes longer than this is named in the log with its time.
SLOW_CLOSE_LOG_S = 1.0


def close_in_order(parts: Iterable[tuple[str, Optional[Callable[[], object]]]]) -> None:
    """Call every ``(name, closer)``'s closer in order (``None``: nothing to close), however long each
    takes; a failing closer is logged with its traceback and the next one still runs."""
    for part, closer in parts:
        if closer is None:
            continue
        began = time.monotonic()
        try:
            closer()
        except Exception as exc:  # one failing part must not keep the others open (logged with its traceback)
            log.error("closing the %s failed: %s", part, exc, exc_info=exc)
        took = time.monotonic() - began
        if took > SLOW_CLOSE_LOG_S:
            log.info("closing the %s took %.1f s", part, took)
