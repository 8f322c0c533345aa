"""Score articles: who holds which position, with evidence — the library API.

In: article text, :class:`~stance.reading.Article` records or paths; a trained
classifier (default ``models/champion/``, or any folder or MLflow model URI); the actor
registry. Out: typed results — per article an :class:`ArticleResult` with its sentences,
their holders, the findings and the aggregated actor × topic and side tables; for a corpus
a streaming :class:`CorpusResult`.

Pipeline per batch of articles (batched for throughput: one ``nlp.pipe`` call, one
``predict_topics`` call over every sentence and one ``predict_stance`` call over every
(sentence, holder, topic) of the batch):

read → segment → find actors → attribute holders → detect topics → predict stance →
aggregate.

A finding is one (sentence, holder, topic ≠ none) with its stance; its ``confidence`` is
P(topic | sentence) × P(stance | sentence, holder, topic).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .actors import ActorIndex, ArticleActors, NewActor
from .aggregation import CorpusTally, Position, actor_table, side_table
from .attribution import Holder, attribute
from .config import LABELS_DIR, STANCES
from .errors import StanceError
from .reading import MAX_CHARS, Article, InputProblem, read_inputs, read_text
from .registry import Registry
from .segmentation import load_nlp, segment

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


@dataclass
class Finding:
    """One position found: a sentence, its holder, a topic (never ``none``) and a stance."""

    article: str
    sentence: int
    text: str
    actor: str
    side: str
    topic: str
    stance: str
    confidence: float  # topic probability × stance probability
    attribution: str  # how the holder was found: quote | reported | subject | coreference | author
    start: int
    end: int
    date: str | None
    paragraph: int = 0
    topic_confidence: float = 0.0
    stance_confidence: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSONL record: the documented keys first, then the extras."""
        d = asdict(self)
        for k in ("confidence", "topic_confidence", "stance_confidence"):
            d[k] = round(d[k], 4)
        return d


@dataclass
class ScoredSentence:
    """A sentence with its holders and the probability of each topic."""

    index: int
    text: str
    start: int
    end: int
    paragraph: int
    holders: list[Holder]
    topics: dict[str, float]


@dataclass
class ArticleResult:
    """Everything found in one article."""

    article: Article
    sentences: list[ScoredSentence]
    findings: list[Finding]
    positions: list[Position]  # actor × topic
    sides: list[Position]  # side × topic (``author`` kept apart)
    new_actors: list[NewActor] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.article.id

    def summary(self) -> dict[str, Any]:
        """Metadata and aggregated tables: the ``--format json`` article object, less findings."""
        a = self.article
        return {
            "article": a.id,
            "title": a.title,
            "date": a.date,
            "source": a.source,
            "url": a.url,
            "sentences": len(self.sentences),
            "findings": len(self.findings),
            "positions": [p.to_dict() for p in self.positions],
            "sides": [p.to_dict() for p in self.sides],
            "new_actors": [asdict(n) for n in self.new_actors],
        }

    def findings_frame(self):
        import pandas as pd

        return pd.DataFrame(
            [f.to_dict() for f in self.findings], columns=list(Finding.__dataclass_fields__)
        )

    def positions_frame(self):
        import pandas as pd

        return pd.DataFrame(
            [p.to_dict() for p in self.positions], columns=list(Position.__dataclass_fields__)
        )


