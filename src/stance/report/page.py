"""The corpus report as files: one self-contained HTML page, PNG figures and GraphML.

In: findings (a list or a findings ``.jsonl`` file) and, optionally, the registry for
display names and topic order. Out: :class:`Report` — its tables (:mod:`.tables`), its
figures (:mod:`.figures` for HTML, :mod:`.png` for images) and the files they go into,
each written atomically.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import re
from collections.abc import Callable, Iterable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..errors import StanceError
from ..io import atomic_write
from ..pipeline.findings import Finding, read_source
from . import figures, png
from .tables import _topic_order, findings_frame, position_changes, position_table, side_rollup, timeline

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx
    import plotly.graph_objects as go

    from ..labels.registry import Registry


class FigureView:
    """A report figure for notebooks: interactive plotly where the frontend runs plotly
    (JupyterLab, VS Code), and a static PNG drawn with matplotlib everywhere else — an
    HTML export, nbconvert, GitHub — so a figure is never blank. No browser or kaleido
    needed."""

    def __init__(self, figure: go.Figure, draw_png: Callable[[], object], dpi: int = 110):
        self.figure = figure
        self._draw = draw_png
        self.dpi = dpi

    def png(self) -> bytes:
        buf = io.BytesIO()
        self._draw().savefig(buf, format="png", dpi=self.dpi, bbox_inches="tight")
        return buf.getvalue()

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        import json

        return {
            "application/vnd.plotly.v1+json": {
                **json.loads(self.figure.to_json()),
                "config": {"displaylogo": False, "responsive": True},
            },
            "image/png": base64.b64encode(self.png()).decode("ascii"),
            "text/plain": f"<figure: {self.figure.layout.title.text or 'report figure'}>",
        }

    def show(self) -> None:
        """Display in a notebook (the same as leaving the view last in a cell)."""
        from IPython.display import display

        display(self)


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
    def build(cls, source: str | Path | Iterable, registry: Registry | None = None, title: str | None = None) -> Report:
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
        return {
            "findings": len(self.findings),
            "articles": len({f.article for f in self.findings}),
            "actors": len({f.actor for f in self.findings}),
            "topics": len(self.topics),
            "first date": dates[0] if dates else None,
            "last date": dates[-1] if dates else None,
            "undated findings": sum(1 for f in self.findings if not f.date),
            "position changes": len(self.changes),
        }

    def _require_findings(self) -> None:
        if not self.findings:
            raise StanceError("no findings: no article holds a position on a topic, nothing to report")

    # figures

    def timeline_specs(self) -> dict[str, figures.TimelineSpec]:
        """One timeline per topic that has dated findings."""
        present = set(self.timeline["topic"])
        return {t: figures.timeline_spec(self.timeline, t, self.changes) for t in self.topics if t in present}

    def heatmap_figure(self) -> go.Figure:
        return figures.heatmap_figure(figures.heatmap_spec(self.positions, self.topics))

    def rollup_figure(self) -> go.Figure:
        return figures.rollup_figure(figures.rollup_spec(self.sides, self.topics))

    def timeline_figures(self) -> dict[str, go.Figure]:
        return {t: figures.timeline_figure(spec) for t, spec in self.timeline_specs().items()}

    # notebook views: plotly with a static fallback

    def heatmap_view(self) -> FigureView:
        spec = figures.heatmap_spec(self.positions, self.topics)
        return FigureView(figures.heatmap_figure(spec), lambda: png.heatmap_png(spec))

    def rollup_view(self) -> FigureView:
        spec = figures.rollup_spec(self.sides, self.topics)
        return FigureView(figures.rollup_figure(spec), lambda: png.rollup_png(spec))

    def timeline_views(self) -> dict[str, FigureView]:
        return {
            t: FigureView(figures.timeline_figure(spec), lambda spec=spec: png.timeline_png(spec))
            for t, spec in self.timeline_specs().items()
        }

    # files

    def write_html(self, path: str | Path) -> Path:
        """One self-contained HTML file (plotly.js embedded: it works offline)."""
        self._require_findings()
        page = self.to_html()
        return atomic_write(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))

    def to_html(self) -> str:
        config = {"displaylogo": False, "responsive": True}
        shown = [
            ("heatmap", "Positions by actor and topic", self.heatmap_figure()),
            ("rollup", "Roll-up by side", self.rollup_figure()),
        ]
        timelines = self.timeline_figures()
        shown += [(f"timeline-{_slug(t)}", f"Timeline: {t}", fig) for t, fig in timelines.items()]
        parts = []
        for i, (div_id, heading, fig) in enumerate(shown):
            # plotly.js goes inline once, with the first figure; no CDN, so offline works.
            body = fig.to_html(full_html=False, include_plotlyjs=(i == 0), div_id=div_id, config=config)
            parts.append(f'<section class="figure"><h2>{html.escape(heading)}</h2>{body}</section>')
        if not timelines:
            parts.append(
                "<section><h2>Timelines</h2><p>No finding has an article date, so "
                "there is no timeline: give articles a date (metadata, a "
                "<code>date YYYY-MM-DD</code> line or <code>--date</code>).</p></section>"
            )
        return _PAGE.format(
            title=html.escape(self.title),
            summary=self._summary_html(),
            figures="\n".join(parts),
            changes=self._changes_html(),
            positions=self._positions_html(),
        )

    def _summary_html(self) -> str:
        items = "".join(
            f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>"
            for k, v in self.summary().items()
            if v is not None
        )
        return f"<ul class='summary'>{items}</ul>"

    def _changes_html(self) -> str:
        if self.changes.empty:
            return "<p>No actor changed position on a topic between article dates.</p>"
        rows = []
        for c in self.changes.to_dict("records"):
            cells = [f"{html.escape(c['name'])}<br><small>{html.escape(c['side'])}</small>", html.escape(c["topic"])]
            for when in ("before", "after"):
                stance, quote = c[f"{when}_stance"], html.escape(c[f"{when}_evidence"])
                cells.append(
                    f"<b>{c[f'{when}_date']}</b> <span class='{stance}'>{stance}</span>"
                    f"<br><q>{quote}</q><br>"
                    f"<small>{html.escape(c[f'{when}_article'])}</small>"
                )
            rows.append("<tr>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
        head = "".join(f"<th>{h}</th>" for h in ("Actor", "Topic", "Before", "After"))
        return f"<table id='position-changes'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"

    def _positions_html(self) -> str:
        rows = []
        for r in self.positions.to_dict("records"):
            cells = [
                html.escape(r["name"]),
                html.escape(r["side"]) + (" <small>(inferred)</small>" if r.get("side_inferred") else ""),
                html.escape(r["topic"]),
                f"<span class='{r['stance']}'>{r['stance']}</span>",
                f"{r['net']:+.2f}",
                str(r["n"]),
                f"{r['support']}/{r['oppose']}/{r['neutral']}",
                html.escape(r["evidence"][0]) if r["evidence"] else "",
            ]
            rows.append("<tr>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
        head = "".join(
            f"<th>{h}</th>"
            for h in ("Actor", "Side", "Topic", "Stance", "Net", "n", "support/oppose/neutral", "Best evidence")
        )
        return f"<table id='positions'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"

    def write_pngs(self, folder: str | Path, dpi: int = 150) -> list[Path]:
        """The report's figures as PNG (matplotlib): heatmap, roll-up, a timeline per topic."""
        self._require_findings()
        folder = Path(folder)
        drawn = {
            "heatmap.png": lambda: png.heatmap_png(figures.heatmap_spec(self.positions, self.topics)),
            "side_rollup.png": lambda: png.rollup_png(figures.rollup_spec(self.sides, self.topics)),
        }
        for t, spec in self.timeline_specs().items():
            drawn[f"timeline_{_slug(t)}.png"] = lambda spec=spec: png.timeline_png(spec)
        written = []
        for name, make in drawn.items():
            fig = make()
            written.append(
                atomic_write(
                    folder / name, lambda tmp, fig=fig: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
                )
            )
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
            g.add_node(
                f"actor:{r['actor']}",
                kind="actor",
                label=r["name"],
                side=r["side"],
                bipartite=0,
                statements=int(volume[r["actor"]]),
            )
        for r in self.positions.to_dict("records"):
            g.add_edge(
                f"actor:{r['actor']}",
                f"topic:{r['topic']}",
                support=int(r["support"]),
                oppose=int(r["oppose"]),
                neutral=int(r["neutral"]),
                weight=int(r["support"] + r["oppose"]),
                net=float(r["net"]),
                stance=r["stance"],
            )
        return g

    def write_graphml(self, path: str | Path) -> Path:
        """The actor–topic network as GraphML (for Gephi, Cytoscape, networkx)."""
        import networkx as nx

        self._require_findings()
        g = self.graph()
        return atomic_write(path, lambda tmp: nx.write_graphml(g, tmp))


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
.neutral {{ color: #666; }}
q {{ font-style: italic; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>Net stance = (supporting − opposing) / all statements of a holder on a topic, each
statement weighted by its confidence: +1 always for, −1 always against. Hover over a cell,
bar or point for the evidence.</p>
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
