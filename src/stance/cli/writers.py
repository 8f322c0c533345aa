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
from typing import TYPE_CHECKING, TextIO

from ..config import AUTHOR
from ..errors import StanceError
from ..pipeline.findings import EXTRA_KEYS, FINDING_KEYS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..labels.registry import Registry
    from ..pipeline.findings import Position
    from ..pipeline.scoring import ArticleResult, CorpusResult

FORMATS = ("table", "jsonl", "json", "csv")
_STANCE_STYLE = {"support": "green", "oppose": "red", "neutral": "dim"}
_INFERRED_NOTE = "  * side inferred from a title, nationality or organisation (not in the actor registry)"


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
    """Rich tables for people: colour on a terminal, plain text in a file or a pipe.

    Holders are shown by their display names (the registry's, or the name a new actor was
    found under); a side read from a title or nationality is marked ``*``. Evidence lines
    wrap to the terminal, and a sentence that gives several holders the same position (a
    joint statement) is listed once with all of them.
    """

    def __init__(
        self,
        stream: TextIO,
        topics: list[str],
        color: bool | None = None,
        width: int | None = None,
        registry: Registry | None = None,
    ):
        from rich.console import Console

        super().__init__(stream, topics)
        self.registry = registry
        self.names: dict[str, str] = {}  # new actors' names, from every article so far
        self.inferred: set[str] = set()  # actors whose side was inferred
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
        self.names.update({n.id: n.name for n in result.new_actors})
        inferred = {f.actor for f in result.findings if f.side_inferred}
        self.inferred |= inferred
        if not result.positions:
            self.console.print("  no positions found", style="dim")
            return
        self.console.print(self.pivot(result.positions, "actor", inferred=inferred))
        self.console.print(self.pivot(result.sides, "side"))
        self.console.print(self.evidence(result.positions))
        if inferred & {p.actor for p in result.positions}:
            self.console.print(_INFERRED_NOTE, style="dim")

    def name(self, actor: str) -> str:
        """The display name of a holder: registry name, new actor's name, else its id."""
        if self.registry is not None and actor in self.registry.actors and actor != AUTHOR:
            return self.registry.name_of(actor)
        return self.names.get(actor, actor)

    def evidence(self, positions: list[Position]):
        """One entry per evidence sentence and position: holders who share the sentence, the
        topic and the stance (a joint statement) are one entry; the sentence wraps, indented."""
        from rich.console import Group
        from rich.padding import Padding
        from rich.text import Text

        groups: dict[tuple, list[Position]] = {}
        for p in positions:
            groups.setdefault((p.evidence_article, p.evidence_sentence, p.topic, p.stance), []).append(p)
        parts = [Text("evidence", style="bold")]
        for (_, sentence, topic, stance), ps in groups.items():
            confs = sorted(p.confidence for p in ps)
            conf = f"{confs[0]:.2f}" if confs[-1] - confs[0] < 0.005 else f"{confs[0]:.2f}–{confs[-1]:.2f}"
            who = Text(", ".join(self.name(p.actor) for p in ps) + f" · {topic} · ")
            who.append(stance, style=_STANCE_STYLE[stance])
            who.append(f" {conf} — s{sentence}:")
            said = Text(" ".join(ps[0].evidence.split()), style="italic")
            parts += [Padding(who, (0, 0, 0, 2), expand=False), Padding(said, (0, 0, 0, 6), expand=False)]
        return Group(*parts)

    def pivot(
        self, rows: list[Position], first: str, title: str = "", by_date: bool = False, inferred: set[str] | None = None
    ):
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
        marked = self.inferred if inferred is None else inferred
        for (date, actor, side), by_topic in cells.items():
            if first == "actor":
                who = [self.name(actor), f"{side}*" if actor in marked else side]
            else:
                who = [actor]
            head = ([date or ""] if by_date else []) + who
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
                if self.inferred & {p.actor for p in tables["positions"]}:
                    self.console.print(_INFERRED_NOTE, style="dim")
                self.console.print(self.pivot(tables["sides"], "side", title="sides (all articles)"))
                self.console.print(self.pivot(tables["sides_by_date"], "side", title="sides by date", by_date=True))
        super().finish()


def make_writer(
    fmt: str, stream: TextIO, topics: list[str], color: bool | None = None, registry: Registry | None = None
) -> Writer:
    """A writer for ``fmt``; ``registry`` gives the table its display names."""
    writers = {"jsonl": JsonlWriter, "json": JsonWriter, "csv": CsvWriter, "table": TableWriter}
    if fmt not in writers:
        raise StanceError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt == "table":
        return TableWriter(stream, topics, color=color, registry=registry)
    return writers[fmt](stream, topics)


def default_format(stream: TextIO | None = None) -> str:
    """``table`` for a person at a terminal, ``jsonl`` for a pipe or a file."""
    stream = stream or sys.stdout
    return "table" if hasattr(stream, "isatty") and stream.isatty() else "jsonl"


def ProgressReporter(enabled: bool | None = None, after_seconds: float = 1.5):  # noqa: N802 - the older class name
    """The scoring display without a known total (:class:`~stance.cli.progress.ScoreDisplay`)."""
    from .progress import ScoreDisplay

    return ScoreDisplay(None, enabled=enabled, after_seconds=after_seconds)


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
