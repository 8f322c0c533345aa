"""The contract every model family fulfils, and how a target is put into words.

In: frames of sentences (and holders, topics). Out: topic and stance probabilities;
a saved folder (``classifier.json`` + the family's weights) and back.

A classifier answers two questions about a sentence (with the sentence before it):
which topics it concerns (multi-label, ``predict_topics``) and, for a given holder and
topic, the holder's stance (``predict_stance``). Together they predict the whole
(actor, topic, stance) triple for a new sentence once attribution has named the holder.
Frames passed in have the columns ``text``, ``context``, and for stance also ``actor``,
``side``, ``topic`` and (optional) ``holder_name``, the holder's name as the sentence writes it.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import STANCES
from .params import FamilyParams, validate_params

if TYPE_CHECKING:
    import pandas as pd

META_FILE = "classifier.json"
HOLDER_FILE = "holder_model.skops"  # the learned holder model, shared by every family
# How every transformers folder (a base model, a saved model, a tokenizer) is loaded: a
# model folder may come from a shared tracking server, so never run code it ships
# (``auto_map``) and read weights only from safetensors, never from a pickle.
HF_MODEL_ARGS = {"trust_remote_code": False, "use_safetensors": True}
HF_TOKENIZER_ARGS = {"trust_remote_code": False}


class Columns(dict):
    """Equal-length columns by name, for frames built while scoring: reads like a DataFrame
    (``"text" in cols``, ``cols["text"]``, ``len(cols)`` = rows) without importing pandas,
    which alone is a fifth of a cold start."""

    def __len__(self) -> int:
        return len(next(iter(self.values()), ()))


def text_column(frame: pd.DataFrame, name: str, default: str = "") -> list[str]:
    """A column as clean strings; absent or missing values become ``default``."""
    if name not in frame:
        return [default] * len(frame)
    return [default if (v is None or v != v or v == "") else str(v) for v in frame[name]]


_WORD = re.compile(r"[a-z][a-z'-]+")


def holder_window(text: str, name: str, width: int) -> str:
    """The words around the holder's name in the sentence, as ``near_<word>`` tokens.

    Why: a sentence with several holders says different things about each ("X proposed a
    truce that Y rejected"); the words next to a holder's name tell its own position apart.
    ``near_none`` when the holder is not named in the sentence (the author, a pronoun).
    """
    at = text.lower().find(name.lower()) if name else -1
    if at < 0 or width <= 0:
        return "near_none"
    before = _WORD.findall(text[:at].lower())[-width:]
    after = _WORD.findall(text[at + len(name) :].lower())[:width]
    return " ".join([*(f"near_{w}" for w in before), *(f"near_{w}" for w in after)]) or "near_none"


def align_classes(probs: np.ndarray, classes) -> np.ndarray:
    """Reorder a classifier's probability columns to :data:`STANCES` (zeros for unseen classes)."""
    classes = list(classes)
    return np.column_stack([probs[:, classes.index(s)] if s in classes else np.zeros(len(probs)) for s in STANCES])


def topic_name(topic: str) -> str:
    """A topic id as words: ``security_guarantees`` → ``security guarantees``."""
    return topic.replace("_", " ")


def describe_holder(actor: str, side: str) -> str:
    """The holder as text: ``holder: zelensky (ukraine)``."""
    holder = "the author" if actor == "author" else actor.replace("_", " ")
    return f"holder: {holder} ({side.replace('_', ' ')})"


def describe_target(actor: str, side: str, topic: str, propositions: dict[str, str] | None = None) -> str:
    """The target as text, so one model learns every (holder, issue) pair.

    With ``propositions`` the issue's full proposition is spelt out (useful to a frozen
    encoder); without, the topic name alone keeps inputs short.
    """
    issue = topic_name(topic)
    if propositions and topic in propositions:
        issue = f"{issue}: {propositions[topic]}"
    return f"{issue} {describe_holder(actor, side)}"


class FitMonitor:
    """Where a family reports while it trains; every method is a no-op here.

    Training turns the calls into a progress display and MLflow step metrics, so the
    families know neither the terminal nor MLflow.
    """

    def progress(self, done: int, total: int, unit: str = "steps") -> None:
        """``done`` of ``total`` units of this fit are finished."""

    def metrics(self, values: dict[str, float], step: int) -> None:
        """Points of the training curves (loss, dev loss) at ``step``."""


class StanceClassifier(ABC):
    """Base class of the model families (baseline, embedding, transformer)."""

    family: str = ""
    Params: type[FamilyParams] = FamilyParams  # the family's typed parameters and defaults
    # True: predict_* take :class:`Columns` too, so scoring never imports pandas. A class
    # of your own gets DataFrames, as documented.
    reads_columns: bool = False

    def __init__(self, topics: dict[str, str], params: dict | None = None):
        # topics: id -> proposition, in registry order; the topic output columns follow it.
        self.topics = dict(topics)
        # Who holds a sentence's positions (pipeline.holders.HolderModel); None: the rules.
        self.holder_model = None
        self.params = validate_params(self.family, params, where=f"{self.family} model", model=self.Params)
        self.topic_threshold = float(self.params["topic_threshold"])
        # The lowest finding confidence `stance score` keeps by default (tuned end to end on dev).
        self.position_threshold = float(self.params["position_threshold"])

    @property
    def topic_ids(self) -> list[str]:
        return list(self.topics)

    @abstractmethod
    def fit(
        self,
        sentences: pd.DataFrame,
        items: pd.DataFrame,
        dev: tuple[pd.DataFrame, pd.DataFrame] | None = None,
        monitor: FitMonitor | None = None,
    ) -> None:
        """Train. ``sentences``: text, context and one 0/1 column per topic id.
        ``items``: text, context, actor, side, topic, stance (positions only, no ``none``).
        ``dev``: (sentences, items) of held-out data for eval curves (a family may ignore
        it); ``monitor`` hears the progress and the curves."""

    def predict_topics(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability that each sentence concerns each topic: shape (n, len(topic_ids))."""
        if len(frame) == 0:
            return np.zeros((0, len(self.topic_ids)))
        return np.asarray(self._topic_probs(frame), dtype=float)

    def predict_topics_above(self, frame: pd.DataFrame, floor: float) -> np.ndarray:
        """:meth:`predict_topics` where only probabilities that reach ``floor`` must be exact.

        Scoring keeps no topic below its cut, so a family may skip work on the sentences
        where no topic can reach it, and return there any values below ``floor``. Here:
        every probability exact."""
        return self.predict_topics(frame)

    def predict_stance(self, frame: pd.DataFrame) -> np.ndarray:
        """Stance probabilities in :data:`STANCES` order: shape (n, 3)."""
        if len(frame) == 0:
            return np.zeros((0, len(STANCES)))
        return np.asarray(self._stance_probs(frame), dtype=float)

    @abstractmethod
    def _topic_probs(self, frame: pd.DataFrame) -> np.ndarray:
        """:meth:`predict_topics` for a non-empty frame."""

    @abstractmethod
    def _stance_probs(self, frame: pd.DataFrame) -> np.ndarray:
        """:meth:`predict_stance` for a non-empty frame."""

    @abstractmethod
    def _save_weights(self, folder: Path) -> None: ...

    @abstractmethod
    def _load_weights(self, folder: Path) -> None: ...

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"family": self.family, "topics": self.topics, "params": self.params}
        (folder / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        self._save_weights(folder)
        if self.holder_model is not None:
            self.holder_model.save(folder / HOLDER_FILE)
        return folder

    @staticmethod
    def load(folder: str | Path) -> StanceClassifier:
        """Load any family from a folder written by :meth:`save`."""
        from . import family_class

        folder = Path(folder)
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        model = family_class(meta["family"])(meta["topics"], meta["params"])
        model._load_weights(folder)
        if (folder / HOLDER_FILE).exists() or (folder / HOLDER_FILE).with_suffix(".npz").exists():
            from ..pipeline.holders import HolderModel

            model.holder_model = HolderModel.load(folder / HOLDER_FILE)
        return model
