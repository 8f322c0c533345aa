"""Which sentences `stance labels suggest` picks: uncertainty first, spread over articles
and topics, never one already labelled."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest
from typer.testing import CliRunner

from stance.cli import app
from stance.labels.suggest import Candidate, Weights, normalise, score_candidates, select, suggest


def _cand(article, sent, score, topic="ceasefire"):
    return Candidate(article, sent, f"{article} {sent}", "", "", "", "", None, "", "", topic, score, {}, order=sent)


def test_select_caps_each_article_and_spreads_over_topics():
    cands = [_cand("a", i, 2.0 - i / 100) for i in range(20)] + [
        _cand("b", 100 + i, 1.0, "territory") for i in range(5)
    ]
    picked = select(cands, n=8, per_article=4, spread=0.25)
    per_article = Counter(c.article for c in picked)
    assert per_article == {"a": 4, "b": 4}
    # Without the spread, the top of one topic wins until the cap.
    plain = select(cands, n=8, per_article=20, spread=0.0)
    assert [c.article for c in plain] == ["a"] * 8
    spread = select(cands, n=8, per_article=20, spread=0.25)
    assert Counter(c.topic for c in spread)["territory"] >= 2


def test_select_is_most_uncertain_first():
    cands = [_cand(f"art{i % 5}", i, score) for i, score in enumerate([0.1, 0.9, 0.5, 0.7, 0.3, 0.8, 0.2])]
    picked = select(cands, n=4, per_article=10, spread=0.0)
    assert [c.score for c in picked] == [0.9, 0.8, 0.7, 0.5]


@pytest.fixture(scope="module")
def inputs(examples_dir):
    return [str(examples_dir / "wire_report.txt"), str(examples_dir / "interview.txt"), str(examples_dir / "oped.txt")]


@pytest.fixture(scope="module")
def scored(inputs, tiny_model, tiny_labels):
    return score_candidates(inputs, [tiny_model], tiny_labels, tiny_labels)


def test_scores_follow_the_model_uncertainty(scored, tiny_model):
    cands, counts = scored
    assert counts["articles"] == 3 and len(cands) > 20
    by_score = sorted(cands, key=lambda c: -c.score)
    top, bottom = by_score[: len(cands) // 4], by_score[-len(cands) // 4 :]
    assert sum(c.signs["topic"] for c in top) > sum(c.signs["topic"] for c in bottom)
    for c in cands:
        assert c.score == pytest.approx(
            sum(c.signs.values()) - 0.5 * c.signs["new_holder"] - 0.5 * c.signs["author_near_speaker"]
        )
    # Pre-annotations are the model's findings, one position per (holder, topic).
    assert any(c.positions for c in cands) and all(
        len({(p.actor, p.topic) for p in c.positions}) == len(c.positions) for c in cands
    )


def test_suggest_is_uncertainty_ordered_and_spread(inputs, tiny_model, tiny_labels, scored):
    cands, _ = scored
    found = suggest(inputs, [tiny_model], labels_dir=tiny_labels, n=6, per_article=10, weights=Weights(spread=0.0))
    top = sorted(cands, key=lambda c: -c.score)[:6]
    assert [(c.article, c.sent) for c in found.picked] == [(c.article, c.sent) for c in top]
    capped = suggest(inputs, [tiny_model], labels_dir=tiny_labels, n=6, per_article=2)
    assert Counter(c.article for c in capped.picked) == {a: 2 for a in inputs}


def test_disagreement_between_models(inputs, tiny_model, keyword_model, tiny_labels):
    same, _ = score_candidates(inputs[:1], [tiny_model, tiny_model], tiny_labels, tiny_labels)
    assert all(c.signs["disagreement"] == 0 for c in same)
    other, _ = score_candidates(inputs[:1], [tiny_model, keyword_model], tiny_labels, tiny_labels)
    assert max(c.signs["disagreement"] for c in other) > 0.3


def test_never_a_sentence_already_labelled(inputs, tiny_model, tiny_labels, scored, tmp_path):
    cands, _ = scored
    best = max(cands, key=lambda c: c.score)
    labels = tmp_path / "labels"
    shutil.copytree(tiny_labels, labels)
    row = {"id": "u-00-0", "doc": "u", "sent": 0, "text": "  " + best.text.upper() + " ", "context": ""}
    row |= {"actor": "", "topic": "none", "stance": "neutral", "split": "train"}
    with (labels / "positions.jsonl").open("a") as fh:
        fh.write(json.dumps(row) + "\n")
    out = tmp_path / "tasks.json"
    run = CliRunner().invoke(
        app,
        ["labels", "suggest", *inputs, "--n", "500", "--per-article", "500", "--labels", str(labels)]
        + ["--model", str(_save(tiny_model, tmp_path)), "--out", str(out)],
    )
    assert run.exit_code == 0, run.output
    tasks = json.loads(out.read_text())
    texts = {normalise(t["data"]["text"]) for t in tasks}
    assert normalise(best.text) not in texts and len(tasks) == len(cands) - 1
    assert "1 already in" in run.output
    assert all(t["data"]["article"] in inputs and t["predictions"][0]["result"] for t in tasks)


def _save(model, tmp_path):
    return model.save(tmp_path / "model")
