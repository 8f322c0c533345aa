"""Report figures: one spec per figure, rendered by plotly here and by matplotlib in ``png``.

In: the report tables (:mod:`stance.report.tables`). Out: figure specs — plain data that
says what is drawn (cells, bars, series, hovers) — and their interactive plotly figures.
Computing the spec once keeps the HTML and the PNG versions of a figure the same.
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from ..config import AUTHOR

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

# Same colours in the HTML and the PNGs: red = oppose (−1), blue = support (+1).
COLOUR_SCALE = "RdBu"
STANCE_COLOURS = {"support": "#2166ac", "oppose": "#b2182b", "neutral": "#a0a0a0"}
BAR_ORDER = ("oppose", "neutral", "support")
# Timelines show this many actors by default (the rest a click away in the HTML legend).
TIMELINE_ACTORS = 8
HEATMAP_TITLE = "Positions: actor × topic (colour = net stance, number = statements)"
ROLLUP_TITLE = "Roll-up by side: statements per topic (oppose ← neutral → support; label = net stance)"
_MARGIN = {"l": 10, "r": 10, "t": 60, "b": 40}
_NET_AXIS = {"range": [-1.15, 1.15], "title": "net stance", "zeroline": True, "zerolinewidth": 2}


# --- specs ------------------------------------------------------------------------------


@dataclass
class HeatmapSpec:
    """Actor × topic: net stance per cell (None where the actor said nothing)."""

    topics: list[str]
    rows: list[str]  # "name · side" per actor
    net: list[list[float | None]]
    counts: list[list[str]]
    hover: list[list[str]]


@dataclass
class RollupBar:
    side: str
    segments: dict[str, tuple[float, float]]  # stance -> (left, width)
    net: float
    label_x: float
    hover: str


@dataclass
class RollupSpec:
    """Per topic, each side's statements as a diverging bar (oppose ← neutral → support)."""

    topics: list[str]
    sides: list[str]
    bars: dict[str, list[RollupBar]]  # topic -> bars
    limits: dict[str, tuple[float, list[int]]]  # topic -> (half width, ticks)


@dataclass
class Series:
    label: str
    dates: list[str]
    net: list[float]
    sizes: list[int]
    hover: list[str]
    is_author: bool
    shown: bool
    # Where the points are drawn: the dates, nudged apart where several actors share a date
    # and a value (one would hide the others); hovers keep the true dates.
    x: list = field(default_factory=list)


@dataclass
class TimelineSpec:
    """One topic: each actor's net stance per article date, with the position changes."""

    topic: str
    series: list[Series]
    changes: list[dict] = field(default_factory=list)  # with "net" (y), "hover", "shown"
    hidden: int = 0


def _esc(text: str) -> str:
    """Escape for plotly's hover markup: ``<``, ``>``, ``&`` only — plotly shows ``&quot;``
    as typed, so quotes stay quotes."""
    return html.escape(text, quote=False)


def _hover_lines(evidence: list[str], width: int = 90) -> str:
    return "<br>".join("• " + "<br>  ".join(textwrap.wrap(e, width)) for e in evidence)


def _label(name: str, side: str) -> str:
    return f"{name} · {side}"


def _cell_hover(holder: str, rec: dict, evidence: int | None = None) -> str:
    """Hover text of one aggregate: the holder, the counts and the evidence sentences."""
    where = f" · {rec['date']}" if rec.get("date") else f" on <b>{_esc(rec['topic'])}</b>"
    return (
        f"<b>{_esc(holder)}</b>{where}: {rec['stance']}<br>"
        f"net {rec['net']:+.2f} · {rec['support']} support, {rec['oppose']} oppose, "
        f"{rec['neutral']} neutral · {rec['articles']} article(s)<br>"
        + _hover_lines([_esc(e) for e in rec["evidence"][:evidence]])
    )


def heatmap_spec(positions: pd.DataFrame, topics: list[str] | None = None) -> HeatmapSpec:
    topics = topics or list(dict.fromkeys(positions["topic"]))
    records = positions.to_dict("records")
    actors = list(dict.fromkeys(positions["actor"]))
    cell = {(r["actor"], r["topic"]): r for r in records}
    label = {r["actor"]: _label(r["name"], r["side"]) for r in records}
    net, counts, hover = [], [], []
    for a in actors:
        recs = [cell.get((a, t)) for t in topics]
        net.append([r["net"] if r else None for r in recs])
        counts.append([str(r["n"]) if r else "" for r in recs])
        hover.append([_cell_hover(label[a], r) if r else "" for r in recs])
    return HeatmapSpec(topics, [label[a] for a in actors], net, counts, hover)


