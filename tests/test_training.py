"""training.py + tracking.py: tiny configurations end to end into a temporary MLflow store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from stance.cli import app
from stance.errors import StanceError

HERE = Path(__file__).parent
LABELS = HERE / "fixtures" / "labels_custom"
TINY_BASELINE = HERE / "fixtures" / "configs" / "tiny_baseline.yaml"
TINY_TRANSFORMER = HERE / "fixtures" / "configs" / "tiny_transformer.yaml"


@pytest.fixture
def store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setattr("stance.tracking.artifact_root", lambda: (tmp_path / "artifacts").as_uri())
    return uri


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny training of two families, shared by the assertions below."""
    tmp = tmp_path_factory.mktemp("train")
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
    mp.setattr("stance.tracking.artifact_root", lambda: (tmp / "artifacts").as_uri())
    from stance.training.train import train

    result = train(LABELS, configs=[TINY_BASELINE, TINY_TRANSFORMER], experiment="tiny", export_dir=tmp / "champion")
    yield result, tmp
    mp.undo()


def test_parent_and_child_runs_with_metrics(trained):
    import mlflow

    result, tmp = trained
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["tiny"])
    parent = runs[runs["run_id"] == result.parent_run_id]
    children = runs[runs["tags.mlflow.parentRunId"] == result.parent_run_id]
    assert len(parent) == 1 and set(children["tags.family"]) == {"baseline", "transformer"}
    assert (runs["status"] == "FINISHED").all()
    for metric in (
        "dev_macro_f1",
        "test_macro_f1",
        "test_f_avg",
        "test_accuracy",
        "test_f1_support",
        "test_f1_oppose",
        "test_f1_neutral",
        "test_topic_f1_micro",
        "train_seconds",
        "test_sentences_per_second",
    ):
        assert children[f"metrics.{metric}"].notna().all(), metric
    assert (children["params.seed"] == "7").all()
    transformer = children[children["tags.family"] == "transformer"].iloc[0]
    assert transformer["params.max_train_items"] == "40"


def test_run_artifacts_and_dataset(trained):
    import mlflow
    from mlflow.tracking import MlflowClient

    result, tmp = trained
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    client = MlflowClient()
    child = result.results[0]
    files = {f.path for f in client.list_artifacts(child.run_id, "figures")}
    assert "figures/confusion_test.png" in files
    errors = client.list_artifacts(child.run_id, "errors")
    assert errors and errors[0].path.endswith(".csv")
    run = client.get_run(child.run_id)
    assert run.inputs.dataset_inputs, "dataset not logged"
    assert run.inputs.dataset_inputs[0].dataset.digest
    assert client.get_run(result.parent_run_id).data.tags.get("labels_digest")


def test_champion_registered_loadable_and_exported(trained):
    import mlflow

    result, tmp = trained
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    from mlflow.tracking import MlflowClient

    mv = MlflowClient().get_model_version_by_alias("stance-classifier", "champion")
    assert str(mv.version) == result.champion_version
    assert result.champion.metrics["dev_macro_f1"] == max(r.metrics["dev_macro_f1"] for r in result.results)
    frame = pd.DataFrame(
        {
            "text": ["Putin rejected any truce.", "It rained in Kyiv."],
            "context": ["", ""],
            "actor": ["putin", ""],
            "side": ["russia", ""],
            "topic": ["ceasefire", ""],
        }
    )
    for uri in ("models:/stance-classifier@champion", str(tmp / "champion")) + tuple(
        r.model_uri for r in result.results
    ):
        out = mlflow.pyfunc.load_model(uri).predict(frame)
        assert list(out["stance"].isin(["support", "oppose", "neutral"])) == [True, True]
        assert {"topics", "p_ceasefire", "p_nato_membership", "confidence"} <= set(out.columns)
    from stance.tracking import load_classifier

    clf = load_classifier(tmp / "champion")
    assert clf.topic_ids == ["ceasefire", "nato_membership"]
    assert (tmp / "champion" / "champion.json").exists()


def test_pipeline_model_registered_and_exported_with_the_champion(trained):
    import mlflow
    from mlflow.tracking import MlflowClient

    result, tmp = trained
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    mv = MlflowClient().get_model_version_by_alias("stance-pipeline", "champion")
    assert str(mv.version) == result.pipeline_version
    assert mv.tags["classifier_version"] == result.champion_version
    assert (tmp / "pipeline" / "MLmodel").exists() and (tmp / "pipeline" / "artifacts" / "registry").is_dir()
    out = mlflow.pyfunc.load_model("models:/stance-pipeline@champion").predict(
        pd.DataFrame([{"id": "x", "text": "Putin rejected any truce."}])
    )
    assert out.iloc[0]["article"] == "x" and out.iloc[0]["problem"] is None


def test_training_is_deterministic(store, tmp_path):
    from stance.training.train import train

    a = train(LABELS, configs=[TINY_BASELINE], experiment="det", register=False, export_dir=None)
    b = train(LABELS, configs=[TINY_BASELINE], experiment="det", register=False, export_dir=None)
    keys = ["dev_macro_f1", "test_macro_f1", "test_topic_f1_micro"]
    assert [a.results[0].metrics[k] for k in keys] == [b.results[0].metrics[k] for k in keys]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("family: baseline\nparams: {C_stanse: 1.0}", "unknown key params.C_stanse"),
        ("family: baseline\nlearning_rate: 1", "learning_rate"),
        ("family: transformer\nparams: {learning_rate: 2e-4}", "params.learning_rate: expected a number, got '2e-4'"),
        ("family: transformer\nparams: {epochs: many}", "params.epochs: expected int"),
        ("family: gpt", "unknown model family 'gpt'"),
    ],
)
def test_bad_config_is_one_line_error(tmp_path, config, message):
    from stance.training.train import load_config

    bad = tmp_path / "bad.yaml"
    bad.write_text(f"name: x\n{config}\n")
    with pytest.raises(StanceError, match=message):
        load_config(bad)


def test_missing_base_model_fails_the_run(store, tmp_path):
    import mlflow

    from stance.training.train import train

    cfg = tmp_path / "t.yaml"
    cfg.write_text(TINY_TRANSFORMER.read_text().replace("params: {", f"params: {{base_model: '{tmp_path / 'nope'}', "))
    with pytest.raises(StanceError, match="cannot load base model"):
        train(LABELS, configs=[cfg], experiment="broken", register=False, export_dir=None)
    runs = mlflow.search_runs(experiment_names=["broken"])
    assert set(runs["status"]) == {"FAILED"}


def test_unreachable_tracking_server(monkeypatch):
    from stance.training.train import train

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    with pytest.raises(StanceError, match="cannot use MLflow tracking store"):
        train(LABELS, configs=[TINY_BASELINE], register=False, export_dir=None)


def test_cli_train_and_bad_input(store, tmp_path):
    runner = CliRunner()
    res = runner.invoke(
        app, ["train", "--labels", str(LABELS), "-c", str(TINY_BASELINE), "--experiment", "cli", "--no-export"]
    )
    assert res.exit_code == 0, res.output
    assert "champion: tiny-baseline" in res.output
    broken = tmp_path / "labels"
    shutil.copytree(LABELS, broken)
    (broken / "topics.yaml").write_text("topics: [")
    res = runner.invoke(app, ["train", "--labels", str(broken), "-c", str(TINY_BASELINE)])
    assert res.exit_code == 2
    assert "topics.yaml" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["train", "--labels", str(LABELS), "--model", "nonexistent"])
    assert res.exit_code == 2 and "no config for model 'nonexistent'" in res.output
