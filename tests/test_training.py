"""training.py + tracking.py: tiny configurations end to end into a temporary MLflow store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import use_temp_store
from stance.cli import app
from stance.errors import StanceError

HERE = Path(__file__).parent
LABELS = HERE / "fixtures" / "labels_custom"
TINY_BASELINE = HERE / "fixtures" / "configs" / "tiny_baseline.yaml"
TINY_TRANSFORMER = HERE / "fixtures" / "configs" / "tiny_transformer.yaml"


@pytest.fixture
def store(tmp_path, monkeypatch):
    return use_temp_store(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny training of two families, shared by the assertions below."""
    tmp = tmp_path_factory.mktemp("train")
    mp = pytest.MonkeyPatch()
    use_temp_store(mp, tmp)
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
        "dev_end_to_end_f1",
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
    assert run.data.tags["labels.imports"] == "none"  # no Label Studio import in these labels


def test_champion_registered_loadable_and_exported(trained):
    import mlflow

    result, tmp = trained
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    from mlflow.tracking import MlflowClient

    mv = MlflowClient().get_model_version_by_alias("stance-classifier", "champion")
    assert str(mv.version) == result.champion_version
    assert all(0 <= r.metrics["dev_end_to_end_f1"] <= 1 for r in result.results)
    assert result.champion.metrics["dev_end_to_end_f1"] == max(r.metrics["dev_end_to_end_f1"] for r in result.results)
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


# -- what the MLflow UI shows (issue 11) ---------------------------------------------------
def _runs(tmp):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    return mlflow.search_runs(experiment_names=["tiny"])


def test_every_run_logs_the_same_artifact_names_and_the_git_commit(trained):
    import subprocess

    from mlflow.tracking import MlflowClient

    result, tmp = trained
    runs = _runs(tmp)
    client = MlflowClient()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
    for child in result.results:
        assert [f.path for f in client.list_artifacts(child.run_id, "errors")] == ["errors/misclassified_test.csv"]
        assert "figures/confusion_test.png" in {f.path for f in client.list_artifacts(child.run_id, "figures")}
        tags = client.get_run(child.run_id).data.tags
        assert tags["mlflow.source.git.commit"] == head and tags["git_commit"] == head
        assert tags["git_dirty"] in ("true", "false")
    assert client.get_run(result.parent_run_id).data.tags["mlflow.source.git.commit"] == head
    children = runs[runs["tags.mlflow.parentRunId"] == result.parent_run_id]
    metric_columns = [c for c in runs.columns if c.startswith("metrics.")]
    assert not [c for c in metric_columns if "n_items" in c or "n_sentences" in c]
    assert (children["params.test_n_items"].astype(int) > 0).all()
    assert (children["params.dev_n_sentences"].astype(int) > 0).all()


def test_parent_chart_shows_the_selection_metric(trained):
    from mlflow.tracking import MlflowClient

    from stance.training.train import SELECTION_METRIC

    result, tmp = trained
    _runs(tmp)
    client = MlflowClient()
    parent = client.get_run(result.parent_run_id)
    figures = {f.path for f in client.list_artifacts(result.parent_run_id, "figures")}
    assert figures == {f"figures/comparison_{SELECTION_METRIC}.png"} and SELECTION_METRIC == "dev_end_to_end_f1"
    assert parent.data.params["selection_metric"] == SELECTION_METRIC
    assert parent.data.metrics[f"champion_{SELECTION_METRIC}"] == result.champion.metrics[SELECTION_METRIC]


def test_the_champion_is_the_best_at_finding_positions():
    """Chosen on dev end-to-end F1 even where another family labels sentences better;
    dev macro-F1 decides a tie and stands in where dev has no documents."""
    from stance.training.train import FamilyResult, selection_key

    def family(name, **metrics):
        return FamilyResult(name, name, "", metrics, "", Path("."))

    labels_best = family("a", dev_end_to_end_f1=0.60, dev_macro_f1=0.83)
    findings_best = family("b", dev_end_to_end_f1=0.65, dev_macro_f1=0.80)
    assert max([labels_best, findings_best], key=selection_key) is findings_best
    tie = family("c", dev_end_to_end_f1=0.65, dev_macro_f1=0.81)
    assert max([findings_best, tie], key=selection_key) is tie
    no_documents = [family("d", dev_macro_f1=0.7), family("e", dev_macro_f1=0.75)]
    assert max(no_documents, key=selection_key).name == "e"