def _diverging(rec: dict) -> dict[str, tuple[float, float]]:
    """Bar segments (left, width): oppose left of zero, support right of it, neutral
    straddling zero, so the balance shows at a glance."""
    half = rec["neutral"] / 2
    return {
        "oppose": (-half - rec["oppose"], rec["oppose"]),
        "neutral": (-half, rec["neutral"]),
        "support": (half, rec["support"]),
    }


def _count_ticks(recs: Iterable[dict]) -> tuple[float, list[int]]:
    """Half-width of a diverging axis and its tick positions (labelled as counts, unsigned)."""
    lim = max([max(r["support"], r["oppose"]) + r["neutral"] / 2 for r in recs] or [1.0])
    step = max(1, math.ceil(lim / 3))
    k = math.ceil(lim / step)
    return lim, list(range(-k * step, k * step + 1, step))


def rollup_spec(sides: pd.DataFrame, topics: list[str] | None = None) -> RollupSpec:
    topics = topics or list(dict.fromkeys(sides["topic"]))
    bars, limits = {}, {}
    for t in topics:
        recs = sides[sides["topic"] == t].to_dict("records")
        bars[t] = [
            RollupBar(
                side=r["side"],
                segments=_diverging(r),
                net=r["net"],
                label_x=r["support"] + r["neutral"] / 2,
                hover=_cell_hover(r["side"], r, evidence=2) + f"<br>actors: {_esc(', '.join(r['actors']))}",
            )
            for r in recs
        ]
        limits[t] = _count_ticks(recs)
    return RollupSpec(topics, list(dict.fromkeys(sides["side"])), bars, limits)


def timeline_spec(
    tl: pd.DataFrame, topic: str, changes: pd.DataFrame | None = None, top: int = TIMELINE_ACTORS
) -> TimelineSpec:
    """The ``top`` actors with most statements are shown; the others wait in the legend."""
    sub = tl[tl["topic"] == topic]
    ranked = list(sub.groupby("actor")["n"].sum().sort_values(ascending=False, kind="stable").index)
    shown = set(ranked[:top])
    series = []
    for actor in ranked:
        recs = sub[sub["actor"] == actor].sort_values("date").to_dict("records")
        label = _label(recs[0]["name"], recs[0]["side"])
        series.append(
            Series(
                label=label,
                dates=[r["date"] for r in recs],
                net=[r["net"] for r in recs],
                sizes=[6 + 2 * min(r["n"], 6) for r in recs],
                hover=[_cell_hover(label, r) for r in recs],
                is_author=actor == AUTHOR,
                shown=actor in shown,
            )
        )
    xs = _jittered([(actor, s) for actor, s in zip(ranked, series, strict=True)])
    for actor, s in zip(ranked, series, strict=True):
        s.x = [xs[(actor, d)] for d in s.dates]
    points = []
    if changes is not None and not changes.empty:
        net = {(r["actor"], r["date"]): r["net"] for r in sub.to_dict("records")}
        for c in changes[changes["topic"] == topic].to_dict("records"):
            hover = (
                f"<b>position change</b>: {_esc(c['name'])}<br>{c['before_date']} "
                f"{c['before_stance']} → {c['after_date']} {c['after_stance']}<br>"
                + _hover_lines([_esc(c["before_evidence"]), _esc(c["after_evidence"])])
            )
            points.append(
                {
                    **c,
                    "net": net[(c["actor"], c["after_date"])],
                    "x": xs[(c["actor"], c["after_date"])],
                    "hover": hover,
                    "shown": c["actor"] in shown,
                }
            )
    return TimelineSpec(topic, series, points, hidden=max(len(ranked) - top, 0))


# A point that shares its date and value with others moves this share of the timeline's
# span (at least a day) per neighbour, so every actor's marker stays visible.
JITTER = 0.012


def _jittered(series: list[tuple[str, Series]]) -> dict[tuple[str, str], pd.Timestamp]:
    """(actor, date) → where to draw it: the date, spread sideways among the actors that
    have the same date and (rounded) net stance, in legend order, centred on the date."""
    dates = sorted({d for _, s in series for d in s.dates})
    if not dates:
        return {}
    span = max((pd.Timestamp(dates[-1]) - pd.Timestamp(dates[0])).total_seconds(), 86_400.0)
    step = pd.Timedelta(seconds=span * JITTER)
    groups: dict[tuple[str, float], list[str]] = {}
    for actor, s in series:
        for d, v in zip(s.dates, s.net, strict=True):
            groups.setdefault((d, round(v, 2)), []).append(actor)
    out = {}
    for (d, _), actors in groups.items():
        for i, actor in enumerate(actors):
            out[(actor, d)] = pd.Timestamp(d) + step * (i - (len(actors) - 1) / 2)
    return out


