"""The corpus report: who holds which position, per side and over time, with evidence.

``inputs`` (findings files read, articles scored) → ``tables`` (findings → frames,
through the one vote) → ``figures`` (one spec per figure, drawn with plotly) and ``png``
(the same specs with matplotlib) → ``page`` (the :class:`Report`: HTML page, PNG files,
GraphML).
"""

from ..pipeline.findings import Finding, FindingsError, as_findings, is_findings_file, load_findings, read_source
from .inputs import Gathered, gather_findings
from .page import FigureView, Report
from .tables import findings_frame, position_changes, position_table, side_rollup, timeline

__all__ = [
    "Finding",
    "FigureView",
    "FindingsError",
    "Gathered",
    "Report",
    "as_findings",
    "findings_frame",
    "gather_findings",
    "is_findings_file",
    "load_findings",
    "position_changes",
    "position_table",
    "read_source",
    "side_rollup",
    "timeline",
]
