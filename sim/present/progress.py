"""The progress bar the command line shows on a terminal while replications run."""

from __future__ import annotations

import contextlib

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text

__all__ = ["progress_bar"]


class _RateColumn(ProgressColumn):
    """Replications per second, over rich's recent window."""

    def render(self, task) -> Text:
        return Text("" if not task.speed else f"{task.speed:.2f} reps/s")


@contextlib.contextmanager
def progress_bar(enabled: bool, console: Console | None = None):
    """A progress bar on the terminal; yields ``update(done, total)`` (a no-op when not enabled)."""
    if not enabled:
        yield lambda done, total: None
        return
    bar = Progress(TextColumn("replications"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
                   TextColumn("left"), TimeRemainingColumn(), console=console or Console(stderr=True),
                   transient=True)
    with bar:
        task = bar.add_task("replications", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
