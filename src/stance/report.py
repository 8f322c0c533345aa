"""The corpus report: who holds which position, per side and over time, with evidence.

In: findings, the records of ``stance score --format jsonl`` (one sentence, holder and
topic each), as a list or a ``.jsonl`` file. Out: tables (actor × topic positions, the
side roll-up, a timeline, position changes), plotly figures, and files: one
self-contained HTML page, the same figures as PNG (matplotlib, no browser needed) and
the actor–topic network as GraphML for Gephi and the like.

Net stance is ``(support − oppose) / n`` over the ``n`` statements of a holder on a
topic: +1 always for, −1 always against, 0 balanced or only neutral.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import os
import re
import textwrap
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import date as _date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .config import AUTHOR, NONE_TOPIC, SIDES
from .errors import Problem, StanceError
from .records import first_error, iter_records

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx
    import plotly.graph_objects as go

    from .registry import Registry

FINDING_KEYS = ("article", "sentence", "text", "actor", "side", "topic", "stance",
                "confidence", "attribution", "start", "end", "date")
# Same colours in the HTML and the PNGs: red = oppose (−1), blue = support (+1).
PLOTLY_SCALE = "RdBu"
MPL_CMAP = "RdBu"
STANCE_COLOURS = {"support": "#2166ac", "oppose": "#b2182b", "neutral": "#a0a0a0"}
# Timelines show this many actors by default (the rest a click away in the HTML legend).
TIMELINE_ACTORS = 8
EVIDENCE_PER_CELL = 3
COUNT_COLUMNS = ["n", "support", "oppose", "neutral"]


class Finding(BaseModel):
    """One scored statement: a sentence, its holder, a topic and the holder's stance."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    article: str
    sentence: int = Field(ge=0)
    text: str
    actor: str = Field(min_length=1)
    side: str
    topic: str = Field(min_length=1)
    stance: Literal["support", "oppose", "neutral"]
    confidence: float = Field(ge=0.0, le=1.0)
    attribution: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    date: str | None
    title: str = ""

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


