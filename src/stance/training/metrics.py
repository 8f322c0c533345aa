"""Classification metrics and the figures/tables that go with them.

In: gold and predicted labels (stance) or 0/1 matrices (topics). Out: flat dicts of
floats ready for ``mlflow.log_metrics`` and matplotlib figures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import STANCES


def stance_metrics(gold: list[str], pred: list[str]) -> dict[str, float]:
    """Macro-F1, per-class F1, accuracy and F_avg (mean F1 of support and oppose, SemEval-2016)."""
    from sklearn.metrics import accuracy_score, f1_score

    labels = list(STANCES)
    per_class = f1_score(gold, pred, labels=labels, average=None, zero_division=0)
    out = {f"f1_{lab}": float(v) for lab, v in zip(labels, per_class)}
    out["macro_f1"] = float(np.mean(per_class))
    out["f_avg"] = float((out["f1_support"] + out["f1_oppose"]) / 2)
    out["accuracy"] = float(accuracy_score(gold, pred)) if len(gold) else 0.0
    return out


def topic_metrics(gold: np.ndarray, pred: np.ndarray, topic_ids: list[str]) -> dict[str, float]:
    """Topic detection: micro and macro F1 over topics, per-topic F1, and 'none' F1."""
    from sklearn.metrics import f1_score

    gold, pred = np.asarray(gold, dtype=int), np.asarray(pred, dtype=int)
    out = {
        "topic_f1_micro": float(f1_score(gold, pred, average="micro", zero_division=0)),
        "topic_f1_macro": float(f1_score(gold, pred, average="macro", zero_division=0)),
    }
    for j, t in enumerate(topic_ids):
        out[f"topic_f1_{t}"] = float(f1_score(gold[:, j], pred[:, j], zero_division=0))
    out["topic_f1_none"] = float(f1_score(gold.sum(1) == 0, pred.sum(1) == 0, zero_division=0))
    return out


def best_threshold(gold: np.ndarray, probs: np.ndarray) -> float:
    """The topic threshold that maximises micro-F1 on held-out data (grid 0.1..0.9)."""
    from sklearn.metrics import f1_score

    grid = np.round(np.arange(0.1, 0.91, 0.05), 2)
    scores = [f1_score(gold, (probs >= t).astype(int), average="micro", zero_division=0) for t in grid]
    return float(grid[int(np.argmax(scores))])


def confusion_figure(gold: list[str], pred: list[str], title: str):
    """Confusion matrix (rows gold, columns predicted) as a matplotlib figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, ax = plt.subplots(figsize=(4.5, 4))
    ConfusionMatrixDisplay.from_predictions(gold, pred, labels=list(STANCES), ax=ax, colorbar=False, cmap="Blues")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def comparison_figure(table: pd.DataFrame, metric: str = "test_macro_f1"):
    """Bar chart of one metric per model family, for the parent run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = table[metric].astype(float).fillna(0.0)  # a family without the metric: a zero bar
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(table.index.astype(str), values, color="#4c72b0")
    ax.set_ylabel(metric)
    ax.set_ylim(0, 1)
    for i, v in enumerate(values):
        ax.text(i, v + 0.02, f"{v:.3f}", ha="center")
    fig.tight_layout()
    return fig
