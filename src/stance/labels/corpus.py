"""The labelled corpus (``labels/positions.jsonl``): load, validate, split, summarise.

In: a labels directory (``topics.yaml``, ``actors.yaml``, ``positions.jsonl`` and the
optional ``documents.jsonl`` of per-document metadata). Out: a :class:`LabelSet` whose
frames feed training, or a list of :class:`~stance.errors.Problem` for ``labels check``.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from ..config import NONE_TOPIC, STANCES, Stance
from ..errors import LabelsError, Problem
from ..io import parse_records, write_jsonl
from .registry import ACTORS_FILE, TOPICS_FILE, Registry, read_optional

if TYPE_CHECKING:  # pandas is imported where frames are built: scoring needs none of it
    from collections.abc import Iterable

    import pandas as pd

SPLITS = ("train", "dev", "test")
POSITIONS_FILE = "positions.jsonl"
DOCUMENTS_FILE = "documents.jsonl"


class Item(BaseModel):
    """One labelled (sentence, holder, topic, stance) record."""

    model_config = ConfigDict(extra="forbid")
    id: str
    doc: str
    sent: int
    text: str
    context: str = ""
    actor: str = ""
    topic: str
    stance: Stance
    split: Literal["train", "dev", "test"]


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")
    doc: str
    title: str = ""
    date: str | None = None
    genre: str = ""
    source: str = ""


def check_items(rows: list[tuple[int, Item]], registry: Registry, path: str) -> list[Problem]:
    """Every consistency rule of the spec that a single file can break."""
    problems: list[Problem] = []
    topics = set(registry.topics)
    seen_ids: dict[str, int] = {}
    sentence_text: dict[tuple[str, int], tuple[str, str, int]] = {}
    doc_split: dict[str, tuple[str, int]] = {}
    pair_seen: dict[tuple, int] = {}
    none_at: dict[tuple[str, int], int] = {}
    position_at: dict[tuple[str, int], int] = {}
    for line, it in rows:
        where = lambda msg, line=line: problems.append(Problem(path, line, msg))  # noqa: E731
        if it.id in seen_ids:
            where(f"duplicate id {it.id!r} (first on line {seen_ids[it.id]}): give each item a unique id")
        seen_ids.setdefault(it.id, line)
        if it.topic != NONE_TOPIC and it.topic not in topics:
            where(f"unknown topic {it.topic!r}: use one of {sorted(topics)} or 'none', or add it to topics.yaml")
        if it.topic == NONE_TOPIC:
            if it.actor or it.stance != "neutral":
                where("topic 'none' needs an empty actor and stance 'neutral'")
        elif not it.actor:
            where(f"topic {it.topic!r} needs an actor (use 'author' for the writer's own voice)")
        elif it.actor not in registry.actors:
            where(f"unknown actor {it.actor!r}: add it to actors.yaml or fix the id")
        if it.sent < 0:
            where("sent must be >= 0")
        key = (it.doc, it.sent)
        if key in sentence_text:
            text, context, first = sentence_text[key]
            if text != it.text:
                where(
                    f"doc {it.doc!r} sentence {it.sent} has different text on line {first}: "
                    "doc/sent disagrees with text"
                )
            elif context != it.context:
                where(f"doc {it.doc!r} sentence {it.sent} has a different context on line {first}")
        else:
            sentence_text[key] = (it.text, it.context, line)
        if it.doc in doc_split and doc_split[it.doc][0] != it.split:
            where(
                f"doc {it.doc!r} is in split {it.split!r} here but {doc_split[it.doc][0]!r} on line "
                f"{doc_split[it.doc][1]}: a document belongs to one split"
            )
        doc_split.setdefault(it.doc, (it.split, line))
        pair = (it.doc, it.sent, it.actor, it.topic)
        if pair in pair_seen:
            where(
                f"actor {it.actor!r} already has a position on {it.topic!r} in this sentence (line {pair_seen[pair]})"
            )
        pair_seen.setdefault(pair, line)
        if it.topic == NONE_TOPIC:
            none_at.setdefault(key, line)
        else:
            position_at.setdefault(key, line)
    for key, line in none_at.items():
        if key in position_at:
            problems.append(
                Problem(path, line, f"doc {key[0]!r} sentence {key[1]} is labelled both 'none' and with positions")
            )
    by_doc: dict[str, dict[int, tuple[str, str, int]]] = defaultdict(dict)
    for (doc, sent), value in sentence_text.items():
        by_doc[doc][sent] = value
    for doc, sents in by_doc.items():
        for sent in sorted(sents):
            text, context, line = sents[sent]
            if sent > 0 and sent - 1 not in sents:
                problems.append(
                    Problem(
                        path, line, f"doc {doc!r} has no sentence {sent - 1}: every sentence of a document is labelled"
                    )
                )
            elif sent > 0 and context != sents[sent - 1][0]:
                problems.append(
                    Problem(
                        path, line, f"context of doc {doc!r} sentence {sent} is not the text of sentence {sent - 1}"
                    )
                )
    return problems


@dataclass
class _Parsed:
    """One read of a labels directory: every file is read and parsed exactly once."""

    registry: Registry
    rows: list[tuple[int, Item]]
    documents: list[Document]
    problems: list[Problem]
    digest: str


def _parse(labels_dir: Path) -> _Parsed:
    texts = {name: read_optional(labels_dir / name) for name in (TOPICS_FILE, ACTORS_FILE, POSITIONS_FILE)}
    registry = Registry.parse(labels_dir, texts[TOPICS_FILE], texts[ACTORS_FILE], strict=False)
    problems = list(registry.problems)
    path = labels_dir / POSITIONS_FILE
    rows: list[tuple[int, Item]] = []
    documents: list[Document] = []
    if texts[POSITIONS_FILE] is None:
        problems.append(Problem(str(path), 0, "file missing: the labelled items go here, one JSON object a line"))
    else:
        rows = list(parse_records(texts[POSITIONS_FILE].splitlines(), str(path), Item, problems))
        problems += check_items(rows, registry, str(path))
        if not rows and not problems:
            problems.append(Problem(str(path), 0, "no items"))
        docs_path = labels_dir / DOCUMENTS_FILE
        docs_text = read_optional(docs_path)
        if docs_text is not None:
            known = {it.doc for _, it in rows}
            for line, d in parse_records(docs_text.splitlines(), str(docs_path), Document, problems):
                documents.append(d)
                if d.doc not in known:
                    problems.append(
                        Problem(str(docs_path), line, f"document {d.doc!r} has no items in {POSITIONS_FILE}")
                    )
    return _Parsed(registry, rows, documents, problems, _digest(texts))


def _digest(texts: dict[str, str | None]) -> str:
    """SHA-256 over the registry and item files, so a run records exactly what it learnt from."""
    h = hashlib.sha256()
    for name in (TOPICS_FILE, ACTORS_FILE, POSITIONS_FILE):
        if texts.get(name) is not None:
            h.update(name.encode())
            h.update(texts[name].encode("utf-8"))
    return h.hexdigest()


def check(labels_dir: str | Path) -> list[Problem]:
    """Validate a labels directory; an empty list means it is fit for training."""
    return _parse(Path(labels_dir)).problems


@dataclass
class LabelSet:
    """A validated labels directory, as frames for training and evaluation."""

    registry: Registry
    items: pd.DataFrame
    documents: pd.DataFrame
    digest: str
    path: Path

    @classmethod
    def load(cls, labels_dir: str | Path) -> LabelSet:
        labels_dir = Path(labels_dir)
        if not labels_dir.is_dir():
            raise LabelsError([Problem(str(labels_dir), 0, "labels directory not found: pass --labels DIR")])
        parsed = _parse(labels_dir)
        if parsed.problems:
            raise LabelsError(parsed.problems)
        registry = parsed.registry
        import pandas as pd

        items = pd.DataFrame([it.model_dump() for _, it in parsed.rows])
        items["side"] = [registry.side_of(a) if a else "" for a in items["actor"]]
        # The holder's name as the sentence writes it: where the stance model reads the words around it.
        items["holder_name"] = [registry.find_name(t, a) if a else "" for t, a in zip(items["text"], items["actor"])]
        docs = pd.DataFrame([d.model_dump() for d in parsed.documents], columns=list(Document.model_fields))
        return cls(registry, items, docs, parsed.digest, labels_dir)

    def positions(self, split: str | None = None) -> pd.DataFrame:
        """Items that hold a position (topic is not ``none``): the stance task."""
        df = self.items[self.items["topic"] != NONE_TOPIC]
        return (df if split is None else df[df["split"] == split]).reset_index(drop=True)

    def sentences(self, split: str | None = None) -> pd.DataFrame:
        """One row per sentence with a 0/1 column per topic: the topic-detection task."""
        df = self.items if split is None else self.items[self.items["split"] == split]
        rows = []
        for (doc, sent), group in df.groupby(["doc", "sent"], sort=True):
            first = group.iloc[0]
            row = {
                "doc": doc,
                "sent": sent,
                "text": first["text"],
                "context": first["context"],
                "split": first["split"],
            }
            present = set(group["topic"])
            row.update({t: int(t in present) for t in self.registry.topic_ids})
            rows.append(row)
        import pandas as pd

        return pd.DataFrame(rows, columns=["doc", "sent", "text", "context", "split", *self.registry.topic_ids])


def assign_splits(
    items: pd.DataFrame,
    seed: int = 13,
    fractions=(0.70, 0.15, 0.15),
    strata: dict[str, str] | None = None,
    fixed: dict[str, str] | None = None,
) -> dict[str, str]:
    """Deterministic document-level split, stratified by document group (e.g. genre).

    Documents are ordered by a seeded hash within each stratum and cut in the given
    fractions; the seed moves on until every (topic, stance) pair that occurs in the
    corpus occurs in every split. ``fixed``: documents that keep the split they have (only
    the others are cut; the coverage counts both), so adding documents leaves the test set
    of earlier runs where it was.
    """
    fixed = fixed or {}
    docs = sorted(d for d in items["doc"].unique() if d not in fixed)
    strata = strata or {}
    pairs = (
        items[items["topic"] != NONE_TOPIC]
        .groupby("doc")
        .apply(lambda g: set(zip(g["topic"], g["stance"])), include_groups=False)
        .to_dict()
    )
    needed = set().union(*pairs.values()) if pairs else set()
    for attempt in range(200):
        s = seed + attempt
        groups: dict[str, list[str]] = defaultdict(list)
        for d in docs:
            groups[strata.get(d, "")].append(d)
        result: dict[str, str] = dict(fixed)
        # Carry remainders across strata so small groups do not all round to train.
        carry = [0.0, 0.0]
        for key in sorted(groups):
            ordered = sorted(groups[key], key=lambda d: hashlib.sha256(f"{s}:{d}".encode()).hexdigest())
            n = len(ordered)
            want_dev = n * fractions[1] + carry[0]
            want_test = n * fractions[2] + carry[1]
            n_dev, n_test = int(round(want_dev)), int(round(want_test))
            carry = [want_dev - n_dev, want_test - n_test]
            for i, d in enumerate(ordered):
                result[d] = "test" if i < n_test else "dev" if i < n_test + n_dev else "train"
        covered = all(
            needed <= set().union(*[pairs.get(d, set()) for d in result if result[d] == split] or [set()])
            for split in SPLITS
        )
        if covered:
            return result
    return result


def stats(labels: LabelSet) -> dict[str, pd.DataFrame]:
    """Counts for ``labels stats``: topic × stance, split, side and actor."""
    import pandas as pd

    items = labels.items
    pos = labels.positions()
    topic_stance = pd.crosstab(items["topic"], items["stance"]).reindex(columns=list(STANCES), fill_value=0)
    topic_stance["total"] = topic_stance.sum(axis=1)
    by_split = items.groupby("split").agg(items=("id", "size"), documents=("doc", "nunique"))
    by_split["sentences"] = items.drop_duplicates(["doc", "sent"]).groupby("split").size()
    by_split["positions"] = pos.groupby("split").size()
    by_split = by_split.reindex([s for s in SPLITS if s in by_split.index]).fillna(0).astype(int)
    split_topic = pd.crosstab([pos["split"], pos["topic"]], pos["stance"]).reindex(columns=list(STANCES), fill_value=0)
    by_side = pd.crosstab(pos["side"], pos["stance"]).reindex(columns=list(STANCES), fill_value=0)
    by_actor = pd.crosstab(pos["actor"], pos["stance"]).reindex(columns=list(STANCES), fill_value=0)
    by_actor["total"] = by_actor.sum(axis=1)
    by_actor = by_actor.sort_values("total", ascending=False)
    n_sent = items.drop_duplicates(["doc", "sent"]).shape[0]
    n_none = items[items["topic"] == NONE_TOPIC].shape[0]
    summary = pd.DataFrame(
        {
            "value": {
                "items": len(items),
                "documents": items["doc"].nunique(),
                "sentences": n_sent,
                "sentences without a position": n_none,
                "share without a position": round(n_none / max(n_sent, 1), 3),
                "actors holding positions": pos["actor"].nunique(),
                "min non-neutral items per topic x stance": int(
                    topic_stance.drop(index=NONE_TOPIC, errors="ignore")[["support", "oppose"]].min().min()
                )
                if len(pos)
                else 0,
            }
        }
    )
    return {
        "summary": summary,
        "topic x stance": topic_stance,
        "split": by_split,
        "split x topic x stance": split_topic,
        "side": by_side,
        "actor": by_actor,
    }


def resplit(labels_dir: str | Path, seed: int = 13, only: Iterable[str] | None = None) -> dict[str, int]:
    """Rewrite the ``split`` of the items with :func:`assign_splits`, stratified by genre.

    ``only``: the documents to split (new ones, say); every other keeps its split.
    """
    labels = LabelSet.load(labels_dir)  # raises LabelsError on any fault
    strata = dict(zip(labels.documents.get("doc", []), labels.documents.get("genre", [])))
    fixed = None
    if only is not None:
        only = set(only)
        unknown = sorted(only - set(labels.items["doc"]))
        if unknown:
            where = str(Path(labels_dir) / POSITIONS_FILE)
            raise LabelsError([Problem(where, 0, f"no items for document(s) {', '.join(unknown)}: give labelled ids")])
        fixed = dict(labels.items.loc[~labels.items["doc"].isin(only), ["doc", "split"]].drop_duplicates().values)
    splits = assign_splits(labels.items, seed=seed, strata=strata, fixed=fixed)
    path = Path(labels_dir) / POSITIONS_FILE
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        row["split"] = splits[row["doc"]]
    write_jsonl(path, rows)
    return dict(Counter(splits.values()))
