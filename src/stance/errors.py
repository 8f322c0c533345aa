"""User-facing errors: one exception type, located problems, one first-line formatter.

In: faults found anywhere (bad input, a missing model, invalid labels). Out: a
:class:`StanceError` whose message is one line; the CLI prints it and exits with its code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pydantic import ValidationError


class StanceError(Exception):
    """A problem the user can fix (bad input, missing model); never shown as a traceback."""

    exit_code = 2


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler, ``timeout``, a container stop), raised like Ctrl-C.

    A :class:`KeyboardInterrupt` so that every cleanup written for Ctrl-C also runs on
    SIGTERM: MLflow runs end FAILED, temporary files and folders are removed.
    """

    exit_code = 143  # 128 + SIGTERM, what a shell reports for a process SIGTERM ended


@dataclass(frozen=True)
class Problem:
    """One fault found in an input file, located so an editor can jump to it."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ProblemsError(StanceError):
    """Several located problems; the message is the first, with a count of the rest."""

    hint = ""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        first = str(problems[0]) if problems else "invalid input"
        more = f" (and {len(problems) - 1} more{self.hint})" if len(problems) > 1 else ""
        super().__init__(first + more)


class LabelsError(ProblemsError):
    """The labelled directory is missing or invalid; carries every problem found."""

    hint = "; run `stance labels check`"


def first_error(exc: ValidationError) -> str:
    """The first pydantic validation error as ``field: message`` (one line)."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "record"
    if err["type"] == "missing":
        return f"missing '{where}' field"
    return f"{where}: {err['msg'].removeprefix('Value error, ')}"


def yaml_error(exc: Exception) -> tuple[int, str]:
    """The line (1-based; 0 if unknown) and a one-line description of a YAML parse error:
    PyYAML's own message spans several lines with a picture of the text."""
    line = getattr(getattr(exc, "problem_mark", None), "line", -1) + 1
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return line, f"invalid YAML: {problem}"
