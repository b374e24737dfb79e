"""``vcamstyle render``'s progress line on a terminal: frames done of the total, fps, time left (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text


class FpsColumn(ProgressColumn):
    """Frames per second, averaged by rich over the last seconds."""

    def render(self, task: Any) -> Text:
        return Text(f"{task.speed or 0:.1f} fps")


class RenderProgress:
    """A context manager around one rich ``Progress`` task; ``advance()`` once per rendered frame.
    ``console``: where it draws (the CLI passes stderr only when that is a terminal)."""

    def __init__(self, console: Console, name: str, total: int | None) -> None:
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("frames"), FpsColumn(), TextColumn("left"), TimeRemainingColumn(),
                                  console=console, transient=False)
        self._task = self._progress.add_task(name, total=total or None)

    def __enter__(self) -> "RenderProgress":
        self._progress.start()
        return self

    def advance(self) -> None:
        self._progress.advance(self._task)

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()


class NoProgress:
    """The same interface, silent (output is not a terminal)."""

    def __enter__(self) -> "NoProgress":
        return self

    def advance(self) -> None:
        """Nothing to draw."""

    def __exit__(self, *exc_info: object) -> None:
        """Nothing to stop."""


def progress_for(console: Console | None, name: str, total: int | None) -> RenderProgress | NoProgress:
    """A drawing progress on ``console``, or a silent one when there is none."""
    return RenderProgress(console, name, total) if console is not None else NoProgress()
