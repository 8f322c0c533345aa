"""Pick the sentences whose labels would teach the model most (active learning).

In: the user's articles (any input ``stance score`` reads), one or more trained models
(the first one's findings become the pre-annotations; the others vote), the registry
and the labelled corpus. Out: :class:`Suggestion` — the picked sentences, most informative
first, as Label Studio tasks.

A sentence scores higher the less sure the model is of it (:class:`Weights`): topic
probabilities near the threshold, stance confidence low, holder-model scores near its
threshold, models that disagree, a holder the registry lacks, or a position that went to
``author`` while a speaker is near. The pick is spread over articles (a per-article cap)
and over topics (each pick from the same article or topic discounts the next), and never
takes a sentence already in the labelled corpus.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ..config import AUTHOR, LABELS_DIR, MAX_CHARS, NONE_TOPIC, STANCES
from ..errors import StanceError
from .corpus import POSITIONS_FILE
from .studio import Position, make_task

_SPACE = re.compile(r"\s+")
_SPEECH = {"quote", "reported"}


class Weights(BaseModel):
    """How much each sign of uncertainty counts (each sign is in [0, 1])."""

    model_config = ConfigDict(extra="forbid")
    topic: float = 1.0  # a topic probability near the decision threshold
    stance: float = 1.0  # 1 - the stance confidence of a finding
    holder: float = 1.0  # a holder-model score near its threshold
    disagreement: float = 1.0  # another model reads the topics or stances differently
    new_holder: float = 0.5  # a holder the registry lacks
    author_near_speaker: float = 0.5  # ``author`` holds it while a speaker is in or next to the sentence
    min_words: int = 4  # shorter "sentences" (datelines, captions) teach little
    spread: float = 0.25  # each earlier pick from the same article or topic discounts by this share


@dataclass
class Candidate:
    """One scored sentence of an article."""

    article: str
    sent: int
    text: str
    context: str
    before: str
    after: str
    title: str
    date: str | None
    source: str
    url: str
    topic: str  # its most likely topic, or ``none``: the key of the topic spread
    score: float
    signs: dict[str, float]
    positions: list[Position] = field(default_factory=list)
    order: int = 0  # position in the corpus, for deterministic ties

    def why(self) -> str:
        named = {
            "topic": "unsure of the topic",
            "stance": "unsure of the stance",
            "holder": "unsure who holds it",
            "disagreement": "the models disagree",
            "new_holder": "a holder the registry lacks",
            "author_near_speaker": "given to the author while a speaker is near",
        }
        top = sorted(((v, k) for k, v in self.signs.items() if v >= 0.2), reverse=True)
        return "Picked because: " + (", ".join(f"{named[k]} ({v:.2f})" for v, k in top) or "rarely seen text") + "."

    def task(self, model_version: str) -> dict:
        data = {
            "text": self.text,
            "context": self.context,
            "before": self.before,
            "after": self.after,
            "title": self.title or self.article,
            "article": self.article,
            "sent": self.sent,
            "date": self.date,
            "source": self.source,
            "url": self.url,
            "why": self.why(),
            "score": round(self.score, 4),
        }
        return make_task(data, self.positions, model_version, self.score)


@dataclass
class Suggestion:
    picked: list[Candidate]
    articles: int
    sentences: int
    skipped_labelled: int
    model_version: str

    def tasks(self) -> list[dict]:
        return [c.task(self.model_version) for c in self.picked]


def normalise(text: str) -> str:
    """Whitespace- and case-insensitive sentence key: "already labelled" survives reflowing."""
    return _SPACE.sub(" ", text).strip().casefold()


def labelled_texts(labels_dir: str | Path) -> set[str]:
    """Keys of every sentence in ``positions.jsonl`` (raw JSON read: a half-valid corpus
    must still keep its sentences out of the suggestions)."""
    import json

    path = Path(labels_dir) / POSITIONS_FILE
    if not path.exists():
        return set()
    keys = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and isinstance(row.get("text"), str):
            keys.add(normalise(row["text"]))
    return keys


def _closeness(p: float, threshold: float) -> float:
    """1 at the threshold, 0 at certainty (0 or 1)."""
    span = threshold if p < threshold else 1.0 - threshold
    return max(0.0, 1.0 - abs(p - threshold) / span) if span > 0 else 0.0


def score_candidates(
    paths: Iterable[str | Path],
    models: list,
    registry,
    labels_dir: str | Path = LABELS_DIR,
    weights: Weights | None = None,
    *,
    date: str | None = None,
    max_chars: int = MAX_CHARS,
    on_problem: Callable | None = None,
) -> tuple[list[Candidate], dict[str, int]]:
    """Every unlabelled sentence of the articles, scored; with counts for the report."""
    import numpy as np
    import pandas as pd

    from ..pipeline.reading import InputProblem, read_inputs
    from ..pipeline.scoring import Scorer, resolve_model

    if not models:
        raise StanceError("no model to score with: pass --model or run `make train` first")
    weights = weights or Weights()
    scorer = Scorer(models[0], registry, min_confidence=0.0)  # the doubtful findings are the point
    others = [resolve_model(m) for m in models[1:]]
    known = labelled_texts(labels_dir)
    seen: set[str] = set()
    counts = Counter()
    out: list[Candidate] = []

    def articles():
        for item in read_inputs(list(paths), date=date, max_chars=max_chars):
            if isinstance(item, InputProblem):
                if on_problem:
                    on_problem(item)
                continue
            yield item

    threshold = float(getattr(scorer.model, "topic_threshold", 0.5))
    holder_model = scorer.holder_model
    for batch in scorer.batches(articles()):
        analysed = scorer.analyse(batch)
        sentences = [(n, s) for n, a in enumerate(analysed) for s in a.sentences]
        scorer.detect_topics(sentences)
        findings = scorer.predict_stance(analysed, sentences)
        contexts = scorer._contexts(sentences)
        frame = pd.DataFrame({"text": [s.text for _, s in sentences], "context": contexts})
        other_topics = [(m.topic_ids, np.asarray(m.predict_topics(frame), dtype=float)) for m in others if len(frame)]
        row_of = {id(s): i for i, (_, s) in enumerate(sentences)}
        for n, a in enumerate(analysed):
            counts["articles"] += 1
            by_sentence: dict[int, list] = {}
            for f in findings[n]:
                by_sentence.setdefault(f.sentence, []).append(f)
            other_stance = _other_stances(others, findings[n], a, contexts, row_of)
            for i, s in enumerate(a.sentences):
                counts["sentences"] += 1
                key = normalise(s.text)
                if key in known:
                    counts["skipped_labelled"] += 1
                    continue
                if key in seen or len(s.text.split()) < weights.min_words:
                    continue
                seen.add(key)
                fs = sorted(by_sentence.get(s.index, []), key=lambda f: -f.confidence)
                row = row_of[id(s)]
                signs = {
                    "topic": max((_closeness(p, threshold) for p in s.topics.values()), default=0.0),
                    "stance": max((1.0 - f.stance_confidence for f in fs), default=0.0),
                    "holder": _holder_doubt(holder_model, a.candidates[i] if a.candidates else [], fs),
                    "disagreement": _disagreement(s, other_topics, row, fs, other_stance),
                    "new_holder": float(any(h.actor not in scorer.registry.actors for h in s.holders) and bool(fs)),
                    "author_near_speaker": float(_author_near_speaker(a, i, fs)),
                }
                score = sum(getattr(weights, k) * v for k, v in signs.items())
                best = max(s.topics, key=s.topics.get) if s.topics else NONE_TOPIC
                names = {na.id: na.name for na in a.actors.new.values()}
                positions = [
                    Position(f.actor, f.topic, f.stance)
                    if f.actor in scorer.registry.actors
                    else Position("", f.topic, f.stance, names.get(f.actor, f.actor))
                    for f in fs
                ]
                prev = a.sentences[max(0, i - 2) : i]
                out.append(
                    Candidate(
                        article=a.article.id,
                        sent=s.index,
                        text=s.text,
                        context=a.sentences[i - 1].text if i else "",
                        before=" ".join(p.text for p in prev),
                        after=a.sentences[i + 1].text if i + 1 < len(a.sentences) else "",
                        title=a.article.title,
                        date=a.article.date,
                        source=a.article.source,
                        url=a.article.url,
                        topic=best if s.topics and s.topics[best] >= threshold else NONE_TOPIC,
                        score=score,
                        signs=signs,
                        positions=positions,
                        order=len(out),
                    )
                )
    return out, dict(counts)


def _holder_doubt(holder_model, cands, fs) -> float:
    """How close the holder model's best calls are to its threshold, where a position was found."""
    if holder_model is None or not cands or not fs:
        return 0.0
    return max(_closeness(p, holder_model.threshold) for p in holder_model.scores(cands))


