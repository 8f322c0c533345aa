"""Ensemble family: the weighted mean of other families' topic and stance probabilities.

In: the saved folders of member families trained in the same ``stance train`` (named by
their config names). Out: a classifier whose ``predict_topics`` / ``predict_stance`` average
the members', saved as one folder that holds a copy of each member (``members/<name>/``).

Why: the TF-IDF model and the fine-tuned transformer err in different places — n-grams
next to the holder's name against a contextual reading of the whole sentence — and their
mean is better calibrated on real reporting than either (the member weight and the
thresholds are tuned on the dev documents end to end, as every family's). Nothing is
fitted here: the members' weights are their own, so an ensemble costs no training time.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ..errors import StanceError
from .base import Columns, StanceClassifier
from .params import EnsembleParams

MEMBERS_DIR = "members"


class EnsembleClassifier(StanceClassifier):
    family = "ensemble"
    Params = EnsembleParams

    def __init__(self, topics, params=None):
        super().__init__(topics, params)
        self.members: list[StanceClassifier] = []
        self._dirs: list[Path] = []  # each member's saved folder (copied by save)

    @property
    def reads_columns(self) -> bool:  # type: ignore[override]
        return all(m.reads_columns for m in self.members)

    @property
    def weights(self) -> np.ndarray:
        """The members' weights, summing to one (equal where none were set or tuned)."""
        w = self.params.get("weights") or [1.0] * len(self.params["members"])
        w = np.asarray(w, dtype=float)
        return w / w.sum()

    def set_weights(self, weights: list[float]) -> None:
        if len(weights) != len(self.params["members"]):
            raise StanceError(f"ensemble: {len(weights)} weights for {len(self.params['members'])} members")
        self.params["weights"] = [float(w) for w in weights]

    def adopt(self, trained: dict[str, Path]) -> None:
        """Take the members from the folders of families trained earlier in the same run."""
        missing = [name for name in self.params["members"] if name not in trained]
        if missing:
            raise StanceError(
                f"ensemble: member {missing[0]!r} was not trained before it in this run "
                f"(trained: {', '.join(trained) or 'none'}); pass its config before the ensemble's"
            )
        self._load_members([Path(trained[name]) for name in self.params["members"]])

    def _load_members(self, dirs: list[Path]) -> None:
        self.members, self._dirs = [], list(dirs)
        for name, folder in zip(self.params["members"], dirs, strict=True):
            if not folder.is_dir():
                raise StanceError(f"{folder}: the ensemble's member {name!r} is missing; retrain with `make train`")
            member = StanceClassifier.load(folder)
            if member.topic_ids != self.topic_ids:
                raise StanceError(f"{folder}: member {name!r} has topics {member.topic_ids}, not {self.topic_ids}")
            member.holder_model = None  # the ensemble's own holder model decides
            self.members.append(member)

    def fit(self, sentences, items, dev=None, monitor=None) -> None:
        if not self.members:
            raise StanceError(
                "ensemble: no members — an ensemble is built from families trained in the same "
                f"`stance train` ({', '.join(self.params['members'])}); pass their configs before it"
            )

    def _mean(self, frame, predict: str, upto: int | None = None) -> np.ndarray:
        """The weighted sum of the members' ``predict`` (``upto``: of the first members only)."""
        out = None
        for member, w in zip(self.members[:upto], self.weights[:upto], strict=True):
            part = w * np.asarray(getattr(member, predict)(self._for(member, frame)), dtype=float)
            out = part if out is None else out + part
        return out

    def _topic_probs(self, frame) -> np.ndarray:
        return self._mean(frame, "predict_topics")

    def predict_topics_above(self, frame, floor: float) -> np.ndarray:
        """The last member (the costly one: members are listed cheapest first) runs only on
        the sentences where its share could lift a topic to ``floor``.

        Where the other members' weighted mean plus the last one's whole weight stays below
        ``floor`` for every topic, no result can change, so the others' own mean stands in
        (it is below ``floor`` too). Exact everywhere else. On real reporting this skips the
        transformer for most background sentences.
        """
        if len(frame) == 0 or len(self.members) < 2 or not 0 < floor <= 1:
            return self.predict_topics(frame)
        w = self.weights
        cheap = self._mean(frame, "predict_topics", upto=-1)
        needed = np.flatnonzero((cheap + w[-1]).max(axis=1) >= floor)
        out = cheap / w[:-1].sum()
        if len(needed):
            last = self.members[-1]
            rows = _take(self._for(last, frame), needed)
            out[needed] = cheap[needed] + w[-1] * np.asarray(last.predict_topics(rows), dtype=float)
        return out

    @staticmethod
    def _for(member: StanceClassifier, frame):
        """The frame as the member reads it: light columns, or a DataFrame."""
        if isinstance(frame, Columns) and not member.reads_columns:
            import pandas as pd

            return pd.DataFrame(frame)
        return frame

    def _stance_probs(self, frame) -> np.ndarray:
        return self._mean(frame, "predict_stance")

    def use_runtime(self, runtime: str) -> str:
        """Every member that has runtimes (the transformer: ONNX or PyTorch) switches."""
        chosen = [m.use_runtime(runtime) for m in self.members if hasattr(m, "use_runtime")]
        return chosen[0] if chosen else "n/a"

    def _save_weights(self, folder: Path) -> None:
        for name, src in zip(self.params["members"], self._dirs, strict=True):
            dest = folder / MEMBERS_DIR / name
            if dest.resolve() != src.resolve():
                shutil.rmtree(dest, ignore_errors=True)
                shutil.copytree(src, dest)

    def _load_weights(self, folder: Path) -> None:
        self._load_members([folder / MEMBERS_DIR / name for name in self.params["members"]])


def _take(frame, rows: np.ndarray):
    """The given rows of a frame (light columns or a DataFrame), in order."""
    if isinstance(frame, Columns):
        return Columns({k: [v[i] for i in rows] for k, v in frame.items()})
    return frame.iloc[rows].reset_index(drop=True)
