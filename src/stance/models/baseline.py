"""TF-IDF baseline: word and character n-grams + logistic regression, target-aware.

Target awareness comes from features conjoined with the topic (each word also appears as
``topic__word``), from holder features (topic, side, side×topic) and from the words around
the holder's name in the sentence, so one linear model can learn that the same words mean
different things for different issues and holders.
Saved as arrays + JSON (:mod:`stance.models.linear_store`: no pickle, loads without
scikit-learn); folders saved with skops by older versions still load.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .base import Columns, FitMonitor, StanceClassifier, align_classes, holder_window, text_column
from .params import BaselineParams

if TYPE_CHECKING:
    import pandas as pd

_TOKEN = re.compile(r"[a-z][a-z'-]+")
_TFIDF_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # TfidfVectorizer's default token pattern


def _target_tokens(frame: pd.DataFrame) -> list[str]:
    out = []
    for text, topic in zip(frame["text"], frame["topic"]):
        words = _TOKEN.findall(text.lower())
        out.append(" ".join(f"{topic}__{w}" for w in words))
    return out


def _has_context(frame: pd.DataFrame) -> bool:
    """Whether any context has a word: a single-sentence set (tweets) has none, and a
    context vectoriser fitted on it would have an empty vocabulary."""
    return any(_TFIDF_TOKEN.search(c) for c in text_column(frame, "context"))


def _holder_tokens(frame: pd.DataFrame) -> list[str]:
    return [
        f"topic_{t} side_{s} pair_{s}_{t} actor_{a}" for t, s, a in zip(frame["topic"], frame["side"], frame["actor"])
    ]


class BaselineClassifier(StanceClassifier):
    family = "baseline"
    reads_columns = True
    Params = BaselineParams

    def __init__(self, topics, params=None):
        super().__init__(topics, params)
        self.topic_model = None
        self.stance_model = None

    # -- feature frames ---------------------------------------------------------------
    @staticmethod
    def _sentence_frame(frame: pd.DataFrame) -> Columns:
        return Columns(text=text_column(frame, "text"), context=text_column(frame, "context"))

    def _stance_frame(self, frame: pd.DataFrame) -> Columns:
        df = self._sentence_frame(frame)
        df["topic"] = text_column(frame, "topic")
        df["side"] = text_column(frame, "side", "other")
        df["actor"] = text_column(frame, "actor", "author")
        df["target"] = _target_tokens(df)
        df["holder"] = _holder_tokens(df)
        width = int(self.params.get("holder_window", 0))
        df["near"] = [
            " ".join([near, *(f"{topic}__{w}" for w in near.split())])
            for near, topic in (
                (holder_window(text, name, width), topic)
                for text, name, topic in zip(df["text"], text_column(frame, "holder_name"), df["topic"], strict=True)
            )
        ]
        return Columns({k: df[k] for k in ("text", "context", "target", "holder", "near")})

    @staticmethod
    def _for(model, columns: Columns):
        """The columns as ``model`` takes them: a DataFrame for a scikit-learn pipeline
        (``None``: the one being fitted), as they are for the arrays format."""
        from .linear_store import LinearTextModel

        if isinstance(model, LinearTextModel):
            return columns
        import pandas as pd

        return pd.DataFrame(columns)

    def _text_features(self, with_target: bool, with_context: bool = True):
        from sklearn.compose import ColumnTransformer
        from sklearn.feature_extraction.text import TfidfVectorizer

        p = self.params
        parts = [
            (
                "word",
                TfidfVectorizer(
                    ngram_range=tuple(p["word_ngrams"]),
                    min_df=p["min_df"],
                    max_features=p["max_features"],
                    sublinear_tf=True,
                ),
                "text",
            ),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=tuple(p["char_ngrams"]),
                    min_df=p["min_df"],
                    max_features=p["max_features"],
                    sublinear_tf=True,
                ),
                "text",
            ),
        ]
        if with_context:
            parts.append(("context", TfidfVectorizer(sublinear_tf=True, min_df=p["min_df"]), "context"))
        weights = {"context": p["context_weight"]} if with_context else {}
        if with_target:
            parts += [
                ("target", TfidfVectorizer(token_pattern=r"\S+", sublinear_tf=True), "target"),
                ("holder", TfidfVectorizer(token_pattern=r"\S+", use_idf=False, norm=None), "holder"),
            ]
            if p.get("holder_window", 0) > 0:
                parts.append(("near", TfidfVectorizer(token_pattern=r"\S+", sublinear_tf=True), "near"))
        return ColumnTransformer(parts, transformer_weights=weights)

    # -- training and prediction --------------------------------------------------------
    def fit(self, sentences: pd.DataFrame, items: pd.DataFrame, dev=None, monitor: FitMonitor | None = None) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.pipeline import Pipeline

        monitor = monitor or FitMonitor()
        monitor.progress(0, 2, "models")
        p = self.params
        self.topic_model = Pipeline(
            [
                ("features", self._text_features(with_target=False, with_context=_has_context(sentences))),
                (
                    "clf",
                    OneVsRestClassifier(
                        LogisticRegression(
                            C=p["C_topic"], max_iter=2000, class_weight="balanced", random_state=p["seed"]
                        )
                    ),
                ),
            ]
        )
        self.topic_model.fit(self._for(None, self._sentence_frame(sentences)), sentences[self.topic_ids].to_numpy())
        monitor.progress(1, 2, "models")
        self.stance_model = Pipeline(
            [
                ("features", self._text_features(with_target=True, with_context=_has_context(items))),
                (
                    "clf",
                    LogisticRegression(C=p["C_stance"], max_iter=3000, class_weight="balanced", random_state=p["seed"]),
                ),
            ]
        )
        self.stance_model.fit(self._for(None, self._stance_frame(items)), items["stance"].to_numpy())
        monitor.progress(2, 2, "models")

    def _topic_probs(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.topic_model.predict_proba(self._for(self.topic_model, self._sentence_frame(frame))))

    def _stance_probs(self, frame: pd.DataFrame) -> np.ndarray:
        probs = self.stance_model.predict_proba(self._for(self.stance_model, self._stance_frame(frame)))
        return align_classes(probs, self.stance_model.classes_)

    def _save_weights(self, folder: Path) -> None:
        from .linear_store import LinearTextModel

        # Arrays + JSON (no pickle, no scikit-learn needed to load): see linear_store. A
        # loaded model is already in that form and saves again as it is.
        for name, model in (("topic_model", self.topic_model), ("stance_model", self.stance_model)):
            arrays = model if isinstance(model, LinearTextModel) else LinearTextModel.from_sklearn(model)
            arrays.save(folder / f"{name}.npz")

    def _load_weights(self, folder: Path) -> None:
        if (folder / "topic_model.npz").exists():
            from .linear_store import LinearTextModel

            self.topic_model = LinearTextModel.load(folder / "topic_model.npz")
            self.stance_model = LinearTextModel.load(folder / "stance_model.npz")
            return
        from . import load_skops  # folders written before the fast format

        self.topic_model = load_skops(folder / "topic_model.skops")
        self.stance_model = load_skops(folder / "stance_model.skops")
