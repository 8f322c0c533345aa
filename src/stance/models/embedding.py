"""Frozen sentence embeddings (mean-pooled MiniLM) + logistic-regression heads.

A middle ground between the TF-IDF baseline and fine-tuning: the encoder is never
trained, so the family trains in seconds, yet it sees paraphrase. The stance head sees
the sentence, the target and their element-wise product, so it is target-aware.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import default_base_model
from ..errors import StanceError
from .base import (
    HF_MODEL_ARGS,
    HF_TOKENIZER_ARGS,
    FitMonitor,
    StanceClassifier,
    align_classes,
    describe_target,
    text_column,
)
from .params import EmbeddingParams

if TYPE_CHECKING:
    import pandas as pd


class EmbeddingClassifier(StanceClassifier):
    family = "embedding"
    reads_columns = True
    Params = EmbeddingParams

    def __init__(self, topics, params=None):
        super().__init__(topics, params)
        self.topic_head = self.stance_head = None
        self._encoder = self._tokenizer = None

    def _encode(self, texts: list[str]) -> np.ndarray:
        import torch
        from transformers import AutoModel, AutoTokenizer

        if self._encoder is None:
            base = self.params.get("base_model") or default_base_model()
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(base, **HF_TOKENIZER_ARGS)
                self._encoder = AutoModel.from_pretrained(base, **HF_MODEL_ARGS).eval()
            except OSError as exc:
                raise StanceError(f"cannot load base model {base!r}: {str(exc).splitlines()[0][:160]}") from exc
        out = np.zeros((len(texts), self._encoder.config.hidden_size), dtype=np.float32)
        order = np.argsort([len(t) for t in texts])
        bs = self.params["batch_size"]
        with torch.inference_mode():
            for start in range(0, len(order), bs):
                idx = order[start : start + bs]
                enc = self._tokenizer(
                    [texts[i] for i in idx],
                    truncation=True,
                    padding=True,
                    max_length=self.params["max_length"],
                    return_tensors="pt",
                )
                hidden = self._encoder(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).float()
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                out[idx] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
        return out

    def _sentence_features(self, frame: pd.DataFrame) -> np.ndarray:
        texts, contexts = text_column(frame, "text"), text_column(frame, "context")
        emb = self._encode(texts + contexts)
        return np.hstack([emb[: len(texts)], 0.5 * emb[len(texts) :]])

    def _stance_features(self, frame: pd.DataFrame) -> np.ndarray:
        sent = self._sentence_features(frame)
        targets = [
            describe_target(a, s, t, self.topics)
            for a, s, t in zip(
                text_column(frame, "actor", "author"), text_column(frame, "side", "other"), frame["topic"]
            )
        ]
        tgt = self._encode(targets)
        return np.hstack([sent, tgt, sent[:, : tgt.shape[1]] * tgt])

    def fit(self, sentences: pd.DataFrame, items: pd.DataFrame, dev=None, monitor: FitMonitor | None = None) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

        monitor = monitor or FitMonitor()
        monitor.progress(0, 2, "heads")
        p = self.params
        self.topic_head = OneVsRestClassifier(
            LogisticRegression(C=p["C_topic"], max_iter=3000, class_weight="balanced", random_state=p["seed"])
        )
        self.topic_head.fit(self._sentence_features(sentences), sentences[self.topic_ids].to_numpy())
        monitor.progress(1, 2, "heads")
        self.stance_head = LogisticRegression(
            C=p["C_stance"], max_iter=3000, class_weight="balanced", random_state=p["seed"]
        )
        self.stance_head.fit(self._stance_features(items), items["stance"].to_numpy())
        monitor.progress(2, 2, "heads")

    def _topic_probs(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.topic_head.predict_proba(self._sentence_features(frame)))

    def _stance_probs(self, frame: pd.DataFrame) -> np.ndarray:
        return align_classes(self.stance_head.predict_proba(self._stance_features(frame)), self.stance_head.classes_)

    def _save_weights(self, folder: Path) -> None:
        import skops.io as sio

        sio.dump({"topic": self.topic_head, "stance": self.stance_head}, folder / "heads.skops")

    def _load_weights(self, folder: Path) -> None:
        from . import load_skops

        heads = load_skops(folder / "heads.skops")
        self.topic_head, self.stance_head = heads["topic"], heads["stance"]
