"""The scoring benchmark behind `make bench`."""

from __future__ import annotations

import pytest

from stance.training.bench import bench_scoring, example_articles, startup_seconds


def test_bench_scoring_on_generated_articles(tiny_model_dir, tiny_labels):
    result = bench_scoring(tiny_model_dir, n_articles=12, labels_dir=tiny_labels)
    assert result["articles"] == 12 and result["sentences"] > 100 and result["family"] == "baseline"
    assert result["sentences_per_s"] > 0 and result["articles_per_s"] > 0
    assert result["peak_rss_mb"] > 50


def test_bench_scoring_reports_the_fastest_of_its_runs(tiny_model_dir, tiny_labels):
    result = bench_scoring(tiny_model_dir, n_articles=6, labels_dir=tiny_labels, repeats=2)
    assert len(result["runs_seconds"]) == 2
    assert result["seconds"] == min(result["runs_seconds"])
    assert result["sentences_per_s"] == pytest.approx(result["sentences"] / result["seconds"], rel=0.01)
    steal = result["cpu_steal_percent"]
    assert steal is None or 0 <= steal <= 100


def test_bench_scoring_on_paths(tiny_model, tiny_labels, examples_dir):
    result = bench_scoring(tiny_model, paths=[examples_dir / "corpus.jsonl"], labels_dir=tiny_labels)
    assert result["articles"] == 4 and result["model"] == "BaselineClassifier"


def test_example_articles_cycle_with_unique_ids(examples_dir):
    ids = [a.id for a in example_articles(20, examples_dir)]
    assert len(set(ids)) == 20


def test_startup_time_is_measured():
    assert 0 < startup_seconds(repeats=1) < 10


def test_cpu_flags_are_read():
    from stance.training.bench import CPU_FLAGS, cpu_flags

    flags = cpu_flags()
    assert set(flags) <= set(CPU_FLAGS) and all(isinstance(v, bool) for v in flags.values())


def test_cold_start_of_one_article(tiny_model_dir):
    from stance.training.bench import cold_start_seconds

    assert 0 < cold_start_seconds(tiny_model_dir, repeats=1) < 60


def test_onnx_against_torch_float32_and_length_sorting(tmp_path, tiny_labels):
    from pathlib import Path

    from stance.labels import LabelSet
    from stance.models.transformer import TransformerClassifier
    from stance.training.bench import compare_runtimes, length_sorting_gain, results_markdown

    labels = LabelSet.load(Path(__file__).parent / "fixtures" / "labels_custom")
    topics = {t.id: t.proposition for t in labels.registry.topics.values()}
    params = {"epochs": 1, "batch_size": 8, "max_length": 64, "max_train_items": 16, "num_layers": 1}
    clf = TransformerClassifier(topics, params)
    clf.fit(labels.sentences("train"), labels.positions("train"))
    folder = clf.save(tmp_path / "m")
    result = compare_runtimes(folder, n_articles=4, labels_dir=tiny_labels)
    assert result["onnx_int8"]["sentences"] == result["torch_float32"]["sentences"] > 0
    for run in (result["onnx_int8"], result["torch_float32"]):  # both alternated runs are listed
        assert len(run["runs_seconds"]) == 2 and run["seconds"] == min(run["runs_seconds"])
    assert result["speedup"] > 0
    gain = length_sorting_gain(folder, tiny_labels)
    assert gain["sorted_sentences_per_s"] > 0 and gain["gain"] > 0
    family = {
        "name": "t",
        "family": "transformer",
        "train_seconds": 1.0,
        "seconds_per_epoch": 1.0,
        "onnx_dev_macro_f1_delta": -0.004,
        "cold_start_seconds": 2.0,
        "runtimes": result,
        "length_sorting": gain,
        "scoring": result["onnx_int8"],
        "pipeline_test": {},
        **{k: 0.5 for k in ("test_macro_f1", "test_f_avg", "test_accuracy", "test_topic_f1_micro", "dev_macro_f1")},
        **{f"test_f1_{s}": 0.5 for s in ("support", "oppose", "neutral")},
    }
    table = results_markdown(
        {
            "date": "d",
            "machine": "m",
            "python": "3",
            "parent_run_id": "p",
            "train_all_seconds": 60,
            "train_peak_rss_mb": 1,
            "champion_on_dev": "t",
            "startup_seconds": 0.1,
            "families": [family],
            "cpu": "x",
            "cpu_flags": {"avx2": True},
        }
    )
    assert "int8 ONNX speed-up over float32" in table and "-0.004" in table and "features: avx2" in table


def test_results_block_shows_real_news_figures_where_measured():
    from stance.training.bench import results_markdown

    def family(name, realnews=None):
        f = {
            "name": name,
            "family": "baseline",
            "train_seconds": 1.0,
            "test_f1_support": 0.5,
            "test_f1_oppose": 0.5,
            "test_f1_neutral": 0.5,
            "pipeline_test": {},
            "scoring": {"sentences_per_s": 1, "articles_per_s": 1, "peak_rss_mb": 1, "load_seconds": 1},
            "position_threshold": 0.35,
        }
        f["scoring"].update({"articles": 1, "sentences": 1})
        if realnews:
            f["realnews_dev"] = realnews
        return f

    figures = {
        "articles_article_actor_f1": 0.571,
        "articles_sentence_actor_f1": 0.493,
        "articles_holder_accuracy": 0.69,
    }
    results = {
        "date": "d",
        "machine": "m",
        "python": "3",
        "parent_run_id": "p",
        "train_all_seconds": 60,
        "train_peak_rss_mb": 1,
        "champion_on_dev": "a",
        "startup_seconds": 0.1,
        "families": [family("a", figures), family("b")],
    }
    block = results_markdown(results)
    assert "| real-news dev: article F1 (actor level) | 0.571 | – |" in block
    assert "| real-news dev: sentence F1 (actor level) | 0.493 | – |" in block
    assert "| tuned position threshold | 0.350 | 0.350 |" in block


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


def test_training_on_avx2_holds_pytorch_to_avx2(tmp_path, monkeypatch):
    """The AVX2 training figure comes from a fresh process whose PyTorch kernels are capped
    at AVX2, whatever this CPU has; on a CPU without AVX-512 there is nothing to add."""
    from pathlib import Path

    from mlflow.tracking import MlflowClient

    from conftest import use_temp_store
    from stance.training import bench

    here = Path(__file__).parent / "fixtures"
    use_temp_store(monkeypatch, tmp_path)
    config, labels = here / "configs" / "tiny_transformer.yaml", here / "labels_custom"
    monkeypatch.setattr(bench, "cpu_flags", lambda: {"avx2": True, "avx512f": False})
    assert bench.training_on_avx2(config, labels) is None
    monkeypatch.setattr(bench, "cpu_flags", lambda: {"avx2": True, "avx512f": True})
    out = bench.training_on_avx2(config, labels)
    assert out["train_seconds"] > 0 and 0 <= out["dev_macro_f1"] <= 1
    assert out["torch_cpu_capability"] == "AVX2"
    run = MlflowClient().get_run(out["run_id"])
    assert run.data.tags["torch_cpu_capability"] == "AVX2"
    assert run.info.artifact_uri.startswith((tmp_path / "artifacts").as_uri())  # not the project's store
