"""Aggregate findings into actor × topic tables.

In: findings (one per sentence, holder and topic; see :class:`stance.scoring.Finding`),
in article order. Out: :class:`Position` rows — per article, rolled up to sides, and
across a corpus overall and per date — each with a stance, a confidence, the number of
supporting sentences and the best evidence sentence.

The vote: each finding adds its confidence to its stance. Support and oppose outrank
neutral — a holder who takes a position in one sentence and only discusses the issue in
three others holds that position — so neutral wins only when no sentence gives a
position. The row's confidence is ``agreement × strength``: the winning stance's share of
the counted weight times the mean confidence of the findings that agree. A :class:`Tally`
keeps running sums, not findings, so corpus tables stay small however long the corpus.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .config import AUTHOR, SIDES, STANCES

if TYPE_CHECKING:
    from .scoring import Finding

_POLAR = ("support", "oppose")
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

    def __init__(
        self, key: Callable[[Finding], tuple], side: Callable[[Finding], str] | None = None
    ):
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
            stance = choose_stance(cell.weight, cell.count)
            counted = sum(cell.weight[s] for s in (_POLAR if stance in _POLAR else ("neutral",)))
            agree = cell.weight[stance]
            n_agree = max(cell.count[stance], 1)
            confidence = (agree / counted if counted else 0.0) * (agree / n_agree)
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
    if count["support"] + count["oppose"] == 0:
        return "neutral"
    return max(_POLAR, key=lambda s: (weight[s], count[s], s == "oppose"))


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
        self.sides_by_date = Tally(
            lambda f: (f.date or "undated", _roll_side(f), f.topic), _roll_side
        )

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
