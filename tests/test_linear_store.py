"""models/linear_store.py: the fast format gives scikit-learn's probabilities, loads without it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from stance.errors import StanceError
from stance.models.baseline import BaselineClassifier
from stance.models.linear_store import LinearDictModel, LinearTextModel


def test_fast_format_matches_sklearn(tiny_model, tiny_labels, tmp_path):
    from stance.labels import LabelSet

    labels = LabelSet.load(tiny_labels)
    sentences = labels.sentences()
    items = labels.positions()
    items = items[items["topic"] != "none"]
    folder = tiny_model.save(tmp_path / "m")
    assert not list(folder.glob("*_model.skops")) and (folder / "topic_model.npz").exists()
    fast = BaselineClassifier.load(folder)
    assert isinstance(fast.topic_model, LinearTextModel)
    odd = sentences.assign(text=sentences["text"] + "  Ünïcode — x  y", context="")
    for frame in (sentences, odd):
        assert np.allclose(fast.predict_topics(frame), tiny_model.predict_topics(frame), atol=1e-9)
    assert np.allclose(fast.predict_stance(items), tiny_model.predict_stance(items), atol=1e-9)


def test_holder_model_fast_format(tmp_path):
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    rows = [{"a": 1.0, "b": 2.0}, {"b": 1.0}, {"c": 1.0, "a": 0.5}, {"d": 3.0}] * 3
    y = [1, 0, 1, 0] * 3
    vec = DictVectorizer()
    lr = LogisticRegression().fit(vec.fit_transform(rows), y)
    path = LinearDictModel.from_sklearn(vec, lr).save(tmp_path / "h.npz", {"threshold": 0.4})
    fast, header = LinearDictModel.load(path)
    probe = [*rows, {"unknown": 1.0, "a": 1.0}]
    assert header["threshold"] == 0.4
    assert np.allclose(fast.positive(probe), lr.predict_proba(vec.transform(probe))[:, 1], atol=1e-12)


def test_loading_imports_neither_sklearn_nor_skops(tiny_model, tmp_path):
    folder = tiny_model.save(tmp_path / "m")
    code = (
        "import sys, pandas as pd\n"
        "from stance.models.base import StanceClassifier\n"
        f"m = StanceClassifier.load({str(folder)!r})\n"
        "m.predict_topics(pd.DataFrame({'text': ['A truce now.'], 'context': ['']}))\n"
        "print(any(k.split('.')[0] in ('sklearn', 'skops', 'torch') for k in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_corrupt_file_is_one_line_error(tmp_path):
    bad = tmp_path / "topic_model.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(StanceError, match="not a stance linear model file"):
        LinearTextModel.load(bad)


def test_holder_model_loaded_fast_saves_again(tmp_path):
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    from stance.pipeline.holders import HolderModel

    rows, y = [{"a": 1.0}, {"b": 1.0}] * 4, [1, 0] * 4
    model = HolderModel(threshold=0.3)
    model.vectorizer = DictVectorizer()
    model.model = LogisticRegression().fit(model.vectorizer.fit_transform(rows), y)
    (tmp_path / "one").mkdir()
    model.save(tmp_path / "one" / "h.skops")
    loaded = HolderModel.load(tmp_path / "one" / "h.skops")
    (tmp_path / "two").mkdir()
    loaded.save(tmp_path / "two" / "h.skops")  # from the fast format: arrays only
    again = HolderModel.load(tmp_path / "two" / "h.skops")
    assert again.threshold == 0.3 and np.allclose(again.fast.positive(rows), loaded.fast.positive(rows))


def test_a_loaded_baseline_saves_again(tiny_model, tiny_labels, tmp_path):
    """Spark and the pipeline model re-save a loaded classifier; the arrays form saves as it is."""
    from stance.labels import LabelSet

    sentences = LabelSet.load(tiny_labels).sentences()
    loaded = BaselineClassifier.load(tiny_model.save(tmp_path / "a"))
    again = BaselineClassifier.load(loaded.save(tmp_path / "b"))
    assert np.allclose(again.predict_topics(sentences), tiny_model.predict_topics(sentences), atol=1e-9)
