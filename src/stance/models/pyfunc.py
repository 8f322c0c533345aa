"""The MLflow ``pyfunc`` face of every family, so ``mlflow.pyfunc.load_model(uri).predict(df)``
works the same whatever was trained.

Input frame: ``text`` (required), ``context``, and optionally ``actor``, ``side``, ``topic``.
Output frame, one row per input row: ``topics`` (detected topic ids, ";"-joined, empty for
none), ``p_<topic>`` per topic, and the stance of the holder on ``topic`` (or, where no
topic is given, on the most likely detected topic): ``stance``, ``confidence``,
``p_support``, ``p_oppose``, ``p_neutral``.
"""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd

from ..config import AUTHOR, NONE_TOPIC, STANCES


class StancePyfunc(mlflow.pyfunc.PythonModel):
    """Wraps a saved :class:`~stance.classifier.StanceClassifier` (artifact ``classifier``)."""

    def load_context(self, context):
        from .base import StanceClassifier

        self.classifier = StanceClassifier.load(context.artifacts["classifier"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return predict_frame(self.classifier, pd.DataFrame(model_input))


def predict_frame(classifier, frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index(drop=True).copy()
    frame["context"] = frame.get("context", pd.Series([""] * len(frame))).fillna("")
    topic_probs = classifier.predict_topics(frame)
    ids = classifier.topic_ids
    out = pd.DataFrame({f"p_{t}": topic_probs[:, j] for j, t in enumerate(ids)})
    detected = topic_probs >= classifier.topic_threshold
    out.insert(0, "topics", [";".join(ids[j] for j in np.flatnonzero(row)) for row in detected])
    given = frame.get("topic", pd.Series([""] * len(frame))).fillna("").astype(str)
    top = [ids[i] for i in topic_probs.argmax(axis=1)] if len(frame) else []
    topic = [g if g and g != NONE_TOPIC else (t if d.any() else NONE_TOPIC) for g, t, d in zip(given, top, detected)]
    stance_in = pd.DataFrame(
        {
            "text": frame["text"],
            "context": frame["context"],
            "topic": topic,
            "actor": frame.get("actor", pd.Series([AUTHOR] * len(frame))).fillna(AUTHOR).replace("", AUTHOR),
            "side": frame.get("side", pd.Series(["other"] * len(frame))).fillna("other").replace("", "other"),
        }
    )
    has_topic = stance_in["topic"] != NONE_TOPIC
    probs = np.tile(np.array([0.0, 0.0, 1.0]), (len(frame), 1))
    if has_topic.any():
        probs[has_topic.to_numpy()] = classifier.predict_stance(stance_in[has_topic].reset_index(drop=True))
    out["topic"] = topic
    out["stance"] = [STANCES[i] for i in probs.argmax(axis=1)]
    out["confidence"] = probs.max(axis=1)
    for j, s in enumerate(STANCES):
        out[f"p_{s}"] = probs[:, j]
    return out
