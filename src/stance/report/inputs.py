"""What a report is built from: findings files read as they are, every other input scored.

In: paths (findings ``.jsonl`` files, articles, folders, JSONL corpora, ``"-"``), a model
and a registry. Out: :class:`Gathered` findings and the inputs that failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..labels.registry import Registry
from ..pipeline.findings import Finding, as_findings, is_findings_file, load_findings
from ..pipeline.scoring import score_corpus


@dataclass
class Gathered:
    """Findings collected for a report, and what happened to each input."""

    findings: list[Finding]
    findings_files: int = 0
    articles_scored: int = 0
    problems: list[str] = field(default_factory=list)  # inputs that failed


def gather_findings(
    paths: Iterable[str | Path],
    model=None,
    registry: Registry | str | Path | None = None,
    *,
    date: str | None = None,
    min_confidence: float | None = None,
    on_problem: Callable[[str], None] | None = None,
) -> Gathered:
    """Read findings ``.jsonl`` files as they are and score every other input.

    Articles (files, folders, JSONL corpora, ``"-"``) go through :func:`score_corpus`
    with ``model`` (None: the champion) and ``registry`` (None: ``labels/``). A failed
    input is reported to ``on_problem`` and kept in :attr:`Gathered.problems`; the others
    are still used.
    """
    paths = [str(p) for p in paths]
    out = Gathered([])
    to_score = []
    for p in paths:
        if p != "-" and is_findings_file(p):
            out.findings += [f for f in load_findings(p) if f.confidence >= (min_confidence or 0.0)]
            out.findings_files += 1
        else:
            to_score.append(p)
    if to_score:

        def problem(pr) -> None:
            if getattr(pr, "level", "error") == "error":
                out.problems.append(str(pr))
            if on_problem is not None:
                on_problem(str(pr))

        corpus = score_corpus(
            to_score, model=model, registry=registry, date=date, min_confidence=min_confidence, on_problem=problem
        )
        for result in corpus:
            out.articles_scored += 1
            out.findings += as_findings(result.findings)
    return out
