"""tracking.py against a team's tracking server: the real ``mlflow server`` (as ``make
server`` starts it) on a loopback port, trained into and scored from over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import Server, free_port, mlflow_cli
from stance.cli import app

HERE = Path(__file__).parent
LABELS = HERE / "fixtures" / "labels_custom"
TINY_BASELINE = HERE / "fixtures" / "configs" / "tiny_baseline.yaml"


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    cmd = [
        *mlflow_cli(),
        "server",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination",
        str(root / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    server = Server(cmd, f"http://127.0.0.1:{port}/health", root / "server.log")
    yield f"http://127.0.0.1:{port}", root
    server.stop()


def test_train_and_score_through_a_tracking_server(tracking_server, tmp_path, monkeypatch):
    uri, root = tracking_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    runner = CliRunner()
    res = runner.invoke(
        app, ["train", "--labels", str(LABELS), "-c", str(TINY_BASELINE), "--experiment", "team", "--no-export"]
    )
    assert res.exit_code == 0, res.output
    assert "models:/stance-classifier@champion (v1)" in res.output and "stance-pipeline@champion (v1)" in res.output
    # The runs and the models live in the server's store, uploaded over HTTP.
    assert (root / "mlflow.db").exists() and any((root / "artifacts").rglob("MLmodel"))

    article = tmp_path / "talks.txt"
    article.write_text(
        "date 2025-03-04\n\nPutin rejected any truce. Zelensky said Ukraine was ready for a ceasefire.\n"
    )
    res = runner.invoke(
        app,
        [
            "score",
            str(article),
            "--model",
            "models:/stance-classifier@champion",
            "--labels",
            str(LABELS),
            "-f",
            "jsonl",
        ],
    )
    assert res.exit_code == 0, res.output
    findings = [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
    assert findings and {f["actor"] for f in findings} <= {"putin", "zelensky", "russia", "author"}
    assert all(f["date"] == "2025-03-04" and f["topic"] in {"ceasefire", "nato_membership"} for f in findings)

    # The article-level model registered beside it gives the same findings.
    import mlflow.pyfunc
    import pandas as pd

    mlflow.set_tracking_uri(uri)
    served = mlflow.pyfunc.load_model("models:/stance-pipeline@champion")
    text = article.read_text()
    out = served.predict(pd.DataFrame([{"id": str(article), "text": text.split("\n", 2)[2], "date": "2025-03-04"}]))
    assert [(f["actor"], f["topic"], f["stance"]) for f in out.iloc[0]["findings"]] == [
        (f["actor"], f["topic"], f["stance"]) for f in findings
    ]
