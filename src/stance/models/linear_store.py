"""Fitted linear text models in a fast, safe format, scored without scikit-learn.

In: a fitted scikit-learn pipeline (TF-IDF parts in a ColumnTransformer → logistic
regression, one-vs-rest or multinomial) or a DictVectorizer + logistic regression. Out: a
``.npz`` of arrays (loaded with ``allow_pickle=False``: no code runs on load) plus a JSON
header with the vocabularies and settings; and :class:`LinearTextModel` /
:class:`LinearDictModel`, which give the same probabilities as the scikit-learn objects.

Why: skops rebuilds the objects by importing the whole of scikit-learn (and, through its
array-API shims, torch) and reads 200,000 vocabulary entries one archive member at a time
— most of a cold start. Here loading is one JSON parse and a few arrays, and scoring needs
numpy only. The TF-IDF analysers below are scikit-learn's, transcribed; the tests check
the probabilities against scikit-learn's own.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np

from ..errors import StanceError

FORMAT = "stance-linear-1"
_WHITE_SPACES = re.compile(r"\s\s+")


class TfidfFeatures:
    """One fitted ``TfidfVectorizer``: text → (feature indices, values), as scikit-learn does."""

    def __init__(self, settings: dict, vocabulary: list[str], idf: np.ndarray | None):
        self.settings = settings
        self.vocabulary = {term: i for i, term in enumerate(vocabulary)}
        self.terms = vocabulary
        self.idf = idf
        self.size = len(vocabulary)
        self.token = re.compile(settings["token_pattern"]) if settings["analyzer"] == "word" else None

    @classmethod
    def from_sklearn(cls, vec) -> TfidfFeatures:
        p = vec.get_params()
        supported = (
            p["analyzer"] in ("word", "char_wb")
            and p["preprocessor"] is None
            and p["tokenizer"] is None
            and p["stop_words"] is None
            and p["strip_accents"] is None
            and p["norm"] in ("l2", None)
            and not p["binary"]
        )
        if not supported:
            raise StanceError(f"TF-IDF settings not supported by the fast format: {p}")
        keys = ("analyzer", "token_pattern", "lowercase", "sublinear_tf", "use_idf", "norm", "ngram_range")
        settings = {k: p[k] for k in keys}
        settings["ngram_range"] = list(settings["ngram_range"])
        vocab = [""] * len(vec.vocabulary_)
        for term, i in vec.vocabulary_.items():
            vocab[int(i)] = term
        return cls(settings, vocab, np.asarray(vec.idf_, dtype=np.float64) if p["use_idf"] else None)

    def _analyse(self, text: str) -> list[str]:
        if self.settings["lowercase"]:
            text = text.lower()
        lo, hi = self.settings["ngram_range"]
        if self.token is not None:  # sklearn's _word_ngrams
            words = self.token.findall(text)
            grams = list(words) if lo == 1 else []
            for n in range(max(lo, 2), min(hi + 1, len(words) + 1)):
                grams += [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
            return grams
        grams = []  # sklearn's _char_wb_ngrams
        for w in _WHITE_SPACES.sub(" ", text).split():
            w = f" {w} "
            for n in range(lo, hi + 1):
                offset = 0
                grams.append(w[offset : offset + n])
                while offset + n < len(w):
                    offset += 1
                    grams.append(w[offset : offset + n])
                if offset == 0:  # a word shorter than n counts once
                    break
        return grams

    def transform(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The sparse TF-IDF rows of ``texts`` as (row, feature index, value) triplets."""
        get = self.vocabulary.get
        rows: list[int] = []
        idx: list[int] = []
        counts: list[int] = []
        for r, text in enumerate(texts):
            c = Counter(map(get, self._analyse(text)))
            c.pop(None, None)  # out-of-vocabulary n-grams
            rows.extend([r] * len(c))
            idx.extend(c.keys())
            counts.extend(c.values())
        row = np.asarray(rows, dtype=np.int64)
        col = np.asarray(idx, dtype=np.int64)
        val = np.asarray(counts, dtype=np.float64)
        if self.settings["sublinear_tf"]:
            val = np.log(val) + 1.0
        if self.idf is not None:
            val = val * self.idf[col]
        if self.settings["norm"] == "l2":
            norms = np.sqrt(np.bincount(row, weights=val * val, minlength=len(texts)))
            val = val / np.where(norms > 0, norms, 1.0)[row]
        return row, col, val