class FindingsError(StanceError):
    """A findings file or list has invalid records; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}")


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

    Accepts what the scoring API returns (dataclasses or pydantic models) as well as
    parsed JSON; raises :class:`FindingsError` naming the index of a bad record.
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
            raw = {k: getattr(item, k) for k in (*FINDING_KEYS, "title") if hasattr(item, k)}
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


@dataclasses.dataclass
class Gathered:
    """Findings collected for a report, and what happened to each input."""

    findings: list[Finding]
    findings_files: int = 0
    articles_scored: int = 0
    problems: list[str] = dataclasses.field(default_factory=list)  # inputs that failed


def gather_findings(paths: Iterable[str | Path], model=None,
                    registry: Registry | str | Path | None = None, *, date: str | None = None,
                    on_problem: Callable[[str], None] | None = None) -> Gathered:
    """Read findings ``.jsonl`` files as they are and score every other input.

    Articles (files, folders, JSONL corpora, ``"-"``) go through
    :func:`stance.scoring.score_corpus` with ``model`` (None: the champion) and
    ``registry`` (None: ``labels/``). A failed input is reported to ``on_problem`` and
    kept in :attr:`Gathered.problems`; the others are still used.
    """
    paths = [str(p) for p in paths]
    found: list[Finding] = []
    out = Gathered(found)
    to_score = []
    for p in paths:
        if p != "-" and is_findings_file(p):
            found += load_findings(p)
            out.findings_files += 1
        else:
            to_score.append(p)
    if to_score:
        from .scoring import score_corpus

        def problem(pr) -> None:
            if getattr(pr, "level", "error") == "error":
                out.problems.append(str(pr))
            if on_problem is not None:
                on_problem(str(pr))

        corpus = score_corpus(to_score, model=model, registry=registry, date=date,
                              on_problem=problem)
        for result in corpus:
            out.articles_scored += 1
            title = result.article.title or ""
            found += [f.model_copy(update={"title": title}) for f in as_findings(result.findings)]
    return out


# --- tables ---------------------------------------------------------------------------


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
    df = pd.DataFrame(rows, columns=[*FINDING_KEYS, "title"])
    for s in ("support", "oppose", "neutral"):
        df[s] = (df["stance"] == s).astype(int)
    return df


def stance_label(support: int, oppose: int, neutral: int) -> str:
    """The position a set of statements adds up to: support, oppose, neutral or mixed."""
    if support > oppose:
        return "support"
    if oppose > support:
        return "oppose"
    return "neutral" if support == 0 else "mixed"


def _evidence(group: pd.DataFrame, stance: str, k: int) -> pd.DataFrame:
    """The ``k`` most confident findings that show ``stance`` (any finding if it is mixed)."""
    pool = group[group["stance"] == stance] if stance in ("support", "oppose", "neutral") else group
    if pool.empty:
        pool = group
    return pool.sort_values(["confidence", "date", "article", "sentence"],
                            ascending=[False, True, True, True], na_position="last").head(k)


def _cite(row) -> str:
    """``sentence [article or its title, date; stance confidence]`` for hovers and tables."""
    source = row.title or row.article
    where = f"{source}, {row.date}" if row.date else source
    return f"{row.text.strip()} [{where}; {row.stance} {row.confidence:.2f}]"


def _aggregate(df: pd.DataFrame, keys: list[str], evidence: int) -> pd.DataFrame:
    rows = []
    for key, g in df.groupby(keys, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        sup, opp, neu = int(g["support"].sum()), int(g["oppose"].sum()), int(g["neutral"].sum())
        n = sup + opp + neu
        label = stance_label(sup, opp, neu)
        best = _evidence(g, label, evidence)
        rows.append({**dict(zip(keys, key, strict=True)), "n": n, "support": sup, "oppose": opp,
                     "neutral": neu, "net": (sup - opp) / n, "stance": label,
                     "confidence": float(g["confidence"].mean()),
                     "articles": int(g["article"].nunique()),
                     "actors": sorted(g["actor"].unique()),
                     "evidence": [_cite(r) for r in best.itertuples(index=False)],
                     "evidence_text": best["text"].iloc[0].strip(),
                     "evidence_article": best["article"].iloc[0]})
    cols = [*keys, *COUNT_COLUMNS, "net", "stance", "confidence", "articles", "actors", "evidence",
            "evidence_text", "evidence_article"]
    return pd.DataFrame(rows, columns=cols)


def _topic_order(df: pd.DataFrame, registry: Registry | None) -> list[str]:
    present = list(dict.fromkeys(df["topic"]))
    known = [t for t in (registry.topic_ids if registry else []) if t in present]
    return known + sorted(t for t in present if t not in known)


def _side_rank(side: str) -> int:
    return SIDES.index(side) if side in SIDES else len(SIDES)


def position_table(findings: Iterable[Finding], registry: Registry | None = None,
                   evidence: int = EVIDENCE_PER_CELL) -> pd.DataFrame:
    """Actor × topic: counts, net stance, the position label and the best evidence.

    Columns: actor, name, side, topic, n, support, oppose, neutral, net, stance,
    confidence (mean), articles, evidence (up to ``evidence`` sentences), first_date,
    last_date. Ordered by side, then by how much an actor said.
    """
    df = findings_frame(findings)
    cols = ["actor", "name", "side", "topic", *COUNT_COLUMNS, "net", "stance", "confidence",
            "articles", "evidence", "evidence_text", "evidence_article", "first_date", "last_date"]
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
    order = sorted(range(len(table)), key=lambda i: (
        _side_rank(table["side"][i]), -volume[table["actor"][i]], table["actor"][i],
        topics[table["topic"][i]]))
    return table.iloc[order][cols].reset_index(drop=True)


def _with_names(table: pd.DataFrame, df: pd.DataFrame, registry: Registry | None) -> pd.DataFrame:
    """Add each actor's display name and side (the side the scorer gave it most often)."""
    sides = df.groupby("actor")["side"].agg(lambda s: s.value_counts().index[0])
    name = _names(registry)
    return table.assign(name=[name(a) for a in table["actor"]],
                        side=[sides[a] for a in table["actor"]])


