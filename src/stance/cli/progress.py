"""Progress of long work on stderr, so stdout carries only results.

In: the events of training (:class:`~stance.training.monitor.TrainingMonitor`) or the counts
of a corpus being scored. Out: on a terminal, rich progress bars with an ETA; elsewhere
(a log file, a scheduler), plain lines at each stage and every tenth of the way.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from ..training.monitor import TrainingMonitor


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _bars(console, known_total: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if known_total:
        columns += [BarColumn(), MofNCompleteColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    columns.append(TimeElapsedColumn())
    return Progress(*columns, console=console)


class TrainDisplay(TrainingMonitor):
    """One bar per stage (the holder model, each family) with steps and ETA; plain lines
    when stderr is not a terminal."""

    def __init__(self, console=None):
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self.live = self.console.is_terminal
        self.bars = _bars(self.console, known_total=True) if self.live else None
        self.task = None
        self.prefix = ""
        self.started = self.last_line = 0.0
        self.last_fraction = 0.0

    def stage(self, name: str, index: int, total: int) -> None:
        self.prefix = f"[{index}/{total}] {name}"
        self.started = self.last_line = time.monotonic()
        self.last_fraction = 0.0
        if self.bars is not None:
            self.bars.start()
            self.task = self.bars.add_task(self.prefix, total=None)
        else:
            self._line(f"{self.prefix}: training")

    def progress(self, done: int, total: int, unit: str = "steps") -> None:
        if self.bars is not None:
            self.bars.update(self.task, completed=done, total=total)
            return
        fraction = done / total if total else 0.0
        now = time.monotonic()
        if done and (fraction - self.last_fraction >= 0.1 or now - self.last_line >= 60) and done < total:
            eta = (now - self.started) * (total - done) / done
            self._line(f"{self.prefix}: {done}/{total} {unit}, ETA {_duration(eta)}")
            self.last_fraction, self.last_line = fraction, now

    def finished(self, name: str, summary: str) -> None:
        if self.bars is not None:
            task = self.bars.tasks[self.task]
            self.bars.update(self.task, description=f"{self.prefix}: {summary}", total=task.total or 1)
            self.bars.update(self.task, completed=task.total or 1)
        else:
            self._line(f"{self.prefix}: {summary}")

    def close(self) -> None:
        if self.bars is not None:
            self.bars.stop()

    def _line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)


class ScoreDisplay:
    """Articles scored out of the expected total, with an ETA (a spinner when the total is
    unknown, as for stdin); only on a terminal and only once scoring runs long.

    ``total`` may be a function: it is called only when the bar first shows, so nothing
    counts the input where no bar will show.
    """

    def __init__(
        self,
        total: int | Callable[[], int | None] | None,
        enabled: bool | None = None,
        after_seconds: float = 1.5,
        console=None,
    ):
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self.enabled = self.console.is_terminal if enabled is None else enabled
        self._total = total
        self.after = after_seconds
        self.started = time.monotonic()
        self.progress = None
        self.task = None

    def update(self, articles: int, sentences: int, failed: int = 0) -> None:
        if not self.enabled:
            return
        if self.progress is None:
            if time.monotonic() - self.started < self.after:
                return
            total = self._total() if callable(self._total) else self._total
            self.progress = _bars(self.console, known_total=bool(total))
            self.progress.start()
            self.task = self.progress.add_task("scoring", total=total or None)
        self.progress.update(
            self.task,
            completed=articles + failed,
            description=f"scoring: {articles} articles, {sentences} sentences",
        )

    def echo(self, line: str) -> None:
        """Print a line on stderr without tearing the progress display."""
        if self.progress is not None:
            self.progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
