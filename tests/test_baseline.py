"""models/baseline.py: the TF-IDF family reads the words around the holder's name."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from stance.models.base import holder_window
from stance.models.baseline import BaselineClassifier

TOPICS = {"ceasefire": "A ceasefire should be agreed now."}


def test_holder_window_takes_the_words_each_side_of_the_name():
    text = "Kyiv welcomed the truce, but Moscow flatly rejected it on Monday."
    assert holder_window(text, "Moscow", 2) == "near_truce near_but near_flatly near_rejected"
    assert holder_window(text, "kyiv", 2) == "near_welcomed near_the"
    assert holder_window(text, "", 2) == "near_none"  # the author, a pronoun
    assert holder_window(text, "Paris", 2) == "near_none"
    assert holder_window(text, "Moscow", 0) == "near_none"


def _pairs_corpus(names: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every ordered pair: the first name backs the truce, the second rejects it."""
    sentences, items = [], []
    for a, b in itertools.permutations(names, 2):
        text = f"{a} welcomed the truce, but {b} flatly rejected it."
        sentences.append({"text": text, "context": "", "ceasefire": 1})
        for who, stance in ((a, "support"), (b, "oppose")):
            items.append(
                {"text": text, "context": "", "actor": who.lower(), "side": "other", "topic": "ceasefire"}
                | {"stance": stance, "holder_name": who}
            )
    return pd.DataFrame(sentences), pd.DataFrame(items)


@pytest.mark.parametrize("width", [0, 3])
def test_two_holders_of_one_sentence_get_their_own_stance_only_with_the_window(width):
    sentences, items = _pairs_corpus(["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"])
    clf = BaselineClassifier(TOPICS, {"holder_window": width, "min_df": 1})
    clf.fit(sentences, items)
    text = "Golf welcomed the truce, but Hotel flatly rejected it."  # names it never saw
    frame = pd.DataFrame(
        [
            {"text": text, "context": "", "actor": a, "side": "other", "topic": "ceasefire", "holder_name": n}
            for a, n in (("golf", "Golf"), ("hotel", "Hotel"))
        ]
    )
    support, oppose = clf.predict_stance(frame)[:, 0], clf.predict_stance(frame)[:, 1]
    if width:
        assert support[0] > oppose[0] and oppose[1] > support[1]
    else:  # the same words for both: the model cannot tell them apart
        assert support[0] == pytest.approx(support[1]) and oppose[0] == pytest.approx(oppose[1])
