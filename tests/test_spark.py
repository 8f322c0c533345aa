"""engines/spark.py: ``stance score --engine spark`` on a real ``local[2]`` Spark gives the
findings and corpus tables of single-process ``stance score``, finding for finding."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stance.cli import app

pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed: pip install 'stance[spark]'")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java 17 (no `java` on PATH and no JAVA_HOME)", allow_module_level=True)

SHORT = {
    "id": "short",
    "date": "2025-03-01",
    "text": "Zelensky said Ukraine will never cede territory to Russia. Putin rejected a ceasefire.",
}


@pytest.fixture(scope="session")
def spark():
    from stance.engines.spark import spark_session

    session = spark_session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, examples_dir) -> Path:
    """The example corpus, a short article, a blank article and a line that is not JSON."""
    path = tmp_path_factory.mktemp("spark-in") / "corpus.jsonl"
    lines = (examples_dir / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    lines += [json.dumps(SHORT), json.dumps({"id": "blank", "text": "   "}), "not json at all"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def single_process(corpus, tiny_model_dir, tiny_labels):
    from stance.pipeline.findings import CorpusTally, Finding
    from stance.pipeline.scoring import score_corpus

    result = score_corpus([corpus], model=str(tiny_model_dir), registry=tiny_labels)
    findings = [f.to_dict() for r in result for f in r.findings]
    assert findings and len(result.errors) == 2
    # What `stance report` tallies from the `--format jsonl` records (4-decimal confidences).
    from_jsonl = CorpusTally()
    for record in findings:
        from_jsonl.add(Finding.model_validate(record))
    tables = {k: [p.to_dict() for p in v] for k, v in from_jsonl.summary().items()}
    return findings, tables, result.summary()


@pytest.fixture(scope="module")
def spark_output(spark, corpus, tiny_model_dir, tiny_labels, tmp_path_factory):
    out = tmp_path_factory.mktemp("spark-out") / "scored"
    args = ["score", "--engine", "spark", str(corpus), "--out", str(out)]
    res = CliRunner().invoke(app, [*args, "--model", str(tiny_model_dir), "--labels", str(tiny_labels)])
    # Two bad articles: problem rows, the rest scored, exit 1 as for the single process.
    assert res.exit_code == 1, res.output
    assert "5 of 7 articles scored" in res.output and "2 problem(s)" in res.output
    return out


def rows(spark, folder: Path) -> list[dict]:
    return [r.asDict(recursive=True) for r in spark.read.parquet(str(folder)).collect()]


def test_spark_findings_equal_single_process(spark, spark_output, single_process):
    findings, _, _ = single_process
    assert (spark_output / "_SUCCESS").exists()
    assert rows(spark, spark_output / "findings") == findings


def test_spark_corpus_tables_equal_single_process(spark, spark_output, single_process):
    _, from_jsonl, in_memory = single_process

    def key(p):
        return (p["date"] or "", p["actor"], p["topic"])

    for folder, table in (
        ("actor_topic", "positions"),
        ("sides", "sides"),
        ("actor_topic_by_date", "positions_by_date"),
        ("sides_by_date", "sides_by_date"),
    ):
        got = sorted(rows(spark, spark_output / folder), key=key)
        assert got == sorted(from_jsonl[table], key=key), folder
        # The in-memory tables vote on unrounded confidences: the same cells and stances.
        want = sorted(in_memory[table], key=key)
        assert [(*key(p), p["stance"], p["sentences"]) for p in got] == [
            (*key(p), p["stance"], p["sentences"]) for p in want
        ]
        assert all(abs(a["confidence"] - b["confidence"]) < 1e-3 for a, b in zip(got, want, strict=True))


def test_bad_articles_are_problem_records(spark, spark_output):
    problems = {r["article"]: r["message"] for r in rows(spark, spark_output / "problems")}
    assert "'text' is empty" in problems["blank"]
    assert any(k is None and "invalid JSON" in v for k, v in problems.items())
    articles = rows(spark, spark_output / "articles")
    assert [a["article"] for a in articles][:4] == [
        json.loads(line)["id"] for line in (Path(__file__).parents[1] / "examples" / "corpus.jsonl").open()
    ]
    assert next(a for a in articles if a["article"] == "short")["findings"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a.jsonl", "b.jsonl", "--out", "o"], "scores one INPUT"),
        (["a.jsonl"], "needs --out OUTPUT"),
        (["a.jsonl", "--out", "o", "--format", "csv"], "writes Parquet"),
    ],
)
def test_spark_cli_usage_errors_are_one_line(args, message):
    res = CliRunner().invoke(app, ["score", "--engine", "spark", *args])
    assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output


def test_an_article_that_breaks_the_model_is_its_own_problem_row():
    import pandas as pd

    from stance.engines.spark import _score_batch

    class Breaks:
        """Scores every article but one that makes it raise (a stand-in for a model bug)."""

        def predict(self, frame, params=None):
            if (frame["text"] == "boom").any():
                raise RuntimeError("kaput")
            rows = [
                {"article": i, "sentences": 1, "findings": [], "warnings": [], "problem": None} for i in frame["id"]
            ]
            return pd.DataFrame(rows)

    pdf = pd.DataFrame({"id": ["a", "b", "c"], "text": ["fine", "boom", "fine"], "_order": [0, 1, 2]})
    for k in ("title", "date", "source", "url"):
        pdf[k] = None
    out = _score_batch(Breaks(), pdf, 0.0)
    assert list(out["article"]) == ["a", "b", "c"]
    assert [None if pd.isna(p) else p for p in out["problem"]] == [None, "could not be scored (kaput)", None]
