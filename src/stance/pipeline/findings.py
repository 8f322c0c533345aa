"""Findings and the one vote that turns them into positions.

In: findings — one (sentence, holder, topic ≠ ``none``) with its stance and confidence —
from the scorer, a findings ``.jsonl`` file or any iterable of records. Out:
:class:`Position` rows — per article, rolled up to sides, and across a corpus overall and
per date — each with a stance, a confidence, the number of supporting sentences and the
best evidence sentence.

:class:`Finding` is the one record of a finding: ``stance score`` writes it, ``stance
report`` and ``stance evaluate`` read it, and all of them aggregate through :func:`vote`.

The vote: each finding adds its confidence to its stance. Support and oppose outrank
neutral — a holder who takes a position in one sentence and only discusses the issue in
three others holds that position — so neutral wins only when no sentence gives a
position. The row's confidence is ``agreement × strength``: the winning stance's share of
the counted weight times the mean confidence of the findings that agree. A :class:`Tally`
keeps running sums, not findings, so corpus tables stay small however long the corpus.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date as _date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..config import AUTHOR, NONE_TOPIC, POLAR, SIDES, STANCES, Stance
from ..errors import Problem, ProblemsError, StanceError, first_error
from ..io import iter_records

# The documented keys of a findings record, in output order; the extras follow them.
FINDING_KEYS = (
    "article",
    "sentence",
    "text",
    "actor",
    "side",
    "topic",
    "stance",
    "confidence",
    "attribution",
    "start",
    "end",
    "date",
)
EXTRA_KEYS = ("paragraph", "topic_confidence", "stance_confidence", "holder_confidence", "side_inferred")
_ROUNDED = ("confidence", "topic_confidence", "stance_confidence", "holder_confidence")


class Finding(BaseModel):
    """One position found: a sentence, its holder, a topic (never ``none``) and a stance."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    article: str
    sentence: int = Field(ge=0)
    text: str
    actor: str = Field(min_length=1)
    side: str
    topic: str = Field(min_length=1)
    stance: Stance
    confidence: float = Field(ge=0.0, le=1.0)  # topic × stance × holder probability
    attribution: str  # how the holder was found: quote | reported | subject | coreference | author
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    date: str | None
    paragraph: int = 0
    topic_confidence: float = 0.0
    stance_confidence: float = 0.0
    holder_confidence: float = 1.0
    # True when the holder is not in the registry and its side was read from its title,
    # nationality or organisation ("Russian Deputy Foreign Minister Alexander Grushko").
    side_inferred: bool = False
    title: str = ""  # the article's title, for reports; not part of the JSONL record

    @field_validator("article", mode="before")
    @classmethod
    def _article_id(cls, v):
        # JSONL corpora may number their articles; an id is a name all the same.
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("topic")
    @classmethod
    def _not_none(cls, v: str) -> str:
        if v == NONE_TOPIC:
            raise ValueError("topic 'none' is not a finding (findings hold a position on a topic)")
        return v

    @field_validator("date", mode="before")
    @classmethod
    def _iso_date(cls, v):
        if v is None or v == "":
            return None
        if not isinstance(v, str):
            raise ValueError("date must be a YYYY-MM-DD string or null")
        try:
            return _date.fromisoformat(v[:10]).isoformat()
        except ValueError:
            raise ValueError(f"date {v!r} is not YYYY-MM-DD") from None

    @field_validator("title", mode="before")
    @classmethod
    def _no_title(cls, v):
        return "" if v is None else v

    def to_dict(self) -> dict[str, Any]:
        """The JSONL record: the documented keys first, then the extras."""
        d = self.model_dump(include={*FINDING_KEYS, *EXTRA_KEYS})
        for k in _ROUNDED:
            d[k] = round(d[k], 4)
        return {k: d[k] for k in (*FINDING_KEYS, *EXTRA_KEYS)}


def record_types() -> dict[str, str]:
    """The type of each key of a findings record (``string``, ``long``, ``double`` or
    ``boolean``), read off :class:`Finding`, for the schemas of the served and Spark outputs."""
    names = {int: "long", float: "double", bool: "boolean"}
    fields = Finding.model_fields
    return {k: names.get(fields[k].annotation, "string") for k in (*FINDING_KEYS, *EXTRA_KEYS)}


