"""Render pandas frames as rich tables for the terminal."""

from __future__ import annotations

import pandas as pd


def frame_table(frame: pd.DataFrame, title: str = ""):
    """A rich Table of a frame, its index shown as the first column(s)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    flat = frame.reset_index()
    for i, col in enumerate(flat.columns):
        table.add_column(str(col), justify="left" if i < frame.index.nlevels else "right")
    for row in flat.itertuples(index=False):
        table.add_row(
            *(
                ""
                if pd.isna(v)
                else str(int(v))
                if isinstance(v, float) and v.is_integer()
                else f"{v:.3f}"
                if isinstance(v, float)
                else str(v)
                for v in row
            )
        )
    return table
