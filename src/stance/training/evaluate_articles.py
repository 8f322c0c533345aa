"""Evaluate on your own gold-labelled articles (e.g. real news), as ``stance evaluate --articles``.

In: a folder of article files, a gold file (JSONL, one line per (sentence, holder, topic)
position or a ``none`` line per sentence: ``id``, ``article``, ``text``, ``actor``,
``side``, ``topic``, ``stance``) and a model. Out: an :class:`ArticlesReport` —
sentence-level F1 over non-neutral (holder, topic, stance) triples, article-level F1 over
each article's (holder, topic) → majority stance table, both at the actor and the side
level; where the missed gold positions went (holder, topic, stance); and holder accuracy
(the share of gold positions whose holder the pipeline named for that sentence).

Sentences are matched as the reference scorer of the real-news dev set matches them
(normalised text, one containing the other), and an article file belongs to the gold
article whose id is its name or the part of its name before the first ``_``, so the
figures agree with that scorer on the same model.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ..config import NONE_TOPIC, POLAR, Stance
from ..errors import Problem, ProblemsError, StanceError
from ..io import iter_records
from ..pipeline.reading import SUPPORTED


class GoldLine(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)
    id: str
    article: str
    text: str
    actor: str = ""
    side: str = ""
    topic: str
    stance: Stance


class GoldError(ProblemsError):
    """The gold file has invalid lines."""


def _norm(text: str) -> str:
    return " " + " ".join(re.sub(r"[^a-z0-9 ]", "", text.lower().replace("’", "'")).split()) + " "


def _majority(counts: Counter) -> str:
    top = counts.most_common()
    return top[0][0] if len(top) == 1 or top[0][1] > top[1][1] else "mixed"


def _prf(pred: set, gold: set) -> dict[str, float]:
    tp = len(pred & gold)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(gold) if gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "gold": len(gold)}


@dataclass
class ArticlesReport:
    model: str
    articles: int
    gold_positions: int
    levels: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # level -> metric -> prf
    misses: dict[str, int] = field(default_factory=dict)  # why sentence-level gold positions were missed
    holder_accuracy: float = 0.0

    def metrics(self, prefix: str = "articles_") -> dict[str, float]:
        out = {f"{prefix}holder_accuracy": self.holder_accuracy}
        for level, by in self.levels.items():
            for metric, prf in by.items():
                for k in ("precision", "recall", "f1"):
                    out[f"{prefix}{metric}_{level}_{k}"] = prf[k]
        n = max(self.gold_positions, 1)
        out.update({f"{prefix}missed_{why}": c / n for why, c in self.misses.items()})
        return out

    def frame(self):
        import pandas as pd

        rows = {}
        for level, by in self.levels.items():
            for metric in ("article", "sentence"):
                prf = by[metric]
                rows[f"{metric} F1 ({level})"] = (prf["precision"], prf["recall"], prf["f1"], prf["gold"])
        df = pd.DataFrame.from_dict(rows, orient="index", columns=["precision", "recall", "f1", "gold"])
        df.loc["holder accuracy"] = [float("nan"), float("nan"), self.holder_accuracy, self.gold_positions]
        for why, c in self.misses.items():
            df.loc[f"missed: {why}"] = [float("nan"), float("nan"), c / max(self.gold_positions, 1), c]
        df["gold"] = df["gold"].astype(int)
        df.index.name = "measure"
        return df

    def to_dict(self) -> dict:
        return asdict(self)


def load_gold(path: Path) -> list[GoldLine]:
    if not Path(path).is_file():
        raise StanceError(f"{path}: gold file not found: pass --gold FILE (JSONL)")
    problems: list[Problem] = []
    lines = [g for _, g in iter_records(Path(path), GoldLine, problems)]
    if problems:
        raise GoldError(problems)
    if not lines:
        raise StanceError(f"{path}: no gold lines")
    return lines


def article_files(folder: Path, gold_ids: set[str]) -> dict[str, Path]:
    """Gold article id → its file (named ``<id>`` or ``<id>_anything``)."""
    if not Path(folder).is_dir():
        raise StanceError(f"{folder}: articles folder not found: pass --articles DIR")
    found = {}
    for f in sorted(Path(folder).iterdir()):
        if f.suffix.lower() not in SUPPORTED or f.name.startswith("."):
            continue
        key = f.stem if f.stem in gold_ids else f.stem.split("_", 1)[0]
        if key in found:
            # Two files for one article would be scored as one and merge their positions.
            raise StanceError(
                f"{f}: duplicate article id {key!r} (first in {found[key].name}); keep one file per gold article"
            )
        if key in gold_ids:
            found[key] = f
    missing = sorted(gold_ids - set(found))
    if missing:
        raise StanceError(f"{folder}: no article file for gold article(s) {', '.join(missing[:5])}")
    return found


def evaluate_articles(
    articles: str | Path, gold: str | Path, model=None, registry=None, min_confidence: float | None = None
) -> ArticlesReport:
    """Score the articles and compare them with the gold file (see the module docstring)."""
    from ..pipeline.reading import Article, read_inputs
    from ..pipeline.scoring import Scorer

    lines = load_gold(Path(gold))
    side_of = {g.actor: g.side for g in lines if g.actor}
    files = article_files(Path(articles), {g.article for g in lines})
    scorer = model if isinstance(model, Scorer) else Scorer(model, registry, min_confidence=min_confidence)
    texts: dict[str, list[tuple[str, str]]] = defaultdict(list)
    seen = set()
    for g in lines:
        if g.id not in seen:
            seen.add(g.id)
            texts[g.article].append((g.id, _norm(g.text)))
    arts = []
    for key, path in files.items():
        for a in read_inputs([str(path)]):
            if isinstance(a, Article):
                a.id = key
                arts.append(a)
    preds, holders = [], defaultdict(set)  # holders: gold sentence id -> actors the pipeline named
    for result in scorer.score(arts):
        for s in result.sentences:
            for gid in _matches(s.text, texts[result.id]):
                holders[gid].update(h.actor for h in s.holders)
        for f in result.findings:
            preds.append((result.id, f))
    gold_pos = [g for g in lines if g.topic != NONE_TOPIC and g.stance in POLAR]
    report = ArticlesReport(str(model) if not hasattr(model, "model") else "scorer", len(files), len(gold_pos))
    for level in ("actor", "side"):

        def who(actor: str, side: str, level=level) -> str:
            return actor if level == "actor" else (side or side_of.get(actor, "other"))

        gold_s = {(g.id, who(g.actor, g.side), g.topic, g.stance) for g in gold_pos}
        pred_s, votes = set(), defaultdict(Counter)
        for art, f in preds:
            if f.stance not in POLAR:
                continue
            w = who(f.actor, f.side)
            votes[(art, w, f.topic)][f.stance] += 1
            for gid in _matches(f.text, texts[art]):
                pred_s.add((gid, w, f.topic, f.stance))
        gold_votes = defaultdict(Counter)
        for g in gold_pos:
            gold_votes[(g.article, g.actor, g.topic)][g.stance] += 1
        by_level = defaultdict(set)
        for (art, actor, topic), c in gold_votes.items():
            by_level[(art, who(actor, side_of.get(actor, "")), topic)].add(_majority(c))
        gold_a = {(*k, vs.pop() if len(vs) == 1 else "mixed") for k, vs in by_level.items()}
        pred_a = {(*k, _majority(c)) for k, c in votes.items()}
        report.levels[level] = {"sentence": _prf(pred_s, gold_s), "article": _prf(pred_a, gold_a)}
        if level == "actor":
            report.misses = _misses(gold_s - pred_s, pred_s)
    report.holder_accuracy = sum(g.actor in holders[g.id] for g in gold_pos) / max(len(gold_pos), 1)
    return report


def _matches(text: str, gold: list[tuple[str, str]]) -> list[str]:
    p = _norm(text)
    return [gid for gid, g in gold if (len(g) > 25 and g in p) or (len(p) > 25 and p in g)]


def _misses(missed: set, pred: set) -> dict[str, int]:
    """Why each missed gold (sentence, holder, topic, stance) was missed."""
    at = defaultdict(list)
    for gid, who, topic, stance in pred:
        at[gid].append((who, topic, stance))
    out = Counter({"holder": 0, "topic": 0, "stance": 0, "holder_and_topic": 0})
    for gid, who, topic, _stance in missed:
        found = at[gid]
        if any(w == who and t == topic for w, t, _ in found):
            out["stance"] += 1
        elif any(t == topic for _, t, _ in found):
            out["holder"] += 1
        elif any(w == who for w, _, _ in found):
            out["topic"] += 1
        else:
            out["holder_and_topic"] += 1
    return dict(out)


def gold_set_figures(folder: str | Path, model=None) -> dict[str, float] | None:
    """The headline figures of ``evaluate_articles`` on a folder holding ``articles/`` and
    ``gold.jsonl`` (None when the folder is absent), for benchmarks."""
    folder = Path(folder)
    if not (folder / "gold.jsonl").is_file() or not (folder / "articles").is_dir():
        return None
    return {
        k: round(v, 4)
        for k, v in evaluate_articles(folder / "articles", folder / "gold.jsonl", model=model).metrics().items()
    }


def log_articles_report(report: ArticlesReport, experiment: str, articles: str, gold: str) -> str:
    import mlflow

    from ..tracking import run, setup

    setup(experiment)
    with run("evaluate-articles", tags={"stage": "evaluate-articles"}) as active:
        mlflow.log_params({"model": report.model, "articles_dir": str(articles), "gold": str(gold)})
        mlflow.log_metrics(report.metrics())
        mlflow.log_dict(report.to_dict(), "evaluation/articles.json")
    return active.info.run_id
