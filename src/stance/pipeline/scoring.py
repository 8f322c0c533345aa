"""Score articles: who holds which position, with evidence — the library API.

In: article text, :class:`~stance.pipeline.reading.Article` records or paths; a trained
classifier (default ``models/champion/``, or any folder or MLflow model URI); the actor
registry. Out: per article an :class:`ArticleResult` with its sentences, their holders,
the findings and the aggregated actor × topic and side tables; for a corpus a streaming
:class:`CorpusResult`.

:class:`Scorer` runs the stages on a batch of articles, one method each (batched for
throughput: one ``nlp.pipe`` call, one ``predict_topics`` call over every sentence and one
``predict_stance`` call over every (sentence, holder, topic) of the batch that could reach
the position cut):

segment → find actors → attribute holders → detect topics → predict stance → assemble.

A finding is one (sentence, holder, topic ≠ none) with its stance; its ``confidence`` is
P(topic | sentence) × P(stance | sentence, holder, topic).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..config import LABELS_DIR, MAX_CHARS, STANCES
from ..errors import StanceError
from ..labels.registry import ACTORS_FILE, Registry
from .actors import ActorIndex, ArticleActors, Mention, NewActor
from .attribution import Holder, attribute
from .findings import (
    EXTRA_KEYS,
    FINDING_KEYS,
    CorpusTally,
    Finding,
    Position,
    actor_table,
    side_table,
)
from .holders import candidates
from .reading import Article, InputProblem, read_inputs, read_text
from .segmentation import Sentence, load_nlp, segment

__all__ = ["FINDING_KEYS", "ArticleResult", "CorpusResult", "Finding", "Scorer", "score_article", "score_corpus"]


@dataclass
class ArticleResult:
    """Everything found in one article."""

    article: Article
    sentences: list[Sentence]  # with their holders and topic probabilities
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

        return pd.DataFrame([f.to_dict() for f in self.findings], columns=[*FINDING_KEYS, *EXTRA_KEYS])

    def positions_frame(self):
        import pandas as pd

        return pd.DataFrame([p.to_dict() for p in self.positions], columns=list(Position.__dataclass_fields__))


@dataclass
class _Analysed:
    """One article between the language stages and the model stages."""

    article: Article
    sentences: list[Sentence]
    actors: ArticleActors
    mentions: list[list[Mention]] = field(default_factory=list)  # per sentence
    candidates: list = field(default_factory=list)  # per sentence, with a holder model

    def detached(self) -> _Analysed:
        """What the model stages read, without spaCy objects: small to send between processes."""
        for s in self.sentences:
            s.span = None
        return _Analysed(self.article, self.sentences, ArticleActors(None, dict(self.actors.new)))


# The language stages a forked worker inherits from the process that started it.
_worker_stages: LanguageStages | None = None


def _adopt_stages(stages: LanguageStages) -> None:
    import signal

    global _worker_stages
    _worker_stages = stages
    # Ctrl-C reaches the whole process group: the parent stops the workers, which must
    # not print tracebacks of their own; SIGTERM just ends them.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _analyse_detached(batch: list[Article]) -> list[_Analysed]:
    return [a.detached() for a in _worker_stages.analyse(batch)]


def _collect(future) -> tuple[list[_Analysed] | None, bool]:
    """A worker's analysis of a batch (None: redo it in-process) and whether the pool broke
    (``future`` None: submitted after it had)."""
    from concurrent.futures.process import BrokenProcessPool

    if future is None:
        return None, True
    try:
        return future.result(), False
    except BrokenProcessPool:
        return None, True
    except Exception:  # noqa: BLE001 - redone in-process, where the bad article is found
        return None, False


class LanguageStages:
    """The stages before the model: segment, find actors, attribute holders.

    Shared by :class:`Scorer` and by the training of the holder model, so both see the
    same sentences, mentions and candidates.
    """

    def __init__(
        self,
        registry: Registry | str | Path | None = None,
        *,
        all_entities: bool = False,
        holder_model=None,
        spacy_model: str | None = None,
    ):
        self.registry = resolve_registry(registry)
        # False: look for names the registry lacks only where they could hold a position.
        self.all_entities = all_entities
        self.holder_model = holder_model
        self.nlp = load_nlp(spacy_model)
        self.index = ActorIndex(self.registry, self.nlp)

    def analyse(self, batch: list[Article]) -> list[_Analysed]:
        """Sentences of each article with their holders filled in."""
        analysed = self.find_actors(batch, self.segment(batch))
        self.attribute_holders(analysed)
        return analysed

    def segment(self, batch: list[Article]) -> list[list[Sentence]]:
        return segment([a.text for a in batch], self.nlp)

    def find_actors(self, batch: list[Article], segmented: list[list[Sentence]]) -> list[_Analysed]:
        """Registry mentions, then named entities where a holder could be (one NER pass)."""
        docs = {id(s.span.doc): s.span.doc for sentences in segmented for s in sentences}
        self.index.recognise(list(docs.values()), everywhere=self.all_entities)
        analysed = []
        for art, sentences in zip(batch, segmented, strict=True):
            a = _Analysed(art, sentences, ArticleActors(self.index))
            found: dict[int, list[Mention]] = {}
            for s in sentences:
                doc = s.span.doc
                if id(doc) not in found:
                    found[id(doc)] = a.actors.find(doc)
                a.mentions.append([m for m in found[id(doc)] if s.span.start <= m.start < s.span.end])
            analysed.append(a)
        return analysed

    def attribute_holders(self, analysed: list[_Analysed]) -> None:
        """Fill in ``Sentence.holders``: the rules' holders, or the learned model's choice
        among all candidates when the model has a holder model."""
        for a in analysed:
            rules = attribute(a.sentences, a.mentions, a.actors)
            if self.holder_model is None:
                for s, holders in zip(a.sentences, rules, strict=True):
                    s.holders = holders
                continue
            a.candidates = candidates(a.sentences, a.mentions, a.actors, rules)
            for s, cands in zip(a.sentences, a.candidates, strict=True):
                s.holders = [
                    Holder(c.actor, c.side, c.method, c.words, float(p)) for c, p in self.holder_model.choose(cands)
                ]


class Scorer(LanguageStages):
    """A loaded model, spaCy pipeline and actor index, reused for any number of articles."""

    def __init__(
        self,
        model=None,
        registry: Registry | str | Path | None = None,
        *,
        min_confidence: float | None = None,
        batch_articles: int = 32,
        batch_chars: int = 150_000,
        all_entities: bool = False,
        learned_holders: bool = True,
        n_process: int | None = None,
        spacy_model: str | None = None,
    ):
        self.model = resolve_model(model)
        holder_model = getattr(self.model, "holder_model", None) if learned_holders else None
        super().__init__(registry, all_entities=all_entities, holder_model=holder_model, spacy_model=spacy_model)
        # None: the model's own cut, tuned on dev documents (0 for models trained before it).
        if min_confidence is None:
            min_confidence = getattr(self.model, "position_threshold", 0.0)
        self.min_confidence = float(min_confidence)
        self.batch_articles = batch_articles
        self.batch_chars = batch_chars
        # Language-stage worker processes for inputs of more than one batch (None: one per core).
        self.n_process = n_process

    @property
    def topics(self) -> list[str]:
        return self.model.topic_ids

    @property
    def topic_threshold(self) -> float:
        """The model's topic cut: a topic below it gets no stance question."""
        return float(getattr(self.model, "topic_threshold", 0.5))

    # -- streaming ----------------------------------------------------------------------
    def score(
        self, articles: Iterable[Article], on_problem: Callable[[InputProblem], None] | None = None
    ) -> Iterator[ArticleResult]:
        """Results in input order, a batch at a time.

        An article that breaks its batch is found and reported to ``on_problem`` (then
        skipped) so one bad article never loses the rest; without ``on_problem`` it raises.
        """
        import contextlib
        import itertools
        import multiprocessing
        import os

        batches = self.batches(articles)
        head = list(itertools.islice(batches, 2))
        workers = self.n_process if self.n_process is not None else (os.cpu_count() or 1)
        if len(head) < 2 or workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
            # One batch (one article, say): analysing in-process beats starting workers.
            for batch in itertools.chain(head, batches):
                yield from self._score_isolated(batch, on_problem)
            return
        # The workers run the language stages on the next batches while this process runs
        # the model on this one: neither waits for the other.
        stream = itertools.chain(head, batches)
        with contextlib.closing(self._analysed_in_workers(stream, workers)) as analysed:
            for batch, done in analysed:
                yield from self._score_isolated(batch, on_problem, done)

    def _analysed_in_workers(self, stream: Iterator[list[Article]], workers: int):
        """(batch, its analysis) for each batch, the language stages run by forked workers.

        The workers send back sentences, holders and new actors, not spaCy docs: shipping
        parsed docs between processes (what ``nlp.pipe(n_process=…)`` does) cost more than
        a third of the parsing itself. At most two batches per worker are in flight, so a
        corpus streams in bounded memory. A batch whose analysis failed comes with ``None``
        (the caller redoes it in-process, one article at a time if need be); so do all the
        batches after a worker died.
        """
        import multiprocessing
        from collections import deque
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        before = set(multiprocessing.active_children())
        pool = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("fork"), initializer=_adopt_stages, initargs=(self,)
        )
        pending: deque = deque()
        broken = False
        try:
            for batch in stream:
                future = None
                if not broken:
                    try:
                        future = pool.submit(_analyse_detached, batch)
                    except BrokenProcessPool:
                        broken = True
                pending.append((batch, future))
                while len(pending) > 2 * workers or (pending and pending[0][1] is None):
                    batch, future = pending.popleft()
                    analysis, died = _collect(future)
                    broken |= died
                    yield batch, analysis
            while pending:
                batch, future = pending.popleft()
                yield batch, _collect(future)[0]
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            # Stopped early (SIGTERM, Ctrl-C, the caller broke off): the workers hold no
            # state, so they are stopped rather than left to finish their batch.
            for worker in set(multiprocessing.active_children()) - before:
                worker.kill()
                worker.join()

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

    def _score_isolated(self, batch: list[Article], on_problem, analysed=None) -> list[ArticleResult]:
        try:
            return self.score_batch(batch, analysed)
        except StanceError:
            raise
        except Exception as exc:
            if on_problem is None:
                raise
            first = exc
        results, failures = [], []
        for art in batch if len(batch) > 1 else []:
            try:
                results += self.score_batch([art])
            except StanceError:
                raise
            except Exception as exc:  # noqa: BLE001 - reported per article
                failures.append((art, exc))
        if len(batch) == 1:
            failures = [(batch[0], first)]
        for art, exc in failures:
            on_problem(InputProblem(art.origin, 0, f"could not be scored ({_describe(exc)})"))
        if len(batch) > 1 and not results:
            raise StanceError(f"scoring failed for every article: {_describe(failures[0][1])}") from failures[0][1]
        return results

    # -- the stages ---------------------------------------------------------------------
    def score_batch(self, batch: list[Article], analysed: list[_Analysed] | None = None) -> list[ArticleResult]:
        """Every stage on a batch of articles (``analysed``: the language stages done already)."""
        if analysed is None:
            analysed = self.analyse(batch)
        sentences = [(n, s) for n, a in enumerate(analysed) for s in a.sentences]
        self.detect_topics(sentences)
        findings = self.predict_stance(analysed, sentences)
        return [self.assemble(a, fs) for a, fs in zip(analysed, findings, strict=True)]

    def detect_topics(self, sentences: list[tuple[int, Sentence]]) -> None:
        """Fill in ``Sentence.topics`` with one ``predict_topics`` call for the batch."""
        import numpy as np

        if not sentences:
            return
        frame = self._frame(text=[s.text for _, s in sentences], context=self._contexts(sentences))
        # A topic below the topic cut gets no stance question, and a finding's confidence is
        # at most its topic's probability: below either cut, no probability changes a result.
        floor = max(self.topic_threshold, self.min_confidence)
        above = getattr(self.model, "predict_topics_above", None)
        probs = np.asarray(above(frame, floor) if above else self.model.predict_topics(frame), dtype=float)
        for (_, s), row in zip(sentences, probs, strict=True):
            s.topics = {t: float(p) for t, p in zip(self.topics, row, strict=True)}

    def predict_stance(self, analysed: list[_Analysed], sentences: list[tuple[int, Sentence]]) -> list[list[Finding]]:
        """One stance question per (sentence, holder, detected topic); the findings per article."""
        import numpy as np

        threshold = self.topic_threshold
        rows, keys = [], []
        for (n, s), context in zip(sentences, self._contexts(sentences), strict=True):
            # A finding's confidence is at most topic × holder probability: a topic whose
            # best holder cannot reach the cut asks no question. Whole topics go, so every
            # sentence keeps its holders in the frame (the transformer reads how many).
            reach = max((h.confidence for h in s.holders), default=0.0)
            for topic in (
                t for t in self.topics if s.topics[t] >= threshold and s.topics[t] * reach >= self.min_confidence
            ):
                for h in s.holders:
                    side, _ = _side(analysed[n], h)
                    name = self.registry.find_name(s.text, h.actor)
                    if not name and h.actor not in self.registry.actors and h.words in s.text:
                        name = h.words  # a new actor: named as NER found it
                    rows.append(
                        {
                            "text": s.text,
                            "context": context,
                            "actor": h.actor,
                            "side": side,
                            "topic": topic,
                            "holder_name": name,
                        }
                    )
                    keys.append((n, s, h, topic))
        probs = (
            np.asarray(
                self.model.predict_stance(self._frame(**{k: [r[k] for r in rows] for k in rows[0]})), dtype=float
            )
            if rows
            else np.zeros((0, len(STANCES)))
        )
        findings: list[list[Finding]] = [[] for _ in analysed]
        for (n, s, h, topic), p in zip(keys, probs, strict=True):
            best = int(p.argmax())
            # Three independent decisions must all be right: topic, stance and holder.
            conf = s.topics[topic] * float(p[best]) * h.confidence
            if conf < self.min_confidence:
                continue
            art = analysed[n].article
            side, inferred = _side(analysed[n], h)
            findings[n].append(
                Finding(
                    article=art.id,
                    sentence=s.index,
                    text=s.text,
                    actor=h.actor,
                    side=side,
                    topic=topic,
                    stance=STANCES[best],
                    confidence=min(conf, 1.0),
                    attribution=h.method,
                    # Offsets into the input as given, invisible characters included.
                    start=art.source_offset(s.start),
                    end=art.source_offset(s.end, end=True),
                    date=art.date,
                    paragraph=s.paragraph,
                    topic_confidence=s.topics[topic],
                    stance_confidence=float(p[best]),
                    holder_confidence=h.confidence,
                    side_inferred=inferred,
                    title=art.title,
                )
            )
        return findings

    def assemble(self, analysed: _Analysed, findings: list[Finding]) -> ArticleResult:
        for s in analysed.sentences:
            s.topics = {t: round(p, 4) for t, p in s.topics.items()} or dict.fromkeys(self.topics, 0.0)
        return ArticleResult(
            analysed.article,
            analysed.sentences,
            findings,
            actor_table(findings),
            side_table(findings),
            list(analysed.actors.new.values()),
        )

    def _frame(self, **columns):
        """What the model's predict_* read: light columns for the built-in families, a
        DataFrame (the documented contract) for any other classifier."""
        from ..models.base import Columns

        if getattr(self.model, "reads_columns", False):
            return Columns(columns)
        import pandas as pd

        return pd.DataFrame(columns)

    @staticmethod
    def _contexts(sentences: list[tuple[int, Sentence]]) -> list[str]:
        """The previous sentence of the same article ("" for an article's first)."""
        out, prev = [], (None, "")
        for n, s in sentences:
            out.append(prev[1] if prev[0] == n else "")
            prev = (n, s.text)
        return out


