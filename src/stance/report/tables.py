"""Report tables: who holds which position, per side and over time, with evidence.

In: findings (:class:`~stance.pipeline.findings.Finding`). Out: pandas frames — actor ×
topic positions, the side roll-up, a per-date timeline and position changes. A cell's
stance and confidence come from :func:`stance.pipeline.findings.vote`, the same vote as
``stance score``. Net stance weighs each statement by its confidence, as that vote does:
``(Σ support − Σ oppose) / Σ all`` over the confidences of a holder's statements on a
topic: +1 always for, −1 always against, 0 balanced or only neutral — and a 0.27-confidence
statement moves it a quarter as much as a 0.95 one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import pandas as pd

from ..config import AUTHOR, SIDES, STANCES
from ..pipeline.findings import FINDING_KEYS, Finding, vote

if TYPE_CHECKING:  # pragma: no cover
    from ..labels.registry import Registry

EVIDENCE_PER_CELL = 3
COUNT_COLUMNS = ["n", "support", "oppose", "neutral"]
# What every aggregated cell carries, after its keys (see _aggregate).
CELL_COLUMNS = [
    *COUNT_COLUMNS,
    "net",
    "stance",
    "confidence",
    "articles",
    "evidence",
    "evidence_text",
    "evidence_article",
]


def _names(registry: Registry | None) -> Callable[[str], str]:
    def name(actor: str) -> str:
        if registry is not None and actor in registry.actors:
            return registry.name_of(actor)
        if actor == AUTHOR:
            return "Author (article's own voice)"
        return actor.replace("_", " ").title()

    return name


def findings_frame(findings: Iterable[Finding]) -> pd.DataFrame:
    """One row per finding, with the counting columns the tables sum."""
    rows = [f.model_dump() for f in findings]
    df = pd.DataFrame(rows, columns=[*FINDING_KEYS, "side_inferred", "title"])
    df["side_inferred"] = df["side_inferred"].fillna(False).astype(bool)
    for s in STANCES:
        df[s] = (df["stance"] == s).astype(int)
    return df


def _evidence(group: pd.DataFrame, stance: str, k: int) -> pd.DataFrame:
    """The ``k`` most confident findings that show ``stance``."""
    pool = group[group["stance"] == stance]
    if pool.empty:
        pool = group
    return pool.sort_values(
        ["confidence", "date", "article", "sentence"], ascending=[False, True, True, True], na_position="last"
    ).head(k)


def _cite(row) -> str:
    """``sentence [article or its title, date; stance confidence]`` for hovers and tables."""
    source = row.title or row.article
    # pandas turns a missing date into NaN, which is truthy and prints as "nan".
    when = row.date if isinstance(row.date, str) and row.date else "undated"
    return f"{row.text.strip()} [{source}, {when}; {row.stance} {row.confidence:.2f}]"


def net_stance(weight: dict[str, float]) -> float:
    """(supporting − opposing confidence) / all confidence: −1 … +1, 0 when nothing counts."""
    total = sum(weight.get(s, 0.0) for s in STANCES)
    return (weight.get("support", 0.0) - weight.get("oppose", 0.0)) / total if total > 0 else 0.0


def _aggregate(df: pd.DataFrame, keys: list[str], evidence: int) -> pd.DataFrame:
    rows = []
    for key, g in df.groupby(keys, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        sup, opp, neu = int(g["support"].sum()), int(g["oppose"].sum()), int(g["neutral"].sum())
        n = sup + opp + neu
        weight = g.groupby("stance")["confidence"].sum().to_dict()
        # The same vote as `stance score`: confidence-weighted, support/oppose before neutral.
        label, confidence = vote(weight, {"support": sup, "oppose": opp, "neutral": neu})
        best = _evidence(g, label, evidence)
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "n": n,
                "support": sup,
                "oppose": opp,
                "neutral": neu,
                "net": net_stance(weight),
                "stance": label,
                "confidence": confidence,
                "articles": int(g["article"].nunique()),
                "actors": sorted(g["actor"].unique()),
                "evidence": [_cite(r) for r in best.itertuples(index=False)],
                "evidence_text": best["text"].iloc[0].strip(),
                "evidence_article": best["article"].iloc[0],
            }
        )
    cols = [
        *keys,
        *COUNT_COLUMNS,
        "net",
        "stance",
        "confidence",
        "articles",
        "actors",
        "evidence",
        "evidence_text",
        "evidence_article",
    ]
    return pd.DataFrame(rows, columns=cols)


def _topic_order(df: pd.DataFrame, registry: Registry | None) -> list[str]:
    present = list(dict.fromkeys(df["topic"]))
    known = [t for t in (registry.topic_ids if registry else []) if t in present]
    return known + sorted(t for t in present if t not in known)


def _side_rank(side: str) -> int:
    return SIDES.index(side) if side in SIDES else len(SIDES)


def position_table(
    findings: Iterable[Finding], registry: Registry | None = None, evidence: int = EVIDENCE_PER_CELL
) -> pd.DataFrame:
    """Actor × topic: counts, net stance, the position label and the best evidence.

    Columns: actor, name, side, topic, n, support, oppose, neutral, net, stance,
    confidence (mean), articles, evidence (up to ``evidence`` sentences), first_date,
    last_date, side_inferred. Ordered by side, then by how much an actor said.
    """
    df = findings_frame(findings)
    cols = [
        "actor",
        "name",
        "side",
        "topic",
        *CELL_COLUMNS,
        "first_date",
        "last_date",
        "side_inferred",
    ]
    if df.empty:
        return pd.DataFrame(columns=cols)
    table = _aggregate(df, ["actor", "topic"], evidence)
    dates = df.dropna(subset=["date"]).groupby(["actor", "topic"])["date"].agg(["min", "max"])
    keys = list(table[["actor", "topic"]].itertuples(index=False, name=None))
    table["first_date"] = [dates["min"].get(k) for k in keys]
    table["last_date"] = [dates["max"].get(k) for k in keys]
    table = _with_names(table, df, registry)
    volume = table.groupby("actor")["n"].sum()
    topics = {t: i for i, t in enumerate(_topic_order(df, registry))}
    order = sorted(
        range(len(table)),
        key=lambda i: (
            _side_rank(table["side"][i]),
            -volume[table["actor"][i]],
            table["actor"][i],
            topics[table["topic"][i]],
        ),
    )
    return table.iloc[order][cols].reset_index(drop=True)


def _with_names(table: pd.DataFrame, df: pd.DataFrame, registry: Registry | None) -> pd.DataFrame:
    """Add each actor's display name and side (the side the scorer gave it most often), and
    whether that side was inferred (a new actor's title or nationality, not the registry)."""
    sides = df.groupby("actor")["side"].agg(lambda s: s.value_counts().index[0])
    inferred = df.groupby("actor")["side_inferred"].any()
    name = _names(registry)
    actors = table["actor"]
    return table.assign(
        name=[name(a) for a in actors],
        side=[sides[a] for a in actors],
        side_inferred=[bool(inferred[a]) for a in actors],
    )


def side_rollup(
    findings: Iterable[Finding], registry: Registry | None = None, evidence: int = EVIDENCE_PER_CELL
) -> pd.DataFrame:
    """Side × topic: the statements of every actor on a side added up.

    Columns: side, topic, n, support, oppose, neutral, net, stance, confidence, articles,
    actors (ids), evidence.
    """
    df = findings_frame(findings)
    table = _aggregate(df, ["side", "topic"], evidence)
    if table.empty:
        return table
    topics = {t: i for i, t in enumerate(_topic_order(df, registry))}
    order = sorted(range(len(table)), key=lambda i: (_side_rank(table["side"][i]), topics[table["topic"][i]]))
    return table.iloc[order].reset_index(drop=True)


def timeline(findings: Iterable[Finding], registry: Registry | None = None) -> pd.DataFrame:
    """Per topic, actor and article date: the stance that day (undated findings left out).

    Columns: topic, actor, name, side, date, n, support, oppose, neutral, net, stance,
    confidence, articles, evidence (the best sentence, cited), evidence_text and
    evidence_article (that sentence and the article it is from).
    """
    df = findings_frame(findings).dropna(subset=["date"])
    cols = [
        "topic",
        "actor",
        "name",
        "side",
        "date",
        *CELL_COLUMNS,
    ]
    if df.empty:
        return pd.DataFrame(columns=cols)
    table = _with_names(_aggregate(df, ["topic", "actor", "date"], evidence=1), df, registry)
    topics = {t: i for i, t in enumerate(_topic_order(df, registry))}
    table = table.assign(_t=[topics[t] for t in table["topic"]])
    return table.sort_values(["_t", "actor", "date"])[cols].reset_index(drop=True)


def position_changes(
    findings: Iterable[Finding], registry: Registry | None = None, exclude: Iterable[str] = (AUTHOR,)
) -> pd.DataFrame:
    """Actors whose stance on a topic flips (support ↔ oppose) between article dates.

    Compares the dated positions of each (actor, topic) in order, skipping dates on which
    the actor took no side (neutral): a neutral remark is not a change of mind.
    ``author`` is excluded by default: it is a different writer in every article.
    Columns: actor, name, side, topic, before_date, before_stance, before_evidence,
    before_article, after_date, after_stance, after_evidence, after_article.
    """
    tl = timeline(findings, registry)
    skip = set(exclude)
    rows = []
    for (topic, actor), g in tl.groupby(["topic", "actor"], sort=False):
        if actor in skip:
            continue
        decided = g[g["stance"].isin(["support", "oppose"])].sort_values("date")
        prev = None
        for row in decided.to_dict("records"):
            if prev is not None and row["stance"] != prev["stance"]:
                change = {"actor": actor, "name": row["name"], "side": row["side"], "topic": topic}
                for when, rec in (("before", prev), ("after", row)):
                    change.update(
                        {
                            f"{when}_date": rec["date"],
                            f"{when}_stance": rec["stance"],
                            f"{when}_evidence": rec["evidence_text"],
                            f"{when}_article": rec["evidence_article"],
                        }
                    )
                rows.append(change)
            prev = row
    cols = [
        "actor",
        "name",
        "side",
        "topic",
        "before_date",
        "before_stance",
        "before_evidence",
        "before_article",
        "after_date",
        "after_stance",
        "after_evidence",
        "after_article",
    ]
    return pd.DataFrame(rows, columns=cols)
