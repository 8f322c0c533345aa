"""What training reports to a user interface, kept apart from training itself.

The CLI's progress display subclasses :class:`TrainingMonitor`; importing it must not
import what training needs (pandas, MLflow), or every command — ``stance score`` included —
would pay for that at start-up.
"""

from __future__ import annotations

from ..models.base import FitMonitor


class TrainingMonitor(FitMonitor):
    """What :func:`~stance.training.train.train` reports to a user interface (the CLI's
    progress display).

    Every method is a no-op here. ``stage`` opens each step (the holder model, then each
    family); ``progress`` and ``metrics`` come from the family's fit; ``finished`` closes it.
    """

    def stage(self, name: str, index: int, total: int) -> None:
        """Stage ``index`` (1-based) of ``total`` starts."""

    def finished(self, name: str, summary: str) -> None:
        """The stage ended; ``summary`` is one line of its results."""