def side_rollup(findings: Iterable[Finding], registry: Registry | None = None,
                evidence: int = EVIDENCE_PER_CELL) -> pd.DataFrame:
    """Side × topic: the statements of every actor on a side added up.

    Columns: side, topic, n, support, oppose, neutral, net, stance, confidence, articles,
    actors (ids), evidence.
    """
    df = findings_frame(findings)
    table = _aggregate(df, ["side", "topic"], evidence)
    if table.empty:
        return table
    topics = {t: i for i, t in enumerate(_topic_order(df, registry))}
    order = sorted(range(len(table)),
                   key=lambda i: (_side_rank(table["side"][i]), topics[table["topic"][i]]))
    return table.iloc[order].reset_index(drop=True)


def timeline(findings: Iterable[Finding], registry: Registry | None = None) -> pd.DataFrame:
    """Per topic, actor and article date: the stance that day (undated findings left out).

    Columns: topic, actor, name, side, date, n, support, oppose, neutral, net, stance,
    confidence, articles, evidence (the best sentence, cited), evidence_text and
    evidence_article (that sentence and the article it is from).
    """
    df = findings_frame(findings).dropna(subset=["date"])
    cols = ["topic", "actor", "name", "side", "date", *COUNT_COLUMNS, "net", "stance", "confidence",
            "articles", "evidence", "evidence_text", "evidence_article"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    table = _with_names(_aggregate(df, ["topic", "actor", "date"], evidence=1), df, registry)
    topics = {t: i for i, t in enumerate(_topic_order(df, registry))}
    table = table.assign(_t=[topics[t] for t in table["topic"]])
    return table.sort_values(["_t", "actor", "date"])[cols].reset_index(drop=True)


def position_changes(findings: Iterable[Finding], registry: Registry | None = None,
                     exclude: Iterable[str] = (AUTHOR,)) -> pd.DataFrame:
    """Actors whose stance on a topic flips (support ↔ oppose) between article dates.

    Compares the dated positions of each (actor, topic) in order, skipping dates on which
    the actor took no side (neutral or mixed): a neutral remark is not a change of mind.
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
                    change.update({f"{when}_date": rec["date"], f"{when}_stance": rec["stance"],
                                   f"{when}_evidence": rec["evidence_text"],
                                   f"{when}_article": rec["evidence_article"]})
                rows.append(change)
            prev = row
    cols = ["actor", "name", "side", "topic", "before_date", "before_stance", "before_evidence",
            "before_article", "after_date", "after_stance", "after_evidence", "after_article"]
    return pd.DataFrame(rows, columns=cols)


# --- figures --------------------------------------------------------------------------


def _hover_lines(evidence: list[str], width: int = 90) -> str:
    return "<br>".join("• " + "<br>  ".join(textwrap.wrap(html.escape(e), width)) for e in evidence)


def _matrix(table: pd.DataFrame, row: str) -> tuple[list[str], dict[tuple[str, str], dict]]:
    """Row keys in table order, and each (row, topic) cell as a record."""
    records = table.to_dict("records")
    return list(dict.fromkeys(table[row])), {(r[row], r["topic"]): r for r in records}


def _actor_labels(positions: pd.DataFrame) -> dict[str, str]:
    return {r["actor"]: _label(r["name"], r["side"]) for r in positions.to_dict("records")}


def _label(name: str, side: str) -> str:
    return f"{name} · {side}"


def heatmap_figure(positions: pd.DataFrame, topics: list[str] | None = None) -> go.Figure:
    """Actor × topic heatmap: colour = net stance, cell text = statements, hover = evidence."""
    import plotly.graph_objects as go

    topics = topics or list(dict.fromkeys(positions["topic"]))
    actors, cell = _matrix(positions, "actor")
    label = _actor_labels(positions)
    z, text, hover = [], [], []
    for a in actors:
        recs = [cell.get((a, t)) for t in topics]
        z.append([r["net"] if r else None for r in recs])
        text.append([str(r["n"]) if r else "" for r in recs])
        hover.append([_cell_hover(label[a], r) if r else "" for r in recs])
    fig = go.Figure(go.Heatmap(
        z=z, x=topics, y=[label[a] for a in actors], text=text, texttemplate="%{text}",
        customdata=hover, hovertemplate="%{customdata}<extra></extra>", hoverongaps=False,
        colorscale=PLOTLY_SCALE, zmin=-1, zmax=1, zmid=0,
        colorbar={"title": {"text": "net stance"}, "tickvals": [-1, 0, 1],
                  "ticktext": ["−1 oppose", "0", "+1 support"]}))
    fig.update_layout(title="Positions: actor × topic (colour = net stance, number = statements)",
                      height=max(320, 140 + 26 * len(actors)), margin=_MARGIN,
                      xaxis={"side": "top"}, yaxis={"autorange": "reversed"},
                      plot_bgcolor="#f4f4f4")
    return fig


_MARGIN = {"l": 10, "r": 10, "t": 60, "b": 40}
_NET_AXIS = {"range": [-1.15, 1.15], "title": "net stance", "zeroline": True, "zerolinewidth": 2}


def _cell_hover(holder: str, rec: dict, evidence: int | None = None) -> str:
    """Hover text of one aggregate: the holder, the counts and the evidence sentences."""
    where = f" · {rec['date']}" if rec.get("date") else f" on <b>{html.escape(rec['topic'])}</b>"
    return (f"<b>{html.escape(holder)}</b>{where}: {rec['stance']}<br>"
            f"net {rec['net']:+.2f} · {rec['support']} support, {rec['oppose']} oppose, "
            f"{rec['neutral']} neutral · {rec['articles']} article(s)<br>"
            + _hover_lines(rec["evidence"][:evidence]))


def _diverging(rec: dict) -> dict[str, tuple[float, float]]:
    """Bar segments (left, width) of one side's statements: oppose left of zero, support
    right of it, neutral straddling zero, so the balance shows at a glance."""
    half = rec["neutral"] / 2
    return {"oppose": (-half - rec["oppose"], rec["oppose"]), "neutral": (-half, rec["neutral"]),
            "support": (half, rec["support"])}


def _count_ticks(recs: Iterable[dict]) -> tuple[float, list[int]]:
    """Half-width of a diverging axis and its tick positions (labelled as counts, unsigned)."""
    lim = max([max(r["support"], r["oppose"]) + r["neutral"] / 2 for r in recs] or [1.0])
    step = max(1, math.ceil(lim / 3))
    k = math.ceil(lim / step)
    return lim, list(range(-k * step, k * step + 1, step))


def rollup_figure(sides: pd.DataFrame, topics: list[str] | None = None) -> go.Figure:
    """Per topic, each side's statements as a diverging bar (oppose ← neutral → support).

    Bar length is the number of statements; the label at its end is the net stance;
    hover gives the counts, the actors and evidence.
    """
    from plotly.subplots import make_subplots

    topics = topics or list(dict.fromkeys(sides["topic"]))
    side_list = list(dict.fromkeys(sides["side"]))
    fig = make_subplots(rows=1, cols=len(topics), shared_yaxes=True, subplot_titles=topics,
                        horizontal_spacing=0.04)
    colours = {"oppose": STANCE_COLOURS["oppose"], "neutral": STANCE_COLOURS["neutral"],
               "support": STANCE_COLOURS["support"]}
    for col, t in enumerate(topics, 1):
        recs = sides[sides["topic"] == t].to_dict("records")
        labels = [r["side"] for r in recs]
        hover = [_cell_hover(r["side"], r, evidence=2)
                 + f"<br>actors: {html.escape(', '.join(r['actors']))}" for r in recs]
        for stance, colour in colours.items():
            seg = [_diverging(r)[stance] for r in recs]
            fig.add_bar(x=[w for _, w in seg], base=[b for b, _ in seg], y=labels,
                        orientation="h", name=stance, marker_color=colour, legendgroup=stance,
                        showlegend=col == 1, customdata=hover,
                        hovertemplate="%{customdata}<extra></extra>", row=1, col=col)
        fig.add_scatter(x=[r["support"] + r["neutral"] / 2 for r in recs], y=labels,
                        mode="text", text=[f"  {r['net']:+.2f}" for r in recs],
                        textposition="middle right", showlegend=False, hoverinfo="skip",
                        row=1, col=col)
        fig.add_vline(x=0, line_width=1, line_color="black", row=1, col=col)
        lim, ticks = _count_ticks(recs)
        fig.update_xaxes(range=[-lim * 1.1, lim * 1.4], tickvals=ticks,
                         ticktext=[str(abs(v)) for v in ticks], row=1, col=col)
    fig.update_layout(title="Roll-up by side: statements per topic (oppose ← neutral → support; "
                            "label = net stance)",
                      barmode="overlay", height=max(300, 140 + 40 * len(side_list)), margin=_MARGIN,
                      legend={"orientation": "h", "y": -0.15})
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=side_list)
    fig.update_xaxes(title_text="statements")
    return fig


def _timeline_actors(tl: pd.DataFrame, k: int) -> tuple[list[str], list[str]]:
    """Actors of a topic's timeline, most statements first: the first ``k`` and the rest."""
    ranked = list(tl.groupby("actor")["n"].sum().sort_values(ascending=False, kind="stable").index)
    return ranked[:k], ranked[k:]


def _change_points(sub: pd.DataFrame, changes: pd.DataFrame | None, topic: str,
                   actors: Iterable[str] | None = None) -> list[dict]:
    """The position changes on ``topic``, each with the net stance it changed to (its y)."""
    if changes is None or changes.empty:
        return []
    net = {(r["actor"], r["date"]): r["net"] for r in sub.to_dict("records")}
    keep = set(actors) if actors is not None else None
    return [{**c, "net": net[(c["actor"], c["after_date"])]}
            for c in changes[changes["topic"] == topic].to_dict("records")
            if keep is None or c["actor"] in keep]


def timeline_figure(tl: pd.DataFrame, topic: str, changes: pd.DataFrame | None = None,
                    top: int = TIMELINE_ACTORS) -> go.Figure:
    """One topic: each actor's net stance per article date; changes of position starred.

    The ``top`` actors with most statements are drawn; the others wait in the legend,
    a click away.
    """
    import plotly.graph_objects as go

    sub = tl[tl["topic"] == topic]
    shown, hidden = _timeline_actors(sub, top)
    fig = go.Figure()
    for actor in shown + hidden:
        g = sub[sub["actor"] == actor].sort_values("date")
        recs = g.to_dict("records")
        label = _label(recs[0]["name"], recs[0]["side"])
        # The author is a different writer in every article: points, not a line.
        mode = "markers" if actor == AUTHOR else "lines+markers"
        fig.add_scatter(x=pd.to_datetime(g["date"]), y=g["net"], mode=mode, name=label,
                        marker={"size": [6 + 2 * min(r["n"], 6) for r in recs]},
                        customdata=[_cell_hover(label, r) for r in recs],
                        hovertemplate="%{customdata}<extra></extra>",
                        visible=True if actor in shown else "legendonly")
    points = _change_points(sub, changes, topic)
    if points:
        hover = [f"<b>position change</b>: {html.escape(c['name'])}<br>{c['before_date']} "
                 f"{c['before_stance']} → {c['after_date']} {c['after_stance']}<br>"
                 + _hover_lines([c["before_evidence"], c["after_evidence"]]) for c in points]
        fig.add_scatter(x=pd.to_datetime([c["after_date"] for c in points]),
                        y=[c["net"] for c in points], mode="markers", name="position change",
                        customdata=hover, hovertemplate="%{customdata}<extra></extra>",
                        marker={"symbol": "star", "size": 18, "color": "gold",
                                "line": {"color": "black", "width": 1}})
    fig.update_layout(title=f"Timeline — {topic}: net stance per article date", yaxis=_NET_AXIS,
                      xaxis={"title": "article date"}, height=420,
                      legend={"title": {"text": "actor"}}, margin=_MARGIN)
    return fig


# --- files ----------------------------------------------------------------------------


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then move it into place.

    A reader never sees a half-written file and a failed run leaves the old one intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "_", text.lower()).strip("_") or "topic"