class FindingsError(ProblemsError):
    """A findings file or list has invalid records; carries every problem found."""


def load_findings(path: str | Path) -> list[Finding]:
    """Read a findings ``.jsonl`` file; every bad line is reported as ``file:line: problem``.

    Raises :class:`FindingsError` if any line is invalid, :class:`StanceError` if the file
    cannot be read. Blank lines are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise StanceError(f"{path}: findings file not found")
    problems: list[Problem] = []
    try:
        findings = [record for _, record in iter_records(path, Finding, problems)]
    except UnicodeDecodeError as exc:
        raise StanceError(f"{path}: not UTF-8 text ({exc.reason}); is it a findings file?") from exc
    except OSError as exc:
        raise StanceError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if problems:
        raise FindingsError(problems)
    return findings


def is_findings_file(path: str | Path) -> bool:
    """True if ``path`` is a ``.jsonl`` file whose first record has every finding key.

    Tells findings (to report directly) from an article corpus (to score first).
    """
    path = Path(path)
    if path.suffix.lower() not in {".jsonl", ".ndjson"} or not path.is_file():
        return False
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.strip():
                    record = json.loads(line)
                    return isinstance(record, dict) and set(FINDING_KEYS) <= set(record)
    except (OSError, json.JSONDecodeError):
        return False
    return False


def as_findings(items: Iterable) -> list[Finding]:
    """Findings from dicts, :class:`Finding`, or any record with the finding fields.

    Accepts parsed JSON, dataclasses and pydantic models; raises :class:`FindingsError`
    naming the index of a bad record.
    """
    out: list[Finding] = []
    problems: list[Problem] = []
    for i, item in enumerate(items):
        if isinstance(item, Finding):
            out.append(item)
            continue
        if isinstance(item, Mapping):
            raw = dict(item)
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            raw = dataclasses.asdict(item)
        elif isinstance(item, BaseModel):
            raw = item.model_dump()
        else:
            raw = {k: getattr(item, k) for k in Finding.model_fields if hasattr(item, k)}
        try:
            out.append(Finding.model_validate(raw))
        except ValidationError as exc:
            problems.append(Problem("findings", i, first_error(exc)))
    if problems:
        raise FindingsError(problems)
    return out


def read_source(source: str | Path | Iterable) -> list[Finding]:
    """Findings from a ``.jsonl`` path or an iterable of records."""
    if isinstance(source, (str, Path)):
        return load_findings(source)
    return as_findings(source)


_SIDE_ORDER = {s: i for i, s in enumerate((*SIDES, AUTHOR))}


@dataclass
class Position:
    """One cell of an actor (or side) × topic table."""

    actor: str  # actor id; the side itself in side roll-ups
    side: str
    topic: str
    stance: str
    confidence: float
    sentences: int  # sentences whose finding agrees with the stance
    findings: int  # all findings counted for this holder and topic
    evidence: str  # the most confident agreeing sentence
    evidence_article: str
    evidence_sentence: int
    articles: int = 1
    date: str | None = None  # per-date rows only
    weights: dict[str, float] = field(default_factory=dict)  # summed confidence per stance

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["confidence"] = round(d["confidence"], 4)
        d["weights"] = {k: round(v, 4) for k, v in d["weights"].items()}
        return d


@dataclass
class _Cell:
    weight: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STANCES, 0.0))
    count: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STANCES, 0))
    sentences: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STANCES, 0))
    last_sentence: dict[str, tuple] = field(default_factory=dict)
    best: dict[str, tuple[float, str, str, int]] = field(default_factory=dict)
    articles: int = 0
    last_article: str | None = None
    side: str = ""


class Tally:
    """Running confidence-weighted vote per key; ``key(finding)`` → (…, actor-or-side, topic)."""

    def __init__(self, key: Callable[[Finding], tuple], side: Callable[[Finding], str] | None = None):
        self.key = key
        self.side = side or (lambda f: f.side)
        self.cells: dict[tuple, _Cell] = {}

    def add(self, finding: Finding) -> None:
        k = self.key(finding)
        cell = self.cells.get(k)
        if cell is None:
            cell = self.cells[k] = _Cell(side=self.side(finding))
        s = finding.stance
        cell.weight[s] += finding.confidence
        cell.count[s] += 1
        where = (finding.article, finding.sentence)
        # Findings arrive sentence by sentence, so a repeat is always the last one seen.
        if cell.last_sentence.get(s) != where:
            cell.sentences[s] += 1
            cell.last_sentence[s] = where
        if finding.article != cell.last_article:
            cell.articles += 1
            cell.last_article = finding.article
        if s not in cell.best or finding.confidence > cell.best[s][0]:
            cell.best[s] = (finding.confidence, finding.text, finding.article, finding.sentence)

    def update(self, findings: Iterable[Finding]) -> Tally:
        for f in findings:
            self.add(f)
        return self

    def rows(self) -> list[Position]:
        out = []
        for key, cell in self.cells.items():
            stance, confidence = vote(cell.weight, cell.count)
            best = cell.best[stance]
            date = key[0] if len(key) == 3 else None
            out.append(
                Position(
                    actor=key[-2],
                    side=cell.side,
                    topic=key[-1],
                    stance=stance,
                    confidence=confidence,
                    sentences=cell.sentences[stance],
                    findings=sum(cell.count.values()),
                    evidence=best[1],
                    evidence_article=best[2],
                    evidence_sentence=best[3],
                    articles=cell.articles,
                    date=date,
                    weights=dict(cell.weight),
                )
            )
        return sort_positions(out)


def choose_stance(weight: dict[str, float], count: dict[str, int]) -> str:
    """Support or oppose by weight (ties: more sentences, then oppose), else neutral."""
    if count.get("support", 0) + count.get("oppose", 0) == 0:
        return "neutral"
    return max(POLAR, key=lambda s: (weight.get(s, 0.0), count.get(s, 0), s == "oppose"))


def vote(weight: dict[str, float], count: dict[str, int]) -> tuple[str, float]:
    """THE vote of a holder on a topic: the stance and its confidence.

    ``weight``: summed confidence per stance; ``count``: findings per stance.
    """
    stance = choose_stance(weight, count)
    counted = sum(weight.get(s, 0.0) for s in (POLAR if stance in POLAR else ("neutral",)))
    agree = weight.get(stance, 0.0)
    n_agree = max(count.get(stance, 0), 1)
    return stance, (agree / counted if counted else 0.0) * (agree / n_agree)


def sort_positions(rows: list[Position], topics: list[str] | None = None) -> list[Position]:
    order = {t: i for i, t in enumerate(topics or [])}
    return sorted(
        rows,
        key=lambda r: (
            r.date or "",
            _SIDE_ORDER.get(r.side, 99),
            r.actor,
            order.get(r.topic, 99),
            r.topic,
        ),
    )


def _roll_side(f: Finding) -> str:
    """The writer's own voice stays its own row in side roll-ups."""
    return AUTHOR if f.actor == AUTHOR else f.side


