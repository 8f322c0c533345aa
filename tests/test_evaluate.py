"""End-to-end evaluation on labelled documents."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from stance.cli import app
from stance.config import STANCES
from stance.errors import StanceError
from stance.labels import LabelSet
from stance.models.base import StanceClassifier
from stance.training.evaluate import (
    POSITION_THRESHOLDS,
    PRF,
    align,
    compare_documents,
    log_report,
    rebuild_documents,
    tune_position_threshold,
)
from stance.training.evaluate import evaluate_pipeline as evaluate


class OracleClassifier(StanceClassifier):
    """Answers from the gold labels, so every error left is the pipeline's own."""

    family = "oracle"

    def __init__(self, items):
        super().__init__({"ceasefire": "", "territory": "", "security_guarantees": ""})
        pos = items[items["topic"] != "none"]
        self.topics_of = pos.groupby("text")["topic"].apply(set).to_dict()
        self.stance_of = {(r.text, r.actor, r.topic): r.stance for r in pos.itertuples()}

    def fit(self, sentences, items):  # pragma: no cover
        pass

    def _topic_probs(self, frame):
        return np.array(
            [[1.0 if t in self.topics_of.get(x, ()) else 0.0 for t in self.topic_ids] for x in frame["text"]]
        ).reshape(len(frame), len(self.topic_ids))

    def _stance_probs(self, frame):
        out = []
        for x, a, t in zip(frame["text"], frame["actor"], frame["topic"], strict=True):
            s = self.stance_of.get((x, a, t), "neutral")
            out.append([1.0 if s == k else 0.0 for k in STANCES])
        return np.array(out).reshape(len(frame), 3)

    def _save_weights(self, folder):  # pragma: no cover
        pass

    def _load_weights(self, folder):  # pragma: no cover
        pass


def test_prf_and_align():
    p = PRF.of({1, 2, 3}, {2, 3, 4, 5})
    assert (p.precision, p.recall, p.true_positives) == (2 / 3, 0.5, 2)
    assert p.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert PRF.of(set(), set()).f1 == 0.0
    spans = [(0, 10), (11, 30), (31, 40)]
    assert align(spans, 12, 29) == 1 and align(spans, 5, 20) == 1 and align(spans, 50, 60) is None


def test_documents_are_rebuilt_from_their_sentences(tiny_labels):
    docs = rebuild_documents(LabelSet.load(tiny_labels), "test")
    assert [d.article.id for d in docs] == ["s1", "s2"]
    s1 = docs[0]
    assert s1.article.date == "2025-03-11" and s1.genre == "news"
    assert s1.article.text.startswith("Zelensky said on Friday")
    first = s1.article.text[s1.spans[0][0] : s1.spans[0][1]]
    assert first.endswith("ready for an immediate ceasefire if Russia agreed to one.")
    assert s1.article.text[s1.spans[1][0]] == '"'  # the next sentence, after one space
    assert len(s1.items) == 6  # positions only


def test_oracle_model_scores_perfectly_when_attribution_is_right(tiny_labels):
    labels = LabelSet.load(tiny_labels)
    report = evaluate(tiny_labels, model=OracleClassifier(labels.items), split="test")
    assert report.documents == 2 and report.sentences == 14 and report.gold_positions == 11
    assert report.attribution_accuracy == 1.0 and report.segmentation_agreement == 1.0
    assert report.sentence.f1 == 1.0 and report.article.f1 == 1.0
    assert report.attribution_by_method == {"reported": 6, "quote": 1, "subject": 1, "author": 3}


def test_trained_model_report_and_metrics(tiny_labels, tiny_model):
    report = evaluate(tiny_labels, model=tiny_model, split="test")
    metrics = report.metrics()
    assert set(metrics) >= {
        "pipeline_test_article_f1",
        "pipeline_test_sentence_f1",
        "pipeline_test_attribution_accuracy",
        "pipeline_test_attribution_accuracy_oped",
    }
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
    assert report.attribution_accuracy >= 0.8  # attribution does not depend on the model
    frame = report.frame()
    assert list(frame.index) == [
        "article: actor x topic stance",
        "sentence: (actor, topic, stance)",
        "sentence: support/oppose only",
        "attribution accuracy",
    ]


def test_unknown_split(tiny_labels, tiny_model):
    with pytest.raises(StanceError, match="no documents in split 'holdout'"):
        evaluate(tiny_labels, model=tiny_model, split="holdout")


def test_cli_prints_and_skips_mlflow(tiny_labels, tiny_model_dir):
    result = CliRunner().invoke(
        app,
        ["evaluate", "--labels", str(tiny_labels), "--model", str(tiny_model_dir), "--no-mlflow"],
    )
    assert result.exit_code == 0, result.stderr
    assert "attribution accuracy" in result.stdout and "logged" not in result.stderr


def test_report_is_logged_to_mlflow(tiny_labels, tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setattr("stance.tracking.artifact_root", lambda: (tmp_path / "artifacts").as_uri())
    report = evaluate(tiny_labels, model=tiny_model, split="test")
    run_id = log_report(report, "pipeline-test")
    import mlflow

    run = mlflow.get_run(run_id)
    assert run.data.metrics["pipeline_test_attribution_accuracy"] == pytest.approx(report.attribution_accuracy)
    assert run.data.params["split"] == "test" and run.info.status == "FINISHED"


def test_one_scoring_pass_compared_at_several_thresholds(tiny_labels, tiny_model):
    from stance.pipeline.scoring import Scorer

    labels = LabelSet.load(tiny_labels)
    docs = rebuild_documents(labels, "test")
    results = list(Scorer(tiny_model, labels.registry, min_confidence=0.0).score(d.article for d in docs))
    low, high = (compare_documents(docs, results, "test", min_confidence=t) for t in (0.0, 0.6))
    assert high.sentence.predicted < low.sentence.predicted  # weak findings dropped
    assert high.sentence.gold == low.sentence.gold
    assert compare_documents(docs, results, "test", min_confidence=1.01).sentence.predicted == 0
    assert low.metrics()["pipeline_test_article_polar_f1"] == low.article_polar.f1


def test_position_threshold_is_tuned_end_to_end_on_dev(tiny_labels, tiny_model):
    labels = LabelSet.load(tiny_labels)
    best, curve = tune_position_threshold(tiny_model, labels)
    assert set(curve) == set(POSITION_THRESHOLDS) and curve[best] == max(curve.values())
    # An oracle is sure of everything it says: no cut helps, and ties go to the lowest.
    assert tune_position_threshold(OracleClassifier(labels.items), labels)[0] == 0.0