@dataclasses.dataclass
class Report:
    """Tables, figures and files for one set of findings.

    ``registry`` (optional) gives actors their display names and topics their order.
    The tables are computed once, on first use.
    """

    findings: list[Finding]
    registry: Registry | None = None
    title: str = "Who holds which position"

    @classmethod
    def build(cls, source: str | Path | Iterable, registry: Registry | None = None,
              title: str | None = None) -> Report:
        """A report from a findings ``.jsonl`` path or an iterable of finding records."""
        return cls(read_source(source), registry, title or cls.title)

    @cached_property
    def topics(self) -> list[str]:
        return _topic_order(findings_frame(self.findings), self.registry)

    @cached_property
    def positions(self) -> pd.DataFrame:
        return position_table(self.findings, self.registry)

    @cached_property
    def sides(self) -> pd.DataFrame:
        return side_rollup(self.findings, self.registry)

    @cached_property
    def timeline(self) -> pd.DataFrame:
        return timeline(self.findings, self.registry)

    @cached_property
    def changes(self) -> pd.DataFrame:
        return position_changes(self.findings, self.registry)

    def summary(self) -> dict[str, object]:
        dates = sorted(f.date for f in self.findings if f.date)
        return {"findings": len(self.findings),
                "articles": len({f.article for f in self.findings}),
                "actors": len({f.actor for f in self.findings}),
                "topics": len(self.topics),
                "first date": dates[0] if dates else None,
                "last date": dates[-1] if dates else None,
                "undated findings": sum(1 for f in self.findings if not f.date),
                "position changes": len(self.changes)}

    def _require_findings(self) -> None:
        if not self.findings:
            raise StanceError("no findings: no article holds a position on a topic, "
                              "nothing to report")

    # figures

    def heatmap_figure(self) -> go.Figure:
        return heatmap_figure(self.positions, self.topics)

    def rollup_figure(self) -> go.Figure:
        return rollup_figure(self.sides, self.topics)

    def timeline_figures(self) -> dict[str, go.Figure]:
        """One figure per topic that has dated findings."""
        present = set(self.timeline["topic"])
        return {t: timeline_figure(self.timeline, t, self.changes)
                for t in self.topics if t in present}

    # files

    def write_html(self, path: str | Path) -> Path:
        """One self-contained HTML file (plotly.js embedded: it works offline)."""
        self._require_findings()
        page = self.to_html()
        return atomic_write(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))

    def to_html(self) -> str:
        config = {"displaylogo": False, "responsive": True}
        figures = [("heatmap", "Positions by actor and topic", self.heatmap_figure()),
                   ("rollup", "Roll-up by side", self.rollup_figure())]
        timelines = self.timeline_figures()
        figures += [(f"timeline-{_slug(t)}", f"Timeline: {t}", fig) for t, fig in timelines.items()]
        parts = []
        for i, (div_id, heading, fig) in enumerate(figures):
            # plotly.js goes inline once, with the first figure; no CDN, so offline works.
            body = fig.to_html(full_html=False, include_plotlyjs=(i == 0), div_id=div_id,
                               config=config)
            parts.append(f'<section class="figure"><h2>{html.escape(heading)}</h2>{body}</section>')
        if not timelines:
            parts.append("<section><h2>Timelines</h2><p>No finding has an article date, so "
                         "there is no timeline: give articles a date (metadata, a "
                         "<code>date YYYY-MM-DD</code> line or <code>--date</code>).</p></section>")
        return _PAGE.format(title=html.escape(self.title), summary=self._summary_html(),
                            figures="\n".join(parts), changes=self._changes_html(),
                            positions=self._positions_html())

    def _summary_html(self) -> str:
        items = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>"
                        for k, v in self.summary().items() if v is not None)
        return f"<ul class='summary'>{items}</ul>"

    def _changes_html(self) -> str:
        if self.changes.empty:
            return "<p>No actor changed position on a topic between article dates.</p>"
        rows = []
        for c in self.changes.to_dict("records"):
            cells = [f"{html.escape(c['name'])}<br><small>{html.escape(c['side'])}</small>",
                     html.escape(c["topic"])]
            for when in ("before", "after"):
                stance, quote = c[f"{when}_stance"], html.escape(c[f"{when}_evidence"])
                cells.append(f"<b>{c[f'{when}_date']}</b> <span class='{stance}'>{stance}</span>"
                             f"<br><q>{quote}</q><br>"
                             f"<small>{html.escape(c[f'{when}_article'])}</small>")
            rows.append("<tr>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
        head = "".join(f"<th>{h}</th>" for h in ("Actor", "Topic", "Before", "After"))
        return (f"<table id='position-changes'><thead><tr>{head}</tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table>")

    def _positions_html(self) -> str:
        rows = []
        for r in self.positions.to_dict("records"):
            cells = [html.escape(r["name"]), html.escape(r["side"]), html.escape(r["topic"]),
                     f"<span class='{r['stance']}'>{r['stance']}</span>", f"{r['net']:+.2f}",
                     str(r["n"]), f"{r['support']}/{r['oppose']}/{r['neutral']}",
                     html.escape(r["evidence"][0]) if r["evidence"] else ""]
            rows.append("<tr>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
        head = "".join(f"<th>{h}</th>" for h in ("Actor", "Side", "Topic", "Stance", "Net", "n",
                                                  "support/oppose/neutral", "Best evidence"))
        return (f"<table id='positions'><thead><tr>{head}</tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table>")

    def write_pngs(self, folder: str | Path, dpi: int = 150) -> list[Path]:
        """The report's figures as PNG (matplotlib): heatmap, roll-up, a timeline per topic."""
        self._require_findings()
        folder = Path(folder)
        figures = {"heatmap.png": lambda: _mpl_heatmap(self.positions, self.topics),
                   "side_rollup.png": lambda: _mpl_rollup(self.sides, self.topics)}
        present = set(self.timeline["topic"])
        for t in self.topics:
            if t in present:
                figures[f"timeline_{_slug(t)}.png"] = (
                    lambda t=t: _mpl_timeline(self.timeline, t, self.changes))
        written = []
        for name, make in figures.items():
            fig = make()
            written.append(atomic_write(folder / name, lambda tmp, fig=fig: fig.savefig(
                tmp, format="png", dpi=dpi, bbox_inches="tight")))
        return written

    def graph(self) -> nx.Graph:
        """Bipartite actor–topic graph; edges carry support/oppose/neutral counts.

        ``weight`` is the number of supporting plus opposing statements, so a layout pulls
        together the actors and topics that are argued about; ``net`` is the net stance.
        """
        import networkx as nx

        g = nx.Graph()
        for t in self.topics:
            g.add_node(f"topic:{t}", kind="topic", label=t, side="", bipartite=1)
        volume = self.positions.groupby("actor")["n"].sum()
        for r in self.positions.drop_duplicates("actor").to_dict("records"):
            g.add_node(f"actor:{r['actor']}", kind="actor", label=r["name"], side=r["side"],
                       bipartite=0, statements=int(volume[r["actor"]]))
        for r in self.positions.to_dict("records"):
            g.add_edge(f"actor:{r['actor']}", f"topic:{r['topic']}", support=int(r["support"]),
                       oppose=int(r["oppose"]), neutral=int(r["neutral"]),
                       weight=int(r["support"] + r["oppose"]), net=float(r["net"]),
                       stance=r["stance"])
        return g

    def write_graphml(self, path: str | Path) -> Path:
        """The actor–topic network as GraphML (for Gephi, Cytoscape, networkx)."""
        import networkx as nx

        self._require_findings()
        g = self.graph()
        return atomic_write(path, lambda tmp: nx.write_graphml(g, tmp))


# --- PNG (matplotlib, so no browser is needed) ----------------------------------------


def _mpl_heatmap(positions: pd.DataFrame, topics: list[str]):
    import numpy as np
    from matplotlib.figure import Figure

    actors, cell = _matrix(positions, "actor")
    label = _actor_labels(positions)
    z = np.array([[cell[(a, t)]["net"] if (a, t) in cell else np.nan for t in topics]
                  for a in actors]).reshape(len(actors), len(topics))
    fig = Figure(figsize=(4.7 + 1.6 * len(topics), 1.4 + 0.32 * len(actors)))
    ax = fig.subplots()
    ax.set_facecolor("#eeeeee")
    im = ax.imshow(np.ma.masked_invalid(z), cmap=MPL_CMAP, vmin=-1, vmax=1, aspect="auto")
    for i, a in enumerate(actors):
        for j, t in enumerate(topics):
            if (a, t) in cell:
                ax.text(j, i, str(cell[(a, t)]["n"]), ha="center", va="center", fontsize=8,
                        color="white" if abs(z[i, j]) > 0.6 else "black")
    ax.set_xticks(range(len(topics)), topics)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(actors)), [label[a] for a in actors], fontsize=8)
    ax.set_title("Net stance by actor and topic (number = statements)", fontsize=10, pad=24)
    cbar = fig.colorbar(im, ax=ax, shrink=0.6, ticks=[-1, 0, 1])
    cbar.ax.set_yticklabels(["−1 oppose", "0", "+1 support"])
    return fig


