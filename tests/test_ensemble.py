"""models/ensemble.py: built from members of the same training, weight tuned on dev, saved whole."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import use_temp_store
from stance.cli import app
from stance.errors import StanceError

HERE = Path(__file__).parent
LABELS = HERE / "fixtures" / "labels_custom"
CONFIGS = HERE / "fixtures" / "configs"
MEMBERS = [CONFIGS / "tiny_baseline.yaml", CONFIGS / "tiny_transformer.yaml"]
ENSEMBLE = CONFIGS / "tiny_ensemble.yaml"
FRAME = pd.DataFrame(
    {
        "text": ["Putin rejected any truce.", "Zelensky backs a ceasefire.", "It rained in Kyiv."],
        "context": ["", "", ""],
        "actor": ["putin", "zelensky", "author"],
        "side": ["russia", "ukraine", "other"],
        "topic": ["ceasefire", "ceasefire", "nato_membership"],
    }
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ensemble")
    mp = pytest.MonkeyPatch()
    use_temp_store(mp, tmp)
    from stance.training.train import train

    result = train(
        LABELS, configs=[*MEMBERS, ENSEMBLE], experiment="ens", register=False, export_dir=None, keep_dir=tmp / "kept"
    )
    yield result, tmp
    mp.undo()


def test_predictions_are_the_weighted_mean_of_the_members(trained):
    from stance.models.base import StanceClassifier

    result, _ = trained
    by_name = {r.name: r for r in result.results}
    ens = StanceClassifier.load(by_name["tiny-ensemble"].classifier_dir)
    base = StanceClassifier.load(by_name["tiny-baseline"].classifier_dir)
    tf = StanceClassifier.load(by_name["tiny-transformer"].classifier_dir)
    w = by_name["tiny-ensemble"].metrics["ensemble_weight"]
    assert w in (0.3, 0.5) and ens.params["weights"] == [1 - w, w]
    for predict in ("predict_topics", "predict_stance"):
        expected = (1 - w) * getattr(base, predict)(FRAME) + w * getattr(tf, predict)(FRAME)
        np.testing.assert_allclose(getattr(ens, predict)(FRAME), expected, atol=1e-6)
    # Its own thresholds, tuned on dev like any family's; the holder model is the ensemble's.
    assert ens.holder_model is not None and all(m.holder_model is None for m in ens.members)
    assert 0.1 <= ens.topic_threshold <= 0.9


def test_the_costly_member_runs_only_where_it_could_lift_a_topic_to_the_cut(trained, monkeypatch):
    from stance.models.base import Columns, StanceClassifier

    result, _ = trained
    ens = StanceClassifier.load([r for r in result.results if r.family == "ensemble"][0].classifier_dir)
    ens.set_weights([0.7, 0.3])
    cheap, costly = ens.members
    frame = Columns({"text": list(FRAME["text"]) * 3, "context": [""] * 9})
    exact = ens.predict_topics(frame)
    seen = []
    call = costly.predict_topics
    monkeypatch.setattr(costly, "predict_topics", lambda f: seen.append(len(f)) or call(f))
    share = 0.7 * np.asarray(cheap.predict_topics(frame))
    for floor in (0.3, 0.5, 0.8, 0.99):
        seen.clear()
        got = ens.predict_topics_above(frame, floor)
        needed = (share + 0.3).max(axis=1) >= floor
        assert seen == ([int(needed.sum())] if needed.any() else [])
        np.testing.assert_allclose(got[needed], exact[needed], atol=1e-6)  # exact where it may matter
        assert (got[~needed] < floor).all() and ((exact[~needed] < floor).all())  # below the cut either way
    np.testing.assert_allclose(ens.predict_topics_above(frame, 0.0), exact, atol=1e-6)  # no cut: every row exact


def test_scoring_with_the_cascade_finds_exactly_what_the_full_ensemble_finds(trained, monkeypatch):
    from stance.models.base import StanceClassifier
    from stance.pipeline.scoring import Scorer, score_article

    result, _ = trained
    ens = StanceClassifier.load([r for r in result.results if r.family == "ensemble"][0].classifier_dir)
    text = (
        "Putin rejected any truce on Monday. Zelensky said Ukraine backs a ceasefire. It rained in Kyiv. "
        "The talks resumed in Geneva. European leaders offered security guarantees."
    )
    for cut in (None, 0.0, 0.6):
        fast = score_article(text, Scorer(ens, LABELS, min_confidence=cut))
        monkeypatch.setattr(ens, "predict_topics_above", lambda f, floor: ens.predict_topics(f))
        full = score_article(text, Scorer(ens, LABELS, min_confidence=cut))
        monkeypatch.undo()
        key = [(f.sentence, f.actor, f.topic, f.stance, round(f.confidence, 6)) for f in fast.findings]
        assert key == [(f.sentence, f.actor, f.topic, f.stance, round(f.confidence, 6)) for f in full.findings]


def test_weight_curve_logged_and_the_run_compares_with_the_others(trained):
    import mlflow

    result, tmp = trained
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    run = [r for r in result.results if r.family == "ensemble"][0]
    curve = mlflow.artifacts.load_dict(f"runs:/{run.run_id}/ensemble_weight_curve.json")
    assert set(curve) == {"0.3", "0.5"}
    assert max(curve.values()) == curve[str(run.metrics["ensemble_weight"])]
    for key in ("dev_macro_f1", "test_macro_f1", "position_threshold", "test_holder_accuracy"):
        assert key in run.metrics or key in mlflow.get_run(run.run_id).data.metrics


def test_logged_model_loads_through_pyfunc_and_scores(trained):
    import mlflow

    from stance.pipeline.scoring import score_article

    result, tmp = trained
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    run = [r for r in result.results if r.family == "ensemble"][0]
    out = mlflow.pyfunc.load_model(run.model_uri).predict(FRAME[["text", "context"]])
    assert list(out["stance"].isin(["support", "oppose", "neutral"])) == [True, True, True]
    scored = score_article("Putin rejected any truce on Monday.", model=str(run.classifier_dir), registry=LABELS)
    assert [s.text for s in scored.sentences] == ["Putin rejected any truce on Monday."]


def test_bench_compares_its_int8_and_float32_paths(trained, monkeypatch):
    """The champion's float32 figure (issue 10's speed bound) exists for an ensemble too."""
    from stance.models.base import StanceClassifier
    from stance.training import bench

    result, _ = trained
    folder = [r for r in result.results if r.family == "ensemble"][0].classifier_dir
    assert bench.runs_onnx(folder) and not bench.runs_onnx(folder / "members" / "tiny-baseline")
    seen = []
    load = StanceClassifier.load

    def spy(path):
        clf = load(path)
        seen.append(clf)
        return clf

    monkeypatch.setattr(StanceClassifier, "load", staticmethod(spy))
    out = bench.compare_runtimes(folder, n_articles=3, labels_dir=LABELS, repeats=1)
    assert out["onnx_int8"]["sentences"] == out["torch_float32"]["sentences"] > 0
    runtimes = [[m.runtime for m in clf.members if hasattr(m, "runtime")] for clf in seen if clf.family == "ensemble"]
    assert runtimes == [["onnx"], ["torch"]]
    assert all(
        m.params["inference_dtype"] == "float32"
        for clf in seen
        if clf.family == "ensemble"
        for m in clf.members
        if "inference_dtype" in m.params
    )


def test_members_must_be_trained_before_it(store):
    from stance.training.train import train

    with pytest.raises(StanceError, match="member 'tiny-transformer' is not among the configs") as err:
        train(LABELS, configs=[MEMBERS[0], ENSEMBLE], experiment="ens", register=False, export_dir=None)
    assert "\n" not in str(err.value)
    res = CliRunner().invoke(app, ["train", "--labels", str(LABELS), "-c", str(ENSEMBLE), "--no-export"])
    assert res.exit_code == 2 and "tiny-baseline" in res.output and "Traceback" not in res.output


def test_a_folder_missing_a_member_is_a_one_line_error(trained, tmp_path):
    from stance.models.base import StanceClassifier

    result, _ = trained
    folder = tmp_path / "ens"
    shutil.copytree([r for r in result.results if r.family == "ensemble"][0].classifier_dir, folder)
    shutil.rmtree(folder / "members" / "tiny-transformer")
    with pytest.raises(StanceError, match="member 'tiny-transformer' is missing") as err:
        StanceClassifier.load(folder)
    assert "\n" not in str(err.value)


@pytest.fixture
def store(tmp_path, monkeypatch):
    return use_temp_store(monkeypatch, tmp_path)