def _other_stances(others, fs, analysed, contexts, row_of) -> list[dict]:
    """Per other model: (sentence, actor, topic) → its stance on the primary's findings."""
    import numpy as np
    import pandas as pd

    if not others or not fs:
        return []
    by_index = {s.index: s for s in analysed.sentences}
    rows = [
        {
            "text": f.text,
            "context": contexts[row_of[id(by_index[f.sentence])]],
            "actor": f.actor,
            "side": f.side,
            "topic": f.topic,
        }
        for f in fs
    ]
    out = []
    for m in others:
        probs = np.asarray(m.predict_stance(pd.DataFrame(rows)), dtype=float)
        out.append({(f.sentence, f.actor, f.topic): STANCES[int(p.argmax())] for f, p in zip(fs, probs, strict=True)})
    return out


def _disagreement(s, other_topics, row, fs, other_stance) -> float:
    """The largest gap between the models: a topic one detects and another does not, or a
    finding whose stance another model reads differently."""
    gaps = [0.0]
    for ids, probs in other_topics:  # by topic id: the families may order their topics differently
        gaps += [abs(float(p) - s.topics[t]) for t, p in zip(ids, probs[row], strict=True) if t in s.topics]
    for table in other_stance:
        gaps += [float(table.get((f.sentence, f.actor, f.topic), f.stance) != f.stance) for f in fs]
    return max(gaps)