def _side(analysed: _Analysed, holder: Holder) -> tuple[str, bool]:
    """A holder's side and whether it was inferred: a new actor's side as last inferred in
    the article (a later "Russia's deputy foreign minister" settles an earlier "Grushko")."""
    new = analysed.actors.new.get(holder.actor)
    if new is None:
        return holder.side, False
    return new.side, new.side_inferred


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:160] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"


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
        for r in self.scorer.score(self._articles(), on_problem=self._problem):
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
    min_confidence: float | None = None,
    *,
    id: str = "text",
    date: str | None = None,
    title: str = "",
    max_chars: int = MAX_CHARS,
) -> ArticleResult:
    """Score one article given as text (a ``date YYYY-MM-DD`` first line is read) or as an
    :class:`Article`. ``model``: a :class:`Scorer` (reused as is: build one for many
    calls), a classifier, a folder or an MLflow URI (None: champion); ``registry``: a
    :class:`Registry` or labels folder (None: ``labels/``)."""
    if isinstance(text, Article):
        article = text
    else:
        article, problems = read_text(text, id=id, date=date, title=title, max_chars=max_chars)
        errors = [p for p in problems if p.level == "error"]
        if article is None:
            raise StanceError(str(errors[0]) if errors else f"{id}: nothing to score")
    scorer = model if isinstance(model, Scorer) else Scorer(model, registry, min_confidence=min_confidence)
    return scorer.score_batch([article])[0]


