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