class LinearTextModel:
    """TF-IDF parts over frame columns, weighted and concatenated, then a linear layer.

    ``kind``: ``ovr`` (one sigmoid per output: multi-label topics) or ``multinomial``
    (softmax over ``classes_``; two classes: the sigmoid of the one decision).
    """

    def __init__(self, parts, coef: np.ndarray, intercept: np.ndarray, classes, kind: str):
        self.parts = parts  # [(name, column, TfidfFeatures, weight)]
        self.coef = np.ascontiguousarray(coef.T)  # (features, outputs): one row per feature
        self.intercept = intercept
        self.classes_ = np.asarray(classes)
        self.kind = kind

    @classmethod
    def from_sklearn(cls, pipeline) -> LinearTextModel:
        columns = pipeline.named_steps["features"]
        weights = columns.transformer_weights or {}
        parts = []
        for name, vec, column in columns.transformers_:
            if name == "remainder" and vec == "drop":
                continue
            parts.append((name, column, TfidfFeatures.from_sklearn(vec), float(weights.get(name, 1.0))))
        clf = pipeline.named_steps["clf"]
        if hasattr(clf, "estimators_"):  # one-vs-rest: one binary model per output
            coef = np.vstack([e.coef_ for e in clf.estimators_])
            intercept = np.concatenate([e.intercept_ for e in clf.estimators_])
            return cls(parts, coef, intercept, list(range(len(clf.estimators_))), "ovr")
        return cls(parts, clf.coef_, clf.intercept_, list(clf.classes_), "multinomial")

    def decision(self, frame) -> np.ndarray:
        n = len(frame)
        out = np.tile(np.asarray(self.intercept, dtype=np.float64), (n, 1))
        offset = 0
        for _, col, feats, weight in self.parts:
            # Stance rows repeat a sentence once per (holder, topic): analyse each text once.
            unique: dict[str, int] = {}
            where = np.fromiter((unique.setdefault(str(t), len(unique)) for t in frame[col]), dtype=np.int64, count=n)
            row, idx, val = feats.transform(list(unique))
            if len(idx):
                contrib = (weight * val)[:, None] * self.coef[offset + idx]  # (nnz, outputs)
                part = np.column_stack(
                    [np.bincount(row, weights=contrib[:, k], minlength=len(unique)) for k in range(out.shape[1])]
                )
                out += part[where]
            offset += feats.size
        return out

    def predict_proba(self, frame) -> np.ndarray:
        z = self.decision(frame)
        if self.kind == "ovr":
            return _sigmoid(z)
        if z.shape[1] == 1:
            p = _sigmoid(z[:, 0])
            return np.column_stack([1 - p, p])
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    # -- storage ------------------------------------------------------------------------------
    def save(self, path: Path) -> Path:
        header = {
            "format": FORMAT,
            "kind": self.kind,
            "classes": [c.item() if hasattr(c, "item") else c for c in self.classes_],
            "parts": [
                {"name": n, "column": c, "weight": w, "settings": f.settings, "vocabulary": f.terms}
                for n, c, f, w in self.parts
            ],
        }
        arrays = {"coef": self.coef.T, "intercept": self.intercept}
        for n, _, f, _ in self.parts:
            if f.idf is not None:
                arrays[f"idf_{n}"] = f.idf
        return _write(path, header, arrays)

    @classmethod
    def load(cls, path: Path) -> LinearTextModel:
        header, arrays = _read(path)
        parts = [
            (
                p["name"],
                p["column"],
                TfidfFeatures(p["settings"], p["vocabulary"], arrays.get(f"idf_{p['name']}")),
                float(p["weight"]),
            )
            for p in header["parts"]
        ]
        return cls(parts, arrays["coef"], arrays["intercept"], header["classes"], header["kind"])


class LinearDictModel:
    """A DictVectorizer (numeric features) + binary logistic regression: P(class 1)."""

    def __init__(self, vocabulary: list[str], coef: np.ndarray, intercept: float):
        self.vocabulary = {name: i for i, name in enumerate(vocabulary)}
        self.terms = vocabulary
        self.coef = coef
        self.intercept = float(intercept)

    @classmethod
    def from_sklearn(cls, vectorizer, model) -> LinearDictModel:
        if len(model.classes_) != 2:
            raise StanceError("holder model: expected a binary logistic regression over a DictVectorizer")
        vocab = [""] * len(vectorizer.vocabulary_)
        for name, i in vectorizer.vocabulary_.items():
            vocab[int(i)] = name
        return cls(vocab, np.asarray(model.coef_[0], dtype=np.float64), float(model.intercept_[0]))

    def positive(self, rows: list[dict[str, float]]) -> np.ndarray:
        z = np.full(len(rows), self.intercept)
        for r, feats in enumerate(rows):
            for name, value in feats.items():
                i = self.vocabulary.get(name)
                if i is not None:
                    z[r] += float(value) * self.coef[i]
        return _sigmoid(z)

    def save(self, path: Path, extra: dict | None = None) -> Path:
        header = {"format": FORMAT, "kind": "dict", "vocabulary": self.terms, **(extra or {})}
        return _write(path, header, {"coef": self.coef, "intercept": np.array([self.intercept])})

    @classmethod
    def load(cls, path: Path) -> tuple[LinearDictModel, dict]:
        header, arrays = _read(path)
        return cls(header["vocabulary"], arrays["coef"], float(arrays["intercept"][0])), header


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _write(path: Path, header: dict, arrays: dict[str, np.ndarray]) -> Path:
    """``path`` (.npz): the arrays plus the JSON header stored as one uint8 array."""
    path = Path(path)
    blob = np.frombuffer(json.dumps(header, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
    with path.open("wb") as fh:
        np.savez(fh, header=blob, **arrays)
    return path


def _read(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        header = json.loads(arrays.pop("header").tobytes().decode("utf-8"))
    except (OSError, ValueError, KeyError) as exc:
        raise StanceError(f"{path}: not a stance linear model file ({exc}); retrain with `make train`") from exc
    if header.get("format") != FORMAT:
        raise StanceError(f"{path}: format {header.get('format')!r}, expected {FORMAT!r}; retrain with `make train`")
    return header, arrays
