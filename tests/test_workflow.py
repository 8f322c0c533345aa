"""The whole path once, through the CLI, on tiny data: train → score → report → evaluate."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from stance.cli import app

HERE = Path(__file__).parent
TINY_BASELINE = HERE / "fixtures" / "configs" / "tiny_baseline.yaml"
EXAMPLES = HERE.parent / "examples"


def test_train_score_report_evaluate(tiny_labels, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setattr("stance.tracking.artifact_root", lambda: (tmp_path / "artifacts").as_uri())
    champion = tmp_path / "champion"
    monkeypatch.setattr("stance.config.CHAMPION_DIR", champion)
    runner = CliRunner()

    trained = runner.invoke(
        app, ["train", "--labels", str(tiny_labels), "--config", str(TINY_BASELINE), "--experiment", "wf"]
    )
    assert trained.exit_code == 0, trained.output
    assert (champion / "MLmodel").exists()
    assert (tmp_path / "pipeline" / "MLmodel").exists() and "article-level model" in trained.output

    findings = tmp_path / "findings.jsonl"
    scored = runner.invoke(
        app,
        ["score", str(EXAMPLES / "wire_report.txt"), "--model", str(champion), "--labels", str(tiny_labels)]
        + ["--out", str(findings)],
    )
    assert scored.exit_code == 0, scored.output
    rows = [json.loads(line) for line in findings.read_text().splitlines()]
    assert rows and all(r["topic"] != "none" and r["stance"] in {"support", "oppose", "neutral"} for r in rows)

    page = tmp_path / "report.html"
    reported = runner.invoke(app, ["report", str(findings), "--out", str(page), "--labels", str(tiny_labels)])
    assert reported.exit_code == 0, reported.output
    assert "<html" in page.read_text() and f"{len(rows)} findings" in reported.output

    evaluated = runner.invoke(
        app, ["evaluate", "--labels", str(tiny_labels), "--model", str(champion), "--experiment", "wf"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert "article: actor x topic stance" in evaluated.output and "logged to MLflow run" in evaluated.output