def test_source_tags_outside_git(monkeypatch, tmp_path):
    from stance.training import train as train_module

    monkeypatch.setattr(train_module, "PROJECT_ROOT", tmp_path)
    assert train_module.source_tags() == {}


def test_transformer_logs_training_and_dev_curves(trained):
    from mlflow.tracking import MlflowClient

    result, tmp = trained
    _runs(tmp)
    run_id = next(r.run_id for r in result.results if r.family == "transformer")
    client = MlflowClient()
    loss = client.get_metric_history(run_id, "train_loss")
    assert len(loss) >= 2 and [m.step for m in loss] == sorted({m.step for m in loss}) and loss[0].step >= 1
    dev = client.get_metric_history(run_id, "dev_loss")  # once per epoch: the config has one
    assert len(dev) == 1 and dev[0].step >= loss[0].step and dev[0].value > 0
    assert client.get_metric_history(run_id, "learning_rate")


def test_logged_model_accepts_text_and_context_only(trained):
    """The README says actor, side and topic are optional: the signature must agree."""
    import mlflow

    result, tmp = trained
    _runs(tmp)
    frame = pd.DataFrame({"text": ["Putin rejected any truce."], "context": [""]})
    for uri in [r.model_uri for r in result.results] + [str(tmp / "champion")]:
        model = mlflow.pyfunc.load_model(uri)
        inputs = {c.name: c.required for c in model.metadata.get_input_schema().inputs}
        assert inputs == {"text": True, "context": False, "actor": False, "side": False, "topic": False}
        assert model.predict(frame)["stance"].iloc[0] in ("support", "oppose", "neutral")
        assert len(model.predict(pd.DataFrame({"text": ["Zelensky backs a ceasefire."]}))) == 1


def test_exported_requirements_are_installable_pins(trained):
    from stance.tracking import requirements

    result, tmp = trained
    lines = (tmp / "champion" / "requirements.txt").read_text().split()
    torch = [line for line in lines if line.startswith("torch==")]
    assert torch and "+" not in torch[0]
    assert not [r for r in requirements() if "+" in r]


def test_cli_train_progress_goes_to_stderr(store):
    res = CliRunner().invoke(
        app, ["train", "--labels", str(LABELS), "-c", str(TINY_BASELINE), "--experiment", "progress", "--no-export"]
    )
    assert res.exit_code == 0, res.output
    assert "[1/2] holder model" in res.stderr and "[2/2] tiny-baseline: dev macro-F1" in res.stderr
    assert "[2/2]" not in res.stdout and "champion: tiny-baseline" in res.stdout


# -- faults and interrupted work (issue 11) -------------------------------------------------
def _stance(*args, env: dict):
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "stance.cli", *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _query(db: Path, sql: str) -> list[tuple]:
    import sqlite3

    if not db.exists():
        return []
    try:
        with sqlite3.connect(db, timeout=5) as con:
            return con.execute(sql).fetchall()
    except sqlite3.OperationalError:  # tables not created yet
        return []