def score_corpus(
    paths: Iterable[str | Path] | str | Path,
    model=None,
    registry: Registry | str | Path | None = None,
    min_confidence: float | None = None,
    *,
    date: str | None = None,
    strict: bool = False,
    max_chars: int = MAX_CHARS,
    on_problem: Callable[[InputProblem], None] | None = None,
    n_process: int | None = None,
) -> CorpusResult:
    """Score files, folders (recursively), JSONL corpora and ``"-"`` (stdin), streaming.

    The model and registry load now (a bad model raises :class:`StanceError` here);
    articles are read and scored while you iterate the returned :class:`CorpusResult`.
    ``model`` may also be a :class:`Scorer`. ``n_process``: language-stage worker processes (None:
    one per core where the input is more than one batch).
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if isinstance(model, Scorer):
        scorer = model
    else:
        scorer = Scorer(model, registry, min_confidence=min_confidence, n_process=n_process)
    items = read_inputs(list(paths), date=date, strict=strict, max_chars=max_chars)
    return CorpusResult(scorer, items, on_problem)


def resolve_model(model):
    """A classifier object as is; None, a folder or an MLflow URI through ``load_classifier``."""
    if model is not None and not isinstance(model, (str, Path)):
        for attr in ("predict_topics", "predict_stance", "topic_ids"):
            if not hasattr(model, attr):
                raise StanceError(f"model object lacks {attr}: pass a StanceClassifier, a folder or a URI")
        return model
    from ..tracking import load_classifier

    return load_classifier(model)


def resolve_registry(registry: Registry | str | Path | None) -> Registry:
    if isinstance(registry, Registry):
        return registry
    path = Path(registry) if registry is not None else LABELS_DIR
    if not (path / ACTORS_FILE).exists():
        raise StanceError(f"{path}: no actors.yaml (the actor registry): pass --labels DIR")
    return Registry.load(path)


def expected_articles(paths: Iterable[str | Path]) -> int | None:
    """How many articles (or failed inputs) scoring ``paths`` will yield, for a progress
    total: a file is one, a JSONL corpus one per non-blank line, a folder what it holds.
    None when it cannot be known without reading the input (stdin)."""
    from .reading import JSONL_SUFFIXES, SUPPORTED

    def lines(path: Path) -> int:
        count = 0
        with path.open("rb") as fh:
            for line in fh:
                count += bool(line.strip())
        return max(count, 1)

    def one(path: Path) -> int:
        return lines(path) if path.suffix.lower() in JSONL_SUFFIXES else 1

    total = 0
    for raw in paths:
        if str(raw) == "-":
            return None
        path = Path(raw)
        try:
            if path.is_dir():
                files = [
                    p
                    for p in path.rglob("*")
                    if p.is_file()
                    and p.suffix.lower() in SUPPORTED
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                ]
                total += sum(one(f) for f in files) or 1
            else:
                total += one(path)
        except OSError:
            total += 1  # reported as a failed input when it is read
    return total