class Scorer:
    """A loaded model, spaCy pipeline and actor index, reused for any number of articles."""

    def __init__(
        self,
        model=None,
        registry: Registry | str | Path | None = None,
        *,
        min_confidence: float = 0.0,
        batch_articles: int = 32,
        batch_chars: int = 150_000,
        all_entities: bool = False,
    ):
        self.model = resolve_model(model)
        self.registry = resolve_registry(registry)
        self.min_confidence = float(min_confidence)
        # False: look for names the registry lacks only where they could hold a position.
        self.all_entities = all_entities
        self.batch_articles = batch_articles
        self.batch_chars = batch_chars
        self.nlp = load_nlp()
        self.index = ActorIndex(self.registry, self.nlp)

    @property
    def topics(self) -> list[str]:
        return self.model.topic_ids

    # -- streaming --------------------------------------------------------------------
    def score(self, articles: Iterable[Article]) -> Iterator[ArticleResult]:
        """Results in input order, a batch at a time."""
        for batch in self.batches(articles):
            yield from self.score_batch(batch)

    def batches(self, articles: Iterable[Article]) -> Iterator[list[Article]]:
        """Articles grouped so that each batch holds enough sentences to keep the model busy."""
        batch: list[Article] = []
        size = 0
        for art in articles:
            batch.append(art)
            size += len(art.text)
            if len(batch) >= self.batch_articles or size >= self.batch_chars:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    def score_batch(self, batch: list[Article]) -> list[ArticleResult]:
        import numpy as np
        import pandas as pd

        segmented = segment([a.text for a in batch], self.nlp)
        docs = {id(s.span.doc): s.span.doc for sentences in segmented for s in sentences}
        self.index.recognise(list(docs.values()), everywhere=self.all_entities)
        analysed = []  # per article: (actors, sentences, holders)
        for sentences in segmented:
            actors = ArticleActors(self.index)
            found: dict[int, list] = {}
            mentions = []
            for s in sentences:
                doc = s.span.doc
                if id(doc) not in found:
                    found[id(doc)] = actors.find(doc)
                mentions.append([m for m in found[id(doc)] if s.span.start <= m.start < s.span.end])
            analysed.append((actors, sentences, attribute(sentences, mentions, actors)))

        flat = [(ai, s) for ai, (_, sentences, _) in enumerate(analysed) for s in sentences]
        contexts = [
            sentences[s.index - 1].text if s.index else ""
            for _, sentences, _ in analysed
            for s in sentences
        ]
        topic_ids = self.topics
        if flat:
            probs = np.asarray(
                self.model.predict_topics(
                    pd.DataFrame({"text": [s.text for _, s in flat], "context": contexts})
                ),
                dtype=float,
            )
        else:
            probs = np.zeros((0, len(topic_ids)))
        threshold = float(getattr(self.model, "topic_threshold", 0.5))

        rows, keys = [], []  # one stance question per (sentence, holder, detected topic)
        for n, (ai, s) in enumerate(flat):
            holders = analysed[ai][2][s.index]
            for j in np.flatnonzero(probs[n] >= threshold) if len(topic_ids) else []:
                for h in holders:
                    rows.append(
                        {
                            "text": s.text,
                            "context": contexts[n],
                            "actor": h.actor,
                            "side": h.side,
                            "topic": topic_ids[j],
                        }
                    )
                    keys.append((n, h, int(j)))
        stance_probs = (
            np.asarray(self.model.predict_stance(pd.DataFrame(rows)), dtype=float)
            if rows
            else np.zeros((0, len(STANCES)))
        )

        findings: list[list[Finding]] = [[] for _ in batch]
        for (n, h, j), p in zip(keys, stance_probs, strict=True):
            ai, s = flat[n]
            best = int(p.argmax())
            conf = float(probs[n, j]) * float(p[best])
            if conf < self.min_confidence:
                continue
            art = batch[ai]
            findings[ai].append(
                Finding(
                    article=art.id,
                    sentence=s.index,
                    text=s.text,
                    actor=h.actor,
                    side=h.side,
                    topic=topic_ids[j],
                    stance=STANCES[best],
                    confidence=conf,
                    attribution=h.method,
                    start=s.start,
                    end=s.end,
                    date=art.date,
                    paragraph=s.paragraph,
                    topic_confidence=float(probs[n, j]),
                    stance_confidence=float(p[best]),
                )
            )

        results, n = [], 0
        for ai, (actors, sentences, holders) in enumerate(analysed):
            scored = []
            for s, hs in zip(sentences, holders, strict=True):
                scored.append(
                    ScoredSentence(
                        s.index,
                        s.text,
                        s.start,
                        s.end,
                        s.paragraph,
                        hs,
                        {t: round(float(probs[n, j]), 4) for j, t in enumerate(topic_ids)},
                    )
                )
                n += 1
            fs = findings[ai]
            results.append(
                ArticleResult(
                    batch[ai],
                    scored,
                    fs,
                    actor_table(fs),
                    side_table(fs),
                    list(actors.new.values()),
                )
            )
        return results


