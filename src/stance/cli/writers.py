"""Write results for people and programs: table, JSONL, JSON or CSV, streaming.

In: :class:`~stance.pipeline.scoring.ArticleResult` records as they are scored, then the
:class:`~stance.pipeline.scoring.CorpusResult` for the corpus summary (or any pandas
frame, for ``frame_table``). Out: text on a stream.

- ``table``: per article, the actor × topic table (stance, confidence, supporting
  sentences) and its evidence sentences, the side roll-up; for several articles, the
  corpus table and the sides per date at the end (rich).
- ``jsonl``: one object per finding (:data:`stance.pipeline.findings.FINDING_KEYS` first).
- ``json``: one document: per-article summaries with their findings, then the corpus.
- ``csv``: the findings as a table.

Files go through :func:`stance.io.atomic_output`, so a failed run leaves no half file.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from typing import TYPE_CHECKING, TextIO

from ..errors import StanceError
from ..pipeline.findings import EXTRA_KEYS, FINDING_KEYS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..pipeline.findings import Position
    from ..pipeline.scoring import ArticleResult, CorpusResult

FORMATS = ("table", "jsonl", "json", "csv")
_STANCE_STYLE = {"support": "green", "oppose": "red", "neutral": "dim"}
_EVIDENCE_CHARS = 160


class Writer:
    """Base: ``article()`` for each result as it comes, ``finish()`` once at the end."""

    def __init__(self, stream: TextIO, topics: list[str]):
        self.stream = stream
        self.topics = topics

    def article(self, result: ArticleResult) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def finish(self, corpus: CorpusResult | None = None) -> None:
        self.stream.flush()


class JsonlWriter(Writer):
    def article(self, result: ArticleResult) -> None:
        for f in result.findings:
            self.stream.write(json.dumps(f.to_dict(), ensure_ascii=False) + "\n")


class CsvWriter(Writer):
    def __init__(self, stream: TextIO, topics: list[str]):
        super().__init__(stream, topics)
        self.csv = csv.DictWriter(stream, fieldnames=[*FINDING_KEYS, *EXTRA_KEYS], lineterminator="\n")
        self.csv.writeheader()

    def article(self, result: ArticleResult) -> None:
        for f in result.findings:
            self.csv.writerow(f.to_dict())


class JsonWriter(Writer):
    """``{"articles": [...], "corpus": {...}}``, written as it goes (memory stays flat)."""

    def __init__(self, stream: TextIO, topics: list[str]):
        super().__init__(stream, topics)
        self.n = 0
        stream.write('{"topics": ' + json.dumps(topics) + ',\n "articles": [\n')

    def article(self, result: ArticleResult) -> None:
        obj = result.summary()
        obj["findings"] = [f.to_dict() for f in result.findings]
        self.stream.write(("" if self.n == 0 else ",\n") + json.dumps(obj, ensure_ascii=False))
        self.n += 1

    def finish(self, corpus: CorpusResult | None = None) -> None:
        summary = corpus.summary() if corpus is not None else {}
        self.stream.write('\n ],\n "corpus": ' + json.dumps(summary, ensure_ascii=False) + "}\n")
        super().finish()


class TableWriter(Writer):
    """Rich tables for people: colour on a terminal, plain text in a file or a pipe."""

    def __init__(self, stream: TextIO, topics: list[str], color: bool | None = None, width: int | None = None):
        from rich.console import Console

        super().__init__(stream, topics)
        tty = stream.isatty() if hasattr(stream, "isatty") else False
        color = tty if color is None else color
        self.console = Console(
            file=stream,
            width=width or (None if tty else 120),
            color_system="auto" if color else None,
            force_terminal=color,
            highlight=False,
            soft_wrap=False,
        )
        self.n = 0

    def article(self, result: ArticleResult) -> None:
        from rich.text import Text

        a = result.article
        head = Text(a.id, style="bold")
        if a.title:
            head.append(f" — {a.title}")
        head.append(
            f"  ({a.date or 'no date'}; {len(result.sentences)} sentences, {len(result.findings)} findings)",
            style="dim",
        )
        if self.n:
            self.console.print()
        head.truncate(self.console.width, overflow="ellipsis")
        self.console.print(head, no_wrap=True)
        self.n += 1
        if not result.positions:
            self.console.print("  no positions found", style="dim")
            return
        self.console.print(self.pivot(result.positions, "actor"))
        self.console.print(self.pivot(result.sides, "side"))
        self.console.print(Text("evidence", style="bold"))
        for p in result.positions:
            line = Text(f"  {p.actor} · {p.topic} · ")
            line.append(p.stance, style=_STANCE_STYLE[p.stance])
            line.append(f" {p.confidence:.2f} — s{p.evidence_sentence}: ")
            line.append(_clip(p.evidence), style="italic")
            # One line per cell of the table: the sentence is cut to the terminal's width.
            line.truncate(self.console.width, overflow="ellipsis")
            self.console.print(line, no_wrap=True)

    def pivot(self, rows: list[Position], first: str, title: str = "", by_date: bool = False):
        """An actor (or side) × topic table; each cell: stance, confidence, ×sentences."""
        from rich.table import Table
        from rich.text import Text

        table = Table(title=title or None, title_justify="left")
        if by_date:
            table.add_column("date")
        table.add_column(first)
        if first == "actor":
            table.add_column("side")
        topics = self.topics + sorted({r.topic for r in rows} - set(self.topics))
        for t in topics:
            table.add_column(t)
        cells: dict[tuple, dict[str, Position]] = {}
        for r in rows:
            cells.setdefault((r.date, r.actor, r.side), {})[r.topic] = r
        for (date, actor, side), by_topic in cells.items():
            head = ([date or ""] if by_date else []) + [actor] + ([side] if first == "actor" else [])
            row = []
            for t in topics:
                p = by_topic.get(t)
                if p is None:
                    row.append(Text(""))
                else:
                    row.append(
                        Text.assemble(
                            (p.stance, _STANCE_STYLE[p.stance]),
                            f" {p.confidence:.2f} ×{p.sentences}",
                        )
                    )
            table.add_row(*head, *row)
        return table

    def finish(self, corpus: CorpusResult | None = None) -> None:
        from rich.text import Text

        if corpus is not None and corpus.n_articles > 1:
            tables = corpus.tally.summary()
            self.console.print()
            self.console.print(
                Text(
                    f"corpus: {corpus.n_articles} articles, {corpus.n_sentences} sentences, "
                    f"{corpus.n_findings} findings",
                    style="bold",
                )
            )
            if tables["positions"]:
                self.console.print(self.pivot(tables["positions"], "actor", title="actors (all articles)"))
                self.console.print(self.pivot(tables["sides"], "side", title="sides (all articles)"))
                self.console.print(self.pivot(tables["sides_by_date"], "side", title="sides by date", by_date=True))
        super().finish()


def make_writer(fmt: str, stream: TextIO, topics: list[str], color: bool | None = None) -> Writer:
    writers = {"jsonl": JsonlWriter, "json": JsonWriter, "csv": CsvWriter, "table": TableWriter}
    if fmt not in writers:
        raise StanceError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt == "table":
        return TableWriter(stream, topics, color=color)
    return writers[fmt](stream, topics)


def default_format(stream: TextIO | None = None) -> str:
    """``table`` for a person at a terminal, ``jsonl`` for a pipe or a file."""
    stream = stream or sys.stdout
    return "table" if hasattr(stream, "isatty") and stream.isatty() else "jsonl"


class ProgressReporter:
    """A progress line on stderr, only on a terminal and only once a batch runs long."""

    def __init__(self, enabled: bool | None = None, after_seconds: float = 1.5):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.after = after_seconds
        self.started = time.monotonic()
        self.progress = None
        self.task = None

    def update(self, articles: int, sentences: int) -> None:
        if not self.enabled:
            return
        if self.progress is None:
            if time.monotonic() - self.started < self.after:
                return
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task("scoring")
        self.progress.update(self.task, description=f"scoring: {articles} articles, {sentences} sentences")

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


def _clip(text: str, n: int = _EVIDENCE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def frame_table(frame: pd.DataFrame, title: str = ""):
    """A rich Table of a frame, its index shown as the first column(s)."""
    import pandas as pd
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    flat = frame.reset_index()
    for i, col in enumerate(flat.columns):
        table.add_column(str(col), justify="left" if i < frame.index.nlevels else "right")
    for row in flat.itertuples(index=False):
        table.add_row(*(_cell(v, pd) for v in row))
    return table


def _cell(v, pd) -> str:
    if not isinstance(v, (list, dict)) and pd.isna(v):
        return ""
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else f"{v:.3f}"
    return str(v)