def _author_near_speaker(a, i: int, fs) -> bool:
    """A position given to ``author`` while someone is speaking in or around the sentence."""
    if not any(f.actor == AUTHOR for f in fs):
        return False
    s = a.sentences[i]
    if any(m.actor != AUTHOR and m.kind == "person" for m in a.mentions[i]):
        return True
    near = [a.sentences[j] for j in (i - 1, i + 1) if 0 <= j < len(a.sentences)]
    return any(h.method in _SPEECH for n in near for h in n.holders) or any(h.method in _SPEECH for h in s.holders)


def select(candidates: list[Candidate], n: int, per_article: int, spread: float = 0.25) -> list[Candidate]:
    """The ``n`` most informative candidates, at most ``per_article`` from one article;
    each earlier pick from the same article or topic discounts a candidate by ``spread``
    (greedy, re-scored lazily), so the pick covers articles and topics. Most informative
    first."""
    import heapq

    taken_article: Counter = Counter()
    taken_topic: Counter = Counter()

    def effective(c: Candidate) -> float:
        return c.score * (1 - spread) ** taken_article[c.article] * (1 - spread) ** taken_topic[c.topic]

    heap = [(-c.score, c.order, c) for c in candidates]
    heapq.heapify(heap)
    picked: list[Candidate] = []
    while heap and len(picked) < n:
        neg, order, c = heapq.heappop(heap)
        if taken_article[c.article] >= per_article:
            continue
        now = effective(c)
        if not math.isclose(now, -neg) and heap and now < -heap[0][0]:
            heapq.heappush(heap, (-now, order, c))
            continue
        picked.append(c)
        taken_article[c.article] += 1
        taken_topic[c.topic] += 1
    return picked


def suggest(
    paths: Iterable[str | Path],
    models: list,
    registry=None,
    labels_dir: str | Path = LABELS_DIR,
    *,
    n: int = 200,
    per_article: int = 10,
    weights: Weights | None = None,
    model_version: str = "stance",
    date: str | None = None,
    on_problem: Callable | None = None,
) -> Suggestion:
    """Score the articles and pick ``n`` sentences to label (see the module docstring)."""
    weights = weights or Weights()
    registry = registry if registry is not None else labels_dir
    candidates, counts = score_candidates(
        paths, models, registry, labels_dir, weights, date=date, on_problem=on_problem
    )
    picked = select(candidates, n, per_article, weights.spread)
    return Suggestion(
        picked,
        counts.get("articles", 0),
        counts.get("sentences", 0),
        counts.get("skipped_labelled", 0),
        model_version,
    )