def actor_table(findings: Iterable[Finding]) -> list[Position]:
    """Actor × topic table of one article."""
    return Tally(lambda f: (f.actor, f.topic)).update(findings).rows()


def side_table(findings: Iterable[Finding]) -> list[Position]:
    """The same rolled up to sides (``author`` kept apart)."""
    return Tally(lambda f: (_roll_side(f), f.topic), _roll_side).update(findings).rows()


class CorpusTally:
    """Actor × topic and side × topic over a whole corpus, overall and per date."""

    def __init__(self) -> None:
        self.actors = Tally(lambda f: (f.actor, f.topic))
        self.sides = Tally(lambda f: (_roll_side(f), f.topic), _roll_side)
        self.actors_by_date = Tally(lambda f: (f.date or "undated", f.actor, f.topic))
        self.sides_by_date = Tally(lambda f: (f.date or "undated", _roll_side(f), f.topic), _roll_side)

    def add(self, finding: Finding) -> None:
        for t in (self.actors, self.sides, self.actors_by_date, self.sides_by_date):
            t.add(finding)

    def summary(self) -> dict[str, list[Position]]:
        return {
            "positions": self.actors.rows(),
            "sides": self.sides.rows(),
            "positions_by_date": self.actors_by_date.rows(),
            "sides_by_date": self.sides_by_date.rows(),
        }
