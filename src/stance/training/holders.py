"""Train and measure the learned holder model on the labelled documents.

In: a :class:`~stance.labels.LabelSet`. Every labelled document goes through the language
stages of scoring (segmentation, actors, the attribution rules) and gets its holder
candidates; a sentence with positions is one training group (its candidates, its gold
holders). Out: a fitted :class:`~stance.pipeline.holders.HolderModel` (trained on
``train``) and holder metrics on ``dev`` and ``test``: accuracy over gold position items
(is the gold holder among the chosen holders), precision of the chosen holders, candidate
recall (is the gold holder a candidate at all), per attribution type and per genre.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..config import CONFIGS_DIR, NONE_TOPIC
from ..errors import StanceError, first_error
from ..io import read_yaml
from ..pipeline.holders import Candidate, HolderModel, candidates
from .evaluate import align, rebuild_documents

HOLDER_CONFIG = CONFIGS_DIR / "pipeline" / "holders.yaml"


class HolderSettings(BaseModel):
    """``configs/pipeline/holders.yaml``: how the holder model is trained."""

    model_config = ConfigDict(extra="forbid")
    C: float = Field(1.0, gt=0)
    unregistered_share: float = Field(0.5, ge=0, le=1)

    @classmethod
    def load(cls, path: str | Path = HOLDER_CONFIG) -> HolderSettings:
        path = Path(path)
        if not path.exists():
            return cls()  # an installed package without the project's configs/
        try:
            return cls(**read_yaml(path, "the holder settings"))
        except ValidationError as exc:
            keys = " and ".join(cls.model_fields)
            raise StanceError(f"{path}: {first_error(exc)}: the keys are {keys}") from exc


@dataclass
class Group:
    """One labelled sentence with positions: its candidates and gold holders."""

    doc: str
    split: str
    genre: str
    candidates: list[Candidate]
    gold: set[str]


def holder_groups(labels) -> list[Group]:
    """Candidates and gold holders of every labelled sentence that holds a position."""
    from ..pipeline.scoring import LanguageStages

    stages = LanguageStages(labels.registry)
    split_of = dict(zip(labels.items["doc"], labels.items["split"], strict=True))
    groups = []
    docs = rebuild_documents(labels, None)
    for start in range(0, len(docs), 16):
        batch = docs[start : start + 16]
        analysed = stages.analyse([d.article for d in batch])  # no holder model: the rules' holders
        for gd, a in zip(batch, analysed, strict=True):
            rules = [s.holders for s in a.sentences]
            cands = candidates(a.sentences, a.mentions, a.actors, rules)
            gold = defaultdict(set)
            for it in gd.items:
                if it["topic"] != NONE_TOPIC:
                    gold[it["sent"]].add(it["actor"])
            seen = set()
            for s, cs in zip(a.sentences, cands, strict=True):
                k = align(gd.spans, s.start, s.end)
                if k is None or k not in gold or k in seen:
                    continue
                seen.add(k)
                groups.append(Group(gd.article.id, split_of[gd.article.id], gd.genre, cs, gold[k]))
    return groups


def unregistered_copies(groups: list[Group], share: float = 0.5, seed: int = 13):
    """Training pairs: every group, and a seeded ``share`` of them again with each registry
    actor's candidate marked as a new actor. Every labelled holder is in the registry, so
    without the copies the model learns that a name the registry lacks never holds a
    position; in real reporting an analyst or an official the registry does not know often
    does. The entity recogniser's places and institutions stay negative in both."""
    rng = random.Random(seed)
    for g in groups:
        yield g.candidates, g.gold
        if rng.random() < share:
            copies = []
            for c in g.candidates:
                features = dict(c.features)
                if features.pop("known", None):
                    features["new_actor"] = 1.0
                copies.append(replace(c, features=features))
            yield copies, g.gold


def train_holder_model(labels, settings: HolderSettings | None = None) -> tuple[HolderModel, dict[str, float]]:
    """Fit on the train split; measure on dev and test (and the rules, for comparison)."""
    settings = settings or HolderSettings.load()
    groups = holder_groups(labels)
    train = [g for g in groups if g.split == "train"]
    model = HolderModel(C=settings.C).fit(unregistered_copies(train, settings.unregistered_share))
    dev = [g for g in groups if g.split == "dev"]
    if dev:
        model.threshold = best_threshold(model, dev)
    metrics: dict[str, float] = {"holder_threshold": model.threshold}
    for split in ("dev", "test"):
        metrics.update(holder_metrics(model, [g for g in groups if g.split == split], prefix=f"{split}_holder_"))
    return model, metrics


def holder_metrics(model: HolderModel, groups: list[Group], prefix: str = "holder_") -> dict[str, float]:
    hit = n = chosen_n = chosen_ok = cand_hit = rule_hit = 0
    by_genre: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_method: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for g in groups:
        chosen = {c.actor: c for c, _ in model.choose(g.candidates)}
        rules = {c.actor for c in g.candidates if c.features.get("rule")}
        names = {c.actor for c in g.candidates}
        chosen_n += len(chosen)
        chosen_ok += len(set(chosen) & g.gold)
        for actor in g.gold:
            ok = actor in chosen
            n += 1
            hit += ok
            cand_hit += actor in names
            rule_hit += actor in rules
            by_genre[g.genre][0] += ok
            by_genre[g.genre][1] += 1
            method = next((c.method for c in g.candidates if c.actor == actor), "missing")
            by_method[method][0] += ok
            by_method[method][1] += 1
    if not n:
        return {}
    out = {
        f"{prefix}accuracy": hit / n,
        f"{prefix}precision": chosen_ok / max(chosen_n, 1),
        f"{prefix}candidate_recall": cand_hit / n,
        f"{prefix}rules_accuracy": rule_hit / n,
    }
    out.update({f"{prefix}accuracy_{g}": h / t for g, (h, t) in sorted(by_genre.items()) if g and t})
    out.update({f"{prefix}accuracy_by_{m}": h / t for m, (h, t) in sorted(by_method.items()) if t})
    return out


def best_threshold(model: HolderModel, groups: list[Group]) -> float:
    """The decision threshold with the best F1 of chosen holders against gold on ``groups``."""
    best, best_f1 = model.threshold, -1.0
    for t in [round(0.3 + 0.05 * i, 2) for i in range(13)]:
        model.threshold = t
        m = holder_metrics(model, groups)
        p, r = m.get("holder_precision", 0.0), m.get("holder_accuracy", 0.0)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if f1 > best_f1:
            best, best_f1 = t, f1
    return best
