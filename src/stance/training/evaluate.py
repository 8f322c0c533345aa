"""Evaluation: a classifier on gold items, and the whole scoring pipeline on documents.

:func:`evaluate_classifier` — in: a classifier and a split; out: stance metrics on the
gold (actor, topic) items and topic-detection metrics on the sentences, as training logs.

:func:`evaluate_pipeline` — in: a labels directory, a split and a model. Each labelled document of the split is
rebuilt as plain text (its sentences in order, joined by spaces) and scored exactly as
``stance score`` would score it: segmentation, actors, attribution and the model all
included. Pipeline sentences are aligned to gold sentences by character overlap.

Out: an :class:`EvaluationReport` with

- article-level actor × topic stance F1: the aggregated table of each document against
  the same aggregation of its gold items (each gold item a finding of confidence 1);
- sentence-level (actor, topic, stance) F1 over position items (topic ≠ ``none``), also
  for support/oppose items only;
- attribution accuracy: the share of gold position items whose holder the pipeline found
  for that sentence (whatever topic and stance it then predicted), also per genre;

and :func:`log_report` logs it to MLflow through :mod:`stance.tracking`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..config import NONE_TOPIC, STANCES
from ..errors import StanceError
from ..pipeline.findings import Finding, actor_table
from ..pipeline.reading import Article


def evaluate_classifier(classifier, labels, split: str):
    """Stance on gold (actor, topic) items and topic detection on sentences of one split.

    Returns the metrics (flat floats) and the items with their prediction and confidence.
    """
    import time

    from .metrics import stance_metrics, topic_metrics

    sentences = labels.sentences(split)
    items = labels.positions(split)
    t0 = time.perf_counter()
    topic_probs = classifier.predict_topics(sentences)
    stance_probs = classifier.predict_stance(items)
    elapsed = max(time.perf_counter() - t0, 1e-9)
    pred = [STANCES[i] for i in stance_probs.argmax(axis=1)]
    metrics = stance_metrics(list(items["stance"]), pred)
    gold_topics = sentences[classifier.topic_ids].to_numpy()
    detected = (topic_probs >= classifier.topic_threshold).astype(int)
    metrics.update(topic_metrics(gold_topics, detected, classifier.topic_ids))
    metrics["sentences_per_second"] = len(sentences) / elapsed
    metrics["n_items"] = float(len(items))
    metrics["n_sentences"] = float(len(sentences))
    predictions = items[["id", "doc", "sent", "text", "context", "actor", "topic", "stance"]].copy()
    predictions["predicted"] = pred
    predictions["confidence"] = stance_probs.max(axis=1) if len(items) else []
    return metrics, predictions


@dataclass
class PRF:
    """Micro precision, recall and F1 over sets of tuples."""

    precision: float
    recall: float
    f1: float
    true_positives: int
    predicted: int
    gold: int

    @classmethod
    def of(cls, predicted: set, gold: set) -> PRF:
        tp = len(predicted & gold)
        p = tp / len(predicted) if predicted else 0.0
        r = tp / len(gold) if gold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return cls(p, r, f, tp, len(predicted), len(gold))


@dataclass
class EvaluationReport:
    split: str
    model: str
    documents: int
    sentences: int
    gold_positions: int
    article: PRF
    sentence: PRF
    sentence_polar: PRF
    attribution_accuracy: float
    attribution_found: int
    attribution_by_method: dict[str, int] = field(default_factory=dict)  # how found holders were found
    attribution_by_genre: dict[str, float] = field(default_factory=dict)
    article_polar: PRF | None = None  # the article table's support/oppose cells only
    segmentation_agreement: float = 0.0  # share of gold sentences matched by exactly one pipeline sentence
    labels_digest: str = ""

    def metrics(self) -> dict[str, float]:
        """Flat figures for MLflow, prefixed ``pipeline_<split>_``."""
        p = f"pipeline_{self.split}_"
        out = {
            f"{p}article_f1": self.article.f1,
            f"{p}article_precision": self.article.precision,
            f"{p}article_recall": self.article.recall,
            f"{p}sentence_f1": self.sentence.f1,
            f"{p}sentence_precision": self.sentence.precision,
            f"{p}sentence_recall": self.sentence.recall,
            f"{p}sentence_polar_f1": self.sentence_polar.f1,
            **({f"{p}article_polar_f1": self.article_polar.f1} if self.article_polar else {}),
            f"{p}attribution_accuracy": self.attribution_accuracy,
            f"{p}segmentation_agreement": self.segmentation_agreement,
        }
        out.update({f"{p}attribution_accuracy_{g}": v for g, v in self.attribution_by_genre.items() if g})
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def frame(self):
        """The headline figures as a small table (for the terminal and the README)."""
        import pandas as pd

        rows = {
            "article: actor x topic stance": (
                self.article.precision,
                self.article.recall,
                self.article.f1,
                self.article.gold,
            ),
            "sentence: (actor, topic, stance)": (
                self.sentence.precision,
                self.sentence.recall,
                self.sentence.f1,
                self.sentence.gold,
            ),
            "sentence: support/oppose only": (
                self.sentence_polar.precision,
                self.sentence_polar.recall,
                self.sentence_polar.f1,
                self.sentence_polar.gold,
            ),
        }
        df = pd.DataFrame.from_dict(rows, orient="index", columns=["precision", "recall", "f1", "gold"])
        df.loc["attribution accuracy"] = [
            float("nan"),
            float("nan"),
            self.attribution_accuracy,
            self.gold_positions,
        ]
        df["gold"] = df["gold"].astype(int)
        df.index.name = "measure"
        return df


@dataclass
class GoldDocument:
    article: Article
    spans: list[tuple[int, int]]  # character span of each gold sentence in the rebuilt text
    items: list[dict]  # position items (topic != none)
    genre: str = ""


ARTICLES_DIR = "articles"  # labels/articles/<doc>.txt: a document's text as published


def rebuild_documents(labels, split: str | None) -> list[GoldDocument]:
    """The labelled documents of a split (None: all) as articles.

    A document whose raw text is in ``labels/articles/<doc>.txt`` is scored from it
    (headlines, bylines and paragraphs as published; its labelled sentences are the
    pipeline's, in order); any other is rebuilt from its sentences joined by spaces.
    """
    items = labels.items if split is None else labels.items[labels.items["split"] == split]
    if items.empty:
        raise StanceError(f"{labels.path}: no documents in split {split!r}: choose train, dev or test")
    meta = {}
    if len(labels.documents):
        meta = {r["doc"]: r for r in labels.documents.to_dict("records")}
    docs = []
    for doc, group in items.groupby("doc", sort=True):
        sentences = group.drop_duplicates("sent").sort_values("sent")
        m = meta.get(doc, {})
        date = m.get("date") if isinstance(m.get("date"), str) else None
        raw = Path(labels.path) / ARTICLES_DIR / f"{doc}.txt"
        article = _raw_article(raw, str(doc), date) if raw.exists() else None
        if article is not None:
            from ..pipeline.segmentation import segment

            spans = [(s.start, s.end) for s in segment([article.text])[0]]
        else:
            parts, spans, pos = [], [], 0
            for text in sentences["text"]:
                spans.append((pos, pos + len(text)))
                parts.append(text)
                pos += len(text) + 1
            article = Article(id=str(doc), text=" ".join(parts), title=str(m.get("title") or ""), date=date)
        positions = group[group["topic"] != NONE_TOPIC][["sent", "actor", "side", "topic", "stance", "text"]]
        docs.append(GoldDocument(article, spans, positions.to_dict("records"), str(m.get("genre") or "")))
    return docs


def _raw_article(path: Path, doc: str, date: str | None) -> Article | None:
    from ..pipeline.reading import read_inputs

    found = [a for a in read_inputs([str(path)]) if isinstance(a, Article)]
    if not found:
        return None
    article = found[0]
    article.id = article.origin = doc
    article.date = article.date or date
    return article


def align(spans: list[tuple[int, int]], start: int, end: int) -> int | None:
    """Index of the gold sentence that overlaps [start, end) most."""
    best, best_overlap = None, 0
    for k, (s, e) in enumerate(spans):
        overlap = min(e, end) - max(s, start)
        if overlap > best_overlap:
            best, best_overlap = k, overlap
        if s >= end:
            break
    return best


def evaluate_pipeline(
    labels_dir: str | Path, model=None, split: str = "test", min_confidence: float | None = None
) -> EvaluationReport:
    """Score the split's documents with the full pipeline and compare with the labels.

    ``min_confidence`` None: the model's own tuned ``position_threshold``, as ``stance score``.
    """
    from ..labels import LabelSet
    from ..pipeline.scoring import Scorer

    labels = LabelSet.load(labels_dir)
    docs = rebuild_documents(labels, split)
    scorer = Scorer(model, labels.registry, min_confidence=min_confidence)
    results = list(scorer.score(d.article for d in docs))
    name = str(model) if model is None or isinstance(model, (str, Path)) else type(model).__name__
    return compare_documents(docs, results, split, name, labels.digest)


def compare_documents(
    docs: list[GoldDocument], results, split: str, model: str = "", digest: str = "", min_confidence: float = 0.0
) -> EvaluationReport:
    """Compare scored documents with their gold items, keeping findings ≥ ``min_confidence``.

    Separate from scoring so that one scoring pass can be compared at many thresholds.
    """
    gold_sent, pred_sent, gold_art, pred_art = set(), set(), set(), set()
    found, by_method = 0, Counter()
    genre_hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    n_sentences, exact = 0, 0
    for gd, result in zip(docs, results, strict=True):
        doc = gd.article.id
        kept = [f for f in result.findings if f.confidence >= min_confidence]
        n_sentences += len(gd.spans)
        holders: dict[int, dict[str, str]] = defaultdict(dict)
        per_gold = Counter()
        findings_at = defaultdict(list)
        for f in kept:
            findings_at[f.sentence].append(f)
        for s in result.sentences:
            k = align(gd.spans, s.start, s.end)
            if k is None:
                continue
            per_gold[k] += 1
            for h in s.holders:
                holders[k].setdefault(h.actor, h.method)
            for f in findings_at[s.index]:
                pred_sent.add((doc, k, f.actor, f.topic, f.stance))
        exact += sum(1 for k in range(len(gd.spans)) if per_gold[k] == 1)
        for it in gd.items:
            gold_sent.add((doc, it["sent"], it["actor"], it["topic"], it["stance"]))
            hit = it["actor"] in holders[it["sent"]]
            found += hit
            genre_hits[gd.genre][0] += hit
            genre_hits[gd.genre][1] += 1
            if hit:
                by_method[holders[it["sent"]][it["actor"]]] += 1
        gold_findings = [
            Finding(
                article=doc,
                sentence=it["sent"],
                text=it["text"],
                actor=it["actor"],
                side=it["side"],
                topic=it["topic"],
                stance=it["stance"],
                confidence=1.0,
                attribution="gold",
                start=0,
                end=0,
                date=gd.article.date,
            )
            for it in sorted(gd.items, key=lambda i: i["sent"])
        ]
        gold_art |= {(doc, p.actor, p.topic, p.stance) for p in actor_table(gold_findings)}
        pred_art |= {(doc, p.actor, p.topic, p.stance) for p in actor_table(kept)}

    def polar(rows: set) -> set:
        return {r for r in rows if r[-1] != "neutral"}

    n_gold = len(gold_sent)
    return EvaluationReport(
        split=split,
        model=model,
        documents=len(docs),
        sentences=n_sentences,
        gold_positions=n_gold,
        article=PRF.of(pred_art, gold_art),
        sentence=PRF.of(pred_sent, gold_sent),
        sentence_polar=PRF.of(polar(pred_sent), polar(gold_sent)),
        article_polar=PRF.of(polar(pred_art), polar(gold_art)),
        attribution_accuracy=found / n_gold if n_gold else 0.0,
        attribution_found=found,
        attribution_by_method=dict(by_method),
        attribution_by_genre={g: h / t for g, (h, t) in sorted(genre_hits.items()) if t},
        segmentation_agreement=exact / n_sentences if n_sentences else 0.0,
        labels_digest=digest,
    )


POSITION_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(15))  # 0.00 … 0.70


def tune_position_threshold(classifier, labels, split: str = "dev") -> tuple[float, dict[float, float]]:
    """The finding-confidence threshold with the best end-to-end F1 on ``split``'s documents.

    Real reporting has many sentences that name a topic without taking a position; the
    confidence (topic × stance × holder) is what separates them, so the cut is learned
    end to end: one scoring pass, then the mean of article-level and sentence-level
    support/oppose F1 at each threshold. Returns the threshold and the curve.
    """
    from ..pipeline.scoring import Scorer

    docs = rebuild_documents(labels, split)
    if not docs:
        return 0.0, {}
    scorer = Scorer(classifier, labels.registry, min_confidence=0.0)
    results = list(scorer.score(d.article for d in docs))
    curve = {}
    for t in POSITION_THRESHOLDS:
        r = compare_documents(docs, results, split, min_confidence=t)
        curve[t] = (r.article_polar.f1 + r.sentence_polar.f1) / 2
    best = max(curve, key=lambda t: (round(curve[t], 4), -t))  # ties: the lower cut, fewer losses
    return best, curve


def tune_topic_threshold(classifier, labels, split: str = "dev") -> float:
    """The topic threshold with the best micro-F1 on ``split``'s sentences."""
    from .metrics import best_threshold

    sentences = labels.sentences(split)
    return best_threshold(sentences[classifier.topic_ids].to_numpy(), classifier.predict_topics(sentences))


def tune_ensemble_weight(classifier, labels, split: str = "dev") -> tuple[float, dict[float, float]]:
    """The second member's weight (of two) with the best end-to-end F1 on ``split``'s documents.

    Each weight on the grid gets its own topic and position thresholds, as a family would,
    so the weights compare at their best. Leaves the best weight set; returns it and the curve.
    """
    curve = {}
    for w in classifier.params["weight_grid"]:
        classifier.set_weights([1 - w, w])
        classifier.topic_threshold = tune_topic_threshold(classifier, labels, split)
        _, points = tune_position_threshold(classifier, labels, split)
        curve[w] = max(points.values(), default=0.0)
    best = max(curve, key=lambda w: (round(curve[w], 4), -abs(w - 0.5)))  # ties: the more even mix
    classifier.set_weights([1 - best, best])
    return best, curve


def log_report(report: EvaluationReport, experiment: str, run_name: str = "evaluate-pipeline") -> str:
    """Log the figures, the parameters and the full report (JSON) as one MLflow run."""
    import mlflow

    from ..tracking import run, setup

    setup(experiment)
    with run(run_name, tags={"stage": "evaluate-pipeline", "split": report.split}) as active:
        mlflow.log_params(
            {
                "model": report.model,
                "split": report.split,
                "documents": report.documents,
                "labels_digest": report.labels_digest,
            }
        )
        mlflow.log_metrics(report.metrics())
        mlflow.log_dict(report.to_dict(), f"evaluation/pipeline_{report.split}.json")
    return active.info.run_id