def test_sigterm_during_train_fails_the_runs_and_removes_temporary_folders(tmp_path, cli_env):
    import signal
    import time

    cfg = tmp_path / "long.yaml"
    cfg.write_text(TINY_TRANSFORMER.read_text().replace("epochs: 1", "epochs: 200"))
    db = tmp_path / "mlflow.db"
    proc = _stance("train", "--labels", LABELS, "-c", cfg, "--no-register", "--no-export", env=cli_env(tmp_path))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        running = _query(db, "select count(*) from runs where status = 'RUNNING'")
        # The parent and the transformer's child run are RUNNING and fine-tuning has begun.
        if running and running[0][0] >= 2 and list((tmp_path / "tmp").glob("stance-hf-*")):
            break
        time.sleep(0.3)
    time.sleep(1.0)
    assert proc.poll() is None, proc.communicate()
    assert list((tmp_path / "tmp").glob("stance-train-*")), "training should be using temporary folders"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == "stance: error: terminated (SIGTERM)" and "Traceback" not in err
    statuses = [s for (s,) in _query(db, "select status from runs")]
    assert len(statuses) == 2 and set(statuses) == {"FAILED"}
    assert not list((tmp_path / "tmp").glob("stance-*"))


def test_concurrent_trainings_on_a_new_sqlite_store_both_finish(tmp_path, cli_env):
    """Two trainings (separate processes, the library's train: no holder model, to be quick)
    start together on a store that does not exist yet; both register and export."""
    import subprocess
    import sys

    code = (
        "import sys; from stance.training.train import train; "
        "r = train(sys.argv[1], configs=[sys.argv[2]], experiment=sys.argv[3], learned_holders=False); "
        "print('champion', r.champion.name, r.champion_version)"
    )
    env = cli_env(tmp_path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(LABELS), str(TINY_BASELINE), f"race{i}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "champion tiny-baseline" in out
    statuses = [s for (s,) in _query(tmp_path / "mlflow.db", "select status from runs")]
    assert len(statuses) == 4 and set(statuses) == {"FINISHED"}
    versions = _query(tmp_path / "mlflow.db", "select version from model_versions where name = 'stance-classifier'")
    assert sorted(v for (v,) in versions) == [1, 2]
    assert (tmp_path / "models" / "champion" / "champion.json").exists()


def test_models_uri_on_an_unreachable_server_fails_fast(monkeypatch):
    """No retries for four minutes: a one-line error naming the server, in seconds."""
    import socket
    import time

    from stance.tracking import load_classifier

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    for var in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"):
        monkeypatch.delenv(var, raising=False)
    t0 = time.monotonic()
    with pytest.raises(StanceError) as err:
        load_classifier("models:/stance-classifier@champion")
    assert time.monotonic() - t0 < 20
    message = str(err.value)
    assert server in message and "models:/stance-classifier@champion" in message and "\n" not in message


NO_CONTEXT = HERE / "fixtures" / "labels_nocontext"


@pytest.mark.parametrize("family", ["baseline", "embedding", "transformer"])
def test_every_family_trains_without_contexts_or_none_items(store, tmp_path, family):
    """A single-sentence stance set (SemEval-2016-like): no context, no `none` items."""
    from stance.labels import LabelSet
    from stance.training.train import train

    labels = LabelSet.load(NO_CONTEXT)
    assert (labels.items["context"] == "").all() and not (labels.items["topic"] == "none").any()
    cfg = tmp_path / f"{family}.yaml"
    params = {
        "baseline": "{max_features: 2000}",
        "embedding": "{batch_size: 16}",
        "transformer": "{epochs: 1, batch_size: 8, max_length: 48}",
    }[family]
    cfg.write_text(f"name: nc-{family}\nfamily: {family}\nseed: 3\nparams: {params}\n")
    result = train(NO_CONTEXT, configs=[cfg], experiment="nc", register=False, export_dir=None, learned_holders=False)
    metrics = result.results[0].metrics
    assert 0.0 <= metrics["test_macro_f1"] <= 1.0 and metrics["dev_macro_f1"] >= 0.0


def test_models_uri_loads_and_leaves_no_download_behind(trained, monkeypatch):
    import tempfile

    from stance.tracking import load_classifier

    result, tmp = trained
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
    before = set(Path(tempfile.gettempdir()).glob("stance-model-*"))
    clf = load_classifier("models:/stance-classifier@champion")
    assert clf.family == result.champion.family and clf.topic_ids == ["ceasefire", "nato_membership"]
    assert set(Path(tempfile.gettempdir()).glob("stance-model-*")) == before