# --- plotly -----------------------------------------------------------------------------


def heatmap_figure(spec: HeatmapSpec) -> go.Figure:
    """Actor × topic heatmap: colour = net stance, cell text = statements, hover = evidence."""
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Heatmap(
            z=spec.net,
            x=spec.topics,
            y=spec.rows,
            text=spec.counts,
            texttemplate="%{text}",
            customdata=spec.hover,
            hovertemplate="%{customdata}<extra></extra>",
            hoverongaps=False,
            colorscale=COLOUR_SCALE,
            zmin=-1,
            zmax=1,
            zmid=0,
            colorbar={
                "title": {"text": "net stance"},
                "tickvals": [-1, 0, 1],
                "ticktext": ["−1 oppose", "0", "+1 support"],
            },
        )
    )
    fig.update_layout(
        title=HEATMAP_TITLE,
        height=max(320, 140 + 26 * len(spec.rows)),
        margin=_MARGIN,
        xaxis={"side": "top"},
        yaxis={"autorange": "reversed"},
        plot_bgcolor="#f4f4f4",
    )
    return fig


def rollup_figure(spec: RollupSpec) -> go.Figure:
    """Bar length is the number of statements; the label at its end is the net stance."""
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1, cols=len(spec.topics), shared_yaxes=True, subplot_titles=spec.topics, horizontal_spacing=0.04
    )
    for col, t in enumerate(spec.topics, 1):
        bars = spec.bars[t]
        labels = [b.side for b in bars]
        for stance in BAR_ORDER:
            seg = [b.segments[stance] for b in bars]
            fig.add_bar(
                x=[w for _, w in seg],
                base=[left for left, _ in seg],
                y=labels,
                orientation="h",
                name=stance,
                marker_color=STANCE_COLOURS[stance],
                legendgroup=stance,
                showlegend=col == 1,
                customdata=[b.hover for b in bars],
                hovertemplate="%{customdata}<extra></extra>",
                row=1,
                col=col,
            )
        fig.add_scatter(
            x=[b.label_x for b in bars],
            y=labels,
            mode="text",
            text=[f"  {b.net:+.2f}" for b in bars],
            textposition="middle right",
            showlegend=False,
            hoverinfo="skip",
            row=1,
            col=col,
        )
        fig.add_vline(x=0, line_width=1, line_color="black", row=1, col=col)
        lim, ticks = spec.limits[t]
        fig.update_xaxes(
            range=[-lim * 1.1, lim * 1.4], tickvals=ticks, ticktext=[str(abs(v)) for v in ticks], row=1, col=col
        )
    fig.update_layout(
        title=ROLLUP_TITLE,
        barmode="overlay",
        height=max(300, 140 + 40 * len(spec.sides)),
        margin=_MARGIN,
        legend={"orientation": "h", "y": -0.15},
    )
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=spec.sides)
    fig.update_xaxes(title_text="statements")
    return fig


def timeline_figure(spec: TimelineSpec) -> go.Figure:
    """One topic's timeline; the author (a different writer each article) as points only."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for s in spec.series:
        fig.add_scatter(
            x=s.x or pd.to_datetime(s.dates),
            y=s.net,
            mode="markers" if s.is_author else "lines+markers",
            name=s.label,
            marker={"size": s.sizes},
            customdata=s.hover,
            hovertemplate="%{customdata}<extra></extra>",
            visible=True if s.shown else "legendonly",
        )
    if spec.changes:
        fig.add_scatter(
            x=[c.get("x", pd.Timestamp(c["after_date"])) for c in spec.changes],
            y=[c["net"] for c in spec.changes],
            mode="markers",
            name="position change",
            customdata=[c["hover"] for c in spec.changes],
            hovertemplate="%{customdata}<extra></extra>",
            marker={"symbol": "star", "size": 18, "color": "gold", "line": {"color": "black", "width": 1}},
        )
    fig.update_layout(
        title=f"Timeline — {spec.topic}: net stance per article date",
        yaxis=_NET_AXIS,
        xaxis={"title": "article date"},
        height=420,
        legend={"title": {"text": "actor"}},
        margin=_MARGIN,
    )
    return fig
