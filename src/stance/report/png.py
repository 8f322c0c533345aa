"""Static report figures with matplotlib, so PNGs need no browser.

In: the figure specs of :mod:`stance.report.figures` (the same the HTML draws). Out:
matplotlib figures, ready for ``savefig``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .figures import BAR_ORDER, COLOUR_SCALE, ROLLUP_TITLE, STANCE_COLOURS, HeatmapSpec, RollupSpec, TimelineSpec


def heatmap_png(spec: HeatmapSpec):
    from matplotlib.figure import Figure

    z = np.array([[np.nan if v is None else v for v in row] for row in spec.net], dtype=float)
    z = z.reshape(len(spec.rows), len(spec.topics))
    fig = Figure(figsize=(4.7 + 1.6 * len(spec.topics), 1.4 + 0.32 * len(spec.rows)))
    ax = fig.subplots()
    ax.set_facecolor("#eeeeee")
    im = ax.imshow(np.ma.masked_invalid(z), cmap=COLOUR_SCALE, vmin=-1, vmax=1, aspect="auto")
    for i, row in enumerate(spec.counts):
        for j, count in enumerate(row):
            if count:
                colour = "white" if abs(z[i, j]) > 0.6 else "black"
                ax.text(j, i, count, ha="center", va="center", fontsize=8, color=colour)
    ax.set_xticks(range(len(spec.topics)), spec.topics)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(spec.rows)), spec.rows, fontsize=8)
    ax.set_title("Net stance by actor and topic (number = statements)", fontsize=10, pad=24)
    cbar = fig.colorbar(im, ax=ax, shrink=0.6, ticks=[-1, 0, 1])
    cbar.ax.set_yticklabels(["−1 oppose", "0", "+1 support"])
    return fig


def rollup_png(spec: RollupSpec):
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=(2.0 + 3.2 * len(spec.topics), 1.4 + 0.45 * len(spec.sides)))
    axes = fig.subplots(1, len(spec.topics), sharey=True, squeeze=False)[0]
    for ax, t in zip(axes, spec.topics, strict=True):
        bars = {b.side: b for b in spec.bars[t]}
        for y, side in enumerate(spec.sides):
            bar = bars.get(side)
            if bar is None:
                continue
            for stance, (left, width) in bar.segments.items():
                ax.barh(y, width, left=left, color=STANCE_COLOURS[stance], height=0.7)
            ax.annotate(
                f"{bar.net:+.2f}", (bar.label_x, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7
            )
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title(t, fontsize=9)
        ax.set_xlabel("statements", fontsize=8)
        lim, ticks = spec.limits[t]
        ax.set_xticks(ticks, [str(abs(v)) for v in ticks])
        ax.set_xlim(-lim * 1.1, lim * 1.4)
    axes[0].set_yticks(range(len(spec.sides)), spec.sides)
    axes[0].invert_yaxis()
    handles = [Rectangle((0, 0), 1, 1, color=STANCE_COLOURS[s]) for s in BAR_ORDER]
    fig.legend(handles, BAR_ORDER, loc="lower center", ncol=3, fontsize=8, bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(ROLLUP_TITLE, fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def timeline_png(spec: TimelineSpec):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4))
    ax = fig.subplots()
    for s in spec.series:
        if s.shown:
            ax.plot(
                s.x or pd.to_datetime(s.dates), s.net, marker="o", linewidth=0 if s.is_author else 1.2, label=s.label
            )
    points = [c for c in spec.changes if c["shown"]]
    if points:
        ax.scatter(
            [c.get("x", pd.Timestamp(c["after_date"])) for c in points],
            [c["net"] for c in points],
            marker="*",
            s=220,
            color="gold",
            edgecolor="black",
            zorder=5,
            label="position change",
        )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylim(-1.15, 1.15)
    ax.set_ylabel("net stance")
    more = f" (+{spec.hidden} actors in the HTML report)" if spec.hidden else ""
    ax.set_title(f"Timeline — {spec.topic}: net stance per article date{more}", fontsize=10)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.autofmt_xdate()
    return fig
