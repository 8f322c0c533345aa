"""User-facing errors: the CLI prints them as one line and exits with their code."""

from __future__ import annotations

from dataclasses import dataclass


class StanceError(Exception):
    """A problem the user can fix (bad input, missing model); never shown as a traceback."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One fault found in an input file, located so an editor can jump to it."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class LabelsError(StanceError):
    """The labelled directory is missing or invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        first = str(problems[0]) if problems else "invalid labels"
        more = f" (and {len(problems) - 1} more; run `stance labels check`)" if len(problems) > 1 else ""
        super().__init__(first + more)