def _mpl_rollup(sides: pd.DataFrame, topics: list[str]):
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    side_list = list(dict.fromkeys(sides["side"]))
    fig = Figure(figsize=(2.0 + 3.2 * len(topics), 1.4 + 0.45 * len(side_list)))
    axes = fig.subplots(1, len(topics), sharey=True, squeeze=False)[0]
    for ax, t in zip(axes, topics, strict=True):
        recs = {r["side"]: r for r in sides[sides["topic"] == t].to_dict("records")}
        for y, side in enumerate(side_list):
            rec = recs.get(side)
            if rec is None:
                continue
            for stance, (left, width) in _diverging(rec).items():
                ax.barh(y, width, left=left, color=STANCE_COLOURS[stance], height=0.7,
                        label=stance if y == 0 else None)
            ax.annotate(f"{rec['net']:+.2f}", (rec["support"] + rec["neutral"] / 2, y),
                        xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title(t, fontsize=9)
        ax.set_xlabel("statements", fontsize=8)
        lim, ticks = _count_ticks(recs.values())
        ax.set_xticks(ticks, [str(abs(v)) for v in ticks])
        ax.set_xlim(-lim * 1.1, lim * 1.4)
    axes[0].set_yticks(range(len(side_list)), side_list)
    axes[0].invert_yaxis()
    order = ("oppose", "neutral", "support")
    handles = [Rectangle((0, 0), 1, 1, color=STANCE_COLOURS[s]) for s in order]
    fig.legend(handles, order, loc="lower center", ncol=3, fontsize=8,
               bbox_to_anchor=(0.5, -0.02))
    fig.suptitle("Roll-up by side: statements per topic (oppose ← neutral → support; "
                 "label = net stance)", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def _mpl_timeline(tl: pd.DataFrame, topic: str, changes: pd.DataFrame,
                  top: int = TIMELINE_ACTORS):
    from matplotlib.figure import Figure

    sub = tl[tl["topic"] == topic]
    shown, hidden = _timeline_actors(sub, top)
    fig = Figure(figsize=(9, 4))
    ax = fig.subplots()
    for actor in shown:
        g = sub[sub["actor"] == actor].sort_values("date")
        ax.plot(pd.to_datetime(g["date"]), g["net"], marker="o",
                linewidth=0 if actor == AUTHOR else 1.2,
                label=_label(g["name"].iloc[0], g["side"].iloc[0]))
    points = _change_points(sub, changes, topic, actors=shown)
    if points:
        ax.scatter(pd.to_datetime([c["after_date"] for c in points]), [c["net"] for c in points],
                   marker="*", s=220, color="gold", edgecolor="black", zorder=5,
                   label="position change")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylim(-1.15, 1.15)
    ax.set_ylabel("net stance")
    more = f" (+{len(hidden)} actors in the HTML report)" if hidden else ""
    ax.set_title(f"Timeline — {topic}: net stance per article date{more}", fontsize=10)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.autofmt_xdate()
    return fig


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="stance report">
<title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem auto;
       max-width: 1200px; padding: 0 1rem; color: #222; }}
h1 {{ margin-bottom: .2rem; }}
.summary {{ display: flex; flex-wrap: wrap; gap: .4rem 1.5rem; list-style: none; padding: 0; }}
section {{ margin: 2rem 0; }}
table {{ border-collapse: collapse; width: 100%; font-size: .9rem; }}
th, td {{ border: 1px solid #ddd; padding: .35rem .5rem; vertical-align: top; text-align: left; }}
th {{ background: #f4f4f4; }}
.support {{ color: #2166ac; font-weight: 600; }}
.oppose {{ color: #b2182b; font-weight: 600; }}
.neutral, .mixed {{ color: #666; }}
q {{ font-style: italic; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>Net stance = (supporting − opposing statements) / all statements of a holder on a topic:
+1 always for, −1 always against. Hover over a cell, bar or point for the evidence.</p>
{summary}
{figures}
<section><h2>Position changes</h2>
<p>An actor whose stance on a topic flips between article dates (neutral remarks are not
counted as a change; the article's own voice is left out).</p>
{changes}
</section>
<section><h2>All positions</h2>
<details><summary>Show the actor × topic table</summary>
{positions}
</details>
</section>
</body>
</html>
"""
