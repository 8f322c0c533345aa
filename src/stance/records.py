"""Typed records from JSONL files, every bad line reported as ``file:line: problem``.

Shared by the labelled corpus (``labels.py``) and findings files (``report.py``), so both
validate at the edge the same way and name faults the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ValidationError

from .errors import Problem


def first_error(exc: ValidationError) -> str:
    """The first validation error as ``field: message``."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "record"
    return f"{where}: {err['msg']}"


def iter_records(path: Path, model: type[BaseModel], problems: list[Problem]) -> Iterator[tuple[int, BaseModel]]:
    """Yield ``(line number, record)`` for each valid line; append a Problem for each bad one."""
    with Path(path).open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(Problem(str(path), line_no, f"invalid JSON ({exc.msg}): fix or remove the line"))
                continue
            if not isinstance(raw, dict):
                problems.append(Problem(str(path), line_no, "expected a JSON object"))
                continue
            try:
                yield line_no, model.model_validate(raw)
            except ValidationError as exc:
                problems.append(Problem(str(path), line_no, first_error(exc)))