class CorpusResult:
    """A corpus being scored: iterate for :class:`ArticleResult` records, one per article,
    in input order. Problems, counts and the corpus tables fill in as iteration goes on;
    read them afterwards. Iterating a second time yields nothing."""

    def __init__(
        self,
        scorer: Scorer,
        items: Iterable[Article | InputProblem],
        on_problem: Callable[[InputProblem], None] | None = None,
    ):
        self.scorer = scorer
        self._items = items
        self._on_problem = on_problem
        self.problems: list[InputProblem] = []
        self.tally = CorpusTally()
        self.n_articles = self.n_sentences = self.n_findings = 0
        self._used = False

    @property
    def errors(self) -> list[InputProblem]:
        """Inputs (or articles) that could not be scored."""
        return [p for p in self.problems if p.level == "error"]

    def _problem(self, p: InputProblem) -> None:
        self.problems.append(p)
        if self._on_problem is not None:
            self._on_problem(p)

    def _articles(self) -> Iterator[Article]:
        for item in self._items:
            if isinstance(item, InputProblem):
                self._problem(item)
            else:
                yield item

    def __iter__(self) -> Iterator[ArticleResult]:
        if self._used:
            return
        self._used = True
        for batch in self.scorer.batches(self._articles()):
            yield from self._score(batch)

    def _score(self, batch: list[Article]) -> Iterator[ArticleResult]:
        try:
            results = self.scorer.score_batch(batch)
        except StanceError:
            raise
        except Exception:
            # Find the article that breaks the batch; one bad article never loses the rest.
            results, failures = [], []
            for art in batch:
                try:
                    results += self.scorer.score_batch([art])
                except StanceError:
                    raise
                except Exception as exc:  # noqa: BLE001 - reported per article
                    failures.append(exc)
                    self._problem(
                        InputProblem(
                            art.origin,
                            0,
                            f"could not be scored ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:160] if str(exc) else ''})",
                        )
                    )
            if len(batch) > 1 and not results:
                raise StanceError(
                    f"scoring failed for every article: {type(failures[0]).__name__}: "
                    f"{str(failures[0]).splitlines()[0][:200] if str(failures[0]) else ''}"
                ) from failures[0]
        for r in results:
            self.n_articles += 1
            self.n_sentences += len(r.sentences)
            self.n_findings += len(r.findings)
            for f in r.findings:
                self.tally.add(f)
            yield r

    def summary(self) -> dict[str, Any]:
        """Counts and the corpus tables (actors and sides, overall and per date)."""
        tables = self.tally.summary()
        return {
            "articles": self.n_articles,
            "sentences": self.n_sentences,
            "findings": self.n_findings,
            "problems": [str(p) for p in self.problems],
            **{k: [p.to_dict() for p in v] for k, v in tables.items()},
        }


# -- public API -----------------------------------------------------------------------
def score_article(
    text: str | Article,
    model=None,
    registry: Registry | str | Path | None = None,
    min_confidence: float = 0.0,
    *,
    id: str = "text",
    date: str | None = None,
    title: str = "",
    max_chars: int = MAX_CHARS,
) -> ArticleResult:
    """Score one article given as text (a ``date YYYY-MM-DD`` first line is read) or as an
    :class:`Article`. ``model``: a classifier, a folder or an MLflow URI (None: champion);
    ``registry``: a :class:`Registry` or labels folder (None: ``labels/``)."""
    if isinstance(text, Article):
        article = text
    else:
        article, problems = read_text(text, id=id, date=date, title=title, max_chars=max_chars)
        errors = [p for p in problems if p.level == "error"]
        if article is None:
            raise StanceError(str(errors[0]) if errors else f"{id}: nothing to score")
    scorer = get_scorer(model, registry, min_confidence)
    return scorer.score_batch([article])[0]


def score_corpus(
    paths: Iterable[str | Path] | str | Path,
    model=None,
    registry: Registry | str | Path | None = None,
    min_confidence: float = 0.0,
    *,
    date: str | None = None,
    strict: bool = False,
    max_chars: int = MAX_CHARS,
    on_problem: Callable[[InputProblem], None] | None = None,
) -> CorpusResult:
    """Score files, folders (recursively), JSONL corpora and ``"-"`` (stdin), streaming.

    The model and registry load now (a bad model raises :class:`StanceError` here);
    articles are read and scored while you iterate the returned :class:`CorpusResult`.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    scorer = get_scorer(model, registry, min_confidence)
    items = read_inputs(list(paths), date=date, strict=strict, max_chars=max_chars)
    return CorpusResult(scorer, items, on_problem)


_SCORERS: list[tuple[Any, Any, float, Scorer]] = []


def get_scorer(model=None, registry=None, min_confidence: float = 0.0) -> Scorer:
    """A :class:`Scorer`, reused while the same model and registry are asked for."""
    mkey = model if not isinstance(model, (str, Path)) and model is not None else str(model)
    rkey = registry if isinstance(registry, Registry) else str(registry)
    for m, r, c, scorer in _SCORERS:
        if (m is mkey or m == mkey) and (r is rkey or r == rkey) and c == min_confidence:
            return scorer
    scorer = Scorer(model, registry, min_confidence=min_confidence)
    _SCORERS.insert(0, (mkey, rkey, min_confidence, scorer))
    del _SCORERS[2:]
    return scorer


def resolve_model(model):
    """A classifier object as is; None, a folder or an MLflow URI through ``load_classifier``."""
    if model is not None and not isinstance(model, (str, Path)):
        for attr in ("predict_topics", "predict_stance", "topic_ids"):
            if not hasattr(model, attr):
                raise StanceError(
                    f"model object lacks {attr}: pass a StanceClassifier, a folder or a URI"
                )
        return model
    from .tracking import load_classifier

    return load_classifier(model)


def resolve_registry(registry: Registry | str | Path | None) -> Registry:
    if isinstance(registry, Registry):
        return registry
    path = Path(registry) if registry is not None else LABELS_DIR
    if not (path / "actors.yaml").exists():
        raise StanceError(f"{path}: no actors.yaml (the actor registry): pass --labels DIR")
    return Registry.load(path)
