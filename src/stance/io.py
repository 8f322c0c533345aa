"""Files in and out: typed JSONL records and atomic writes, in one place.

In: a JSONL path and a pydantic model, or a target path and a writer. Out: ``(line,
record)`` pairs with every bad line reported as ``file:line: problem``; files that appear
whole or not at all (a temporary file beside the target, then ``os.replace``), so a run
that fails never leaves half a file behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from pydantic import BaseModel, ValidationError

from .errors import Problem, StanceError, first_error, yaml_error


def iter_records(path: Path, model: type[BaseModel], problems: list[Problem]) -> Iterator[tuple[int, BaseModel]]:
    """Yield ``(line number, record)`` for each valid line; append a Problem for each bad one."""
    with Path(path).open(encoding="utf-8") as fh:
        yield from parse_records(fh, str(path), model, problems)


def parse_records(lines, name: str, model: type[BaseModel], problems: list[Problem]) -> Iterator[tuple[int, BaseModel]]:
    """:func:`iter_records` over lines already read (``name`` is used in messages)."""
    for line_no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(name, line_no, f"invalid JSON ({exc.msg}): fix or remove the line"))
            continue
        if not isinstance(raw, dict):
            problems.append(Problem(name, line_no, "expected a JSON object"))
            continue
        try:
            yield line_no, model.model_validate(raw)
        except ValidationError as exc:
            problems.append(Problem(name, line_no, first_error(exc)))


def write_jsonl(path: str | Path, rows) -> Path:
    """Rows (dicts) as JSONL, atomically."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (threads may be
    creating files meanwhile)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _temporary_beside(path: Path) -> Iterator[Path]:
    """A temporary file in ``path``'s folder that replaces ``path`` if the block succeeds.

    The file gets the mode a plain ``open(path, "w")`` would give: the old file's mode when
    it replaces one, else what the umask allows (``mkstemp`` alone would leave 0600).
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then move it into place.

    A reader never sees a half-written file and a failed run leaves the old one intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_beside(path) as tmp:
        write(tmp)
    return path


@contextlib.contextmanager
def atomic_output(path: Path | str | None) -> Iterator[TextIO]:
    """stdout, or a text stream to a file that appears (whole) only if the block succeeds."""
    if path is None or str(path) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    path = Path(path)
    if path.is_dir():
        raise StanceError(f"--out {path} is a folder: name a file")
    if not path.parent.exists():
        raise StanceError(f"--out {path}: folder {path.parent} does not exist")
    with _temporary_beside(path) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def atomic_folder(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(staging)`` on a new folder beside ``path``, then swap it into place:
    readers see the old folder or the whole new one, and a failed write keeps the old."""
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging_root = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    old = path.with_name(f".{path.name}.old")
    try:
        staging = staging_root / path.name
        write(staging)
        shutil.rmtree(old, ignore_errors=True)
        if path.exists():
            path.rename(old)
        staging.rename(path)
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return path


def read_yaml(path: str | Path, what: str):
    """A YAML file's contents (``{}`` when empty), or a one-line ``StanceError`` saying which
    file, which line and what is wrong with ``what`` ("the side cues")."""
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise StanceError(f"{path}: cannot read {what}: {exc}") from exc
    except yaml.YAMLError as exc:
        line, problem = yaml_error(exc)
        raise StanceError(f"{path}:{line}: {problem} in {what}") from exc
