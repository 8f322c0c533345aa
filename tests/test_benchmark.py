"""The scoring benchmark behind `make bench`."""

from __future__ import annotations

from stance.training.bench import bench_scoring, example_articles, startup_seconds


def test_bench_scoring_on_generated_articles(tiny_model_dir, tiny_labels):
    result = bench_scoring(tiny_model_dir, n_articles=12, labels_dir=tiny_labels)
    assert result["articles"] == 12 and result["sentences"] > 100 and result["family"] == "baseline"
    assert result["sentences_per_s"] > 0 and result["articles_per_s"] > 0
    assert result["peak_rss_mb"] > 50


def test_bench_scoring_on_paths(tiny_model, tiny_labels, examples_dir):
    result = bench_scoring(tiny_model, paths=[examples_dir / "corpus.jsonl"], labels_dir=tiny_labels)
    assert result["articles"] == 4 and result["model"] == "BaselineClassifier"


def test_example_articles_cycle_with_unique_ids(examples_dir):
    ids = [a.id for a in example_articles(20, examples_dir)]
    assert len(set(ids)) == 20


def test_startup_time_is_measured():
    assert 0 < startup_seconds(repeats=1) < 10


def test_spark_comparison_table_keeps_start_up_apart():
    from stance.training.bench import spark_markdown

    table = spark_markdown(
        {
            "articles": 2000,
            "master": "local[2]",
            "single_process": {"seconds": 100.0, "articles_per_s": 20.0, "model_load_seconds": 3.0, "findings": 9},
            "spark": {
                "seconds": 60.0,
                "articles_per_s": 33.3,
                "session_start_seconds": 8.0,
                "first_job_seconds": 20.0,
                "findings": 9,
                "problems": 0,
            },
        }
    )
    assert "| articles/s | 20.0 | 33.3 |" in table and "8.0 (session) + 20.0 (first job" in table


def test_bench_corpus_is_jsonl_of_example_articles(tmp_path):
    import json

    from stance.training.bench import write_bench_corpus

    lines = write_bench_corpus(tmp_path / "c.jsonl", 7).read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 7 and len({r["id"] for r in records}) == 7 and all(r["text"] for r in records)
