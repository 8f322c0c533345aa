"""Scoring throughput, memory and start-up time (``make bench``).

In: a model (folder or MLflow URI; None = champion), articles to score (paths, or a corpus
generated from ``examples/``) and their number. Out: a flat dict of figures — articles/s
and sentences/s end to end (reading excluded for generated corpora, model loading
excluded), peak resident memory, and the time ``stance --help`` takes in a fresh process;
for the transformer, int8 ONNX Runtime against PyTorch float32 on the same articles, the
gain of length-sorted batches, and the CPU features each figure depends on; per family,
the cold start of ``stance score`` on one article.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..config import EXAMPLES_DIR


def example_articles(n_articles: int, folder: Path | None = None) -> Iterator:
    """``n_articles`` articles cycled from the example files, each with its own id."""
    from ..pipeline.reading import Article, read_inputs

    folder = folder or EXAMPLES_DIR
    pool = [a for a in read_inputs([str(folder)]) if isinstance(a, Article)]
    if not pool:
        from ..errors import StanceError

        raise StanceError(f"{folder}: no example articles to benchmark with")
    for i in range(n_articles):
        a = pool[i % len(pool)]
        yield Article(id=f"bench-{i:05d}", text=a.text, title=a.title, date=a.date, source=a.source)


class _PeakRss:
    """Samples this process's resident memory in a thread; ``peak`` in bytes."""

    def __init__(self, every: float = 0.05):
        import psutil

        self.proc = psutil.Process()
        self.every = every
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self._stop.wait(self.every)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def bench_scoring(
    model_uri=None,
    paths: list[str | Path] | None = None,
    n_articles: int = 200,
    labels_dir: str | Path | None = None,
    repeats: int = 1,
) -> dict[str, Any]:
    """Score ``paths`` (or ``n_articles`` generated articles) and time it.

    ``model_uri`` may also be a loaded classifier. The first batch is scored once before
    timing so that lazy initialisation (spaCy vectors, model warm-up) is not counted.
    ``repeats``: timed runs, the fastest reported (a shared machine's other load only ever
    slows a run down), fewer where the runs so far took over a minute; ``runs_seconds``
    lists them all.
    """
    from ..pipeline.scoring import Scorer, score_corpus

    t0 = time.perf_counter()
    scorer = Scorer(model_uri, labels_dir)
    load_s = time.perf_counter() - t0
    scorer.score_batch(list(example_articles(2)))  # warm-up

    runs = []
    with _PeakRss() as rss, _CpuSteal() as steal:
        for _ in range(max(1, repeats)):
            start = time.perf_counter()
            n_art = n_sent = n_find = 0
            if paths:
                corpus = score_corpus(paths, model=scorer.model, registry=scorer.registry)
                results = iter(corpus)
            else:
                results = scorer.score(example_articles(n_articles))
            for r in results:
                n_art += 1
                n_sent += len(r.sentences)
                n_find += len(r.findings)
            runs.append(time.perf_counter() - start)
            if sum(runs) > _REPEAT_BUDGET_S:
                break
    seconds = min(runs)
    model = scorer.model
    return {
        "model": str(model_uri)
        if model_uri is None or isinstance(model_uri, (str, Path))
        else type(model_uri).__name__,
        "family": getattr(model, "family", ""),
        "articles": n_art,
        "sentences": n_sent,
        "findings": n_find,
        "seconds": round(seconds, 3),
        "runs_seconds": [round(r, 3) for r in runs],
        "articles_per_s": round(n_art / seconds, 2) if seconds else 0.0,
        "sentences_per_s": round(n_sent / seconds, 1) if seconds else 0.0,
        "load_seconds": round(load_s, 3),
        "peak_rss_mb": round(rss.peak / 2**20, 1),  # this process; the parsing workers come on top
        "cpu_count": os.cpu_count(),
        "cpu_steal_percent": steal.percent,
    }


_REPEAT_BUDGET_S = 60.0


class _CpuSteal:
    """Share of CPU time the hypervisor gave to other machines during the block (Linux; else None).

    A virtual machine's throughput figures are only as good as that share is small."""

    percent: float | None = None

    @staticmethod
    def _read() -> list[int] | None:
        try:
            with open("/proc/stat") as f:
                fields = f.readline().split()[1:]
            return [int(x) for x in fields]
        except (OSError, ValueError):
            return None

    def __enter__(self) -> _CpuSteal:
        self._start = self._read()
        return self

    def __exit__(self, *exc) -> None:
        end = self._read()
        if self._start and end and len(end) > 7:
            delta = [b - a for a, b in zip(self._start, end, strict=False)]
            self.percent = round(100 * delta[7] / sum(delta), 1) if sum(delta) else 0.0


CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def cpu_flags() -> dict[str, bool]:
    """Which of the instruction sets that decide int8/bfloat16 speed this CPU has."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
            break
    return {f: f in flags for f in CPU_FLAGS}


def compare_runtimes(
    model_dir: str | Path, n_articles: int = 200, labels_dir: str | Path | None = None, repeats: int = 2
) -> dict[str, Any]:
    """The same articles end to end through int8 ONNX Runtime and through PyTorch float32,
    each the fastest of ``repeats`` runs.

    float32 is forced (no bfloat16 autocast), the case of CPUs without native bfloat16.
    """
    from ..models.base import StanceClassifier

    out: dict[str, Any] = {}
    every: dict[str, list[float]] = {}
    for _ in range(repeats):  # alternated, so that a slow spell of the machine hits both alike
        for name, runtime in (("onnx_int8", "onnx"), ("torch_float32", "torch")):
            clf = StanceClassifier.load(model_dir)
            for part in (clf, *getattr(clf, "members", ())):  # an ensemble's transformer member too
                if "inference_dtype" in part.params:
                    part.params["inference_dtype"] = "float32"
            clf.use_runtime(runtime)
            run = bench_scoring(clf, n_articles=n_articles, labels_dir=labels_dir)
            every.setdefault(name, []).extend(run["runs_seconds"])
            if name not in out or run["seconds"] < out[name]["seconds"]:
                out[name] = run
    for name, seconds in every.items():  # the kept run's figures, every run's time
        out[name]["runs_seconds"] = seconds
    t, o = out["torch_float32"]["sentences_per_s"], out["onnx_int8"]["sentences_per_s"]
    out["speedup"] = round(o / t, 2) if t else 0.0
    return out


def runs_onnx(folder: Path) -> bool:
    """The model scores through an int8 ONNX model: its own, or an ensemble member's."""
    from ..models.ensemble import MEMBERS_DIR
    from ..models.onnx_runtime import has_onnx

    members = folder / MEMBERS_DIR
    return has_onnx(folder) or (members.is_dir() and any(has_onnx(m) for m in members.iterdir()))


def length_sorting_gain(model_dir: str | Path, labels_dir: str | Path | None = None) -> dict[str, float]:
    """Model-only sentences/s on the dev sentences in batches of 32 (what the PyTorch path runs),
    in input order vs sorted by length."""
    from ..config import LABELS_DIR
    from ..labels import LabelSet
    from ..models.onnx_runtime import OnnxEncoder

    frame = LabelSet.load(Path(labels_dir or LABELS_DIR)).sentences("dev")
    if not len(frame):
        frame = LabelSet.load(Path(labels_dir or LABELS_DIR)).sentences()
    texts, contexts = list(frame["text"]), [c or "" for c in frame["context"]]
    enc = OnnxEncoder(Path(model_dir))
    enc.logits(texts[:32], contexts[:32], batch_size=32)  # warm-up
    out = {}
    for name, sort in (("unsorted", False), ("sorted", True)):
        t = time.perf_counter()
        enc.logits(texts, contexts, batch_size=32, sort=sort)
        out[f"{name}_sentences_per_s"] = round(len(texts) / (time.perf_counter() - t), 1)
    out["gain"] = round(out["sorted_sentences_per_s"] / out["unsorted_sentences_per_s"], 2)
    return out


def cold_start_seconds(model_dir: str | Path, article: str | Path | None = None, repeats: int = 3) -> float:
    """Median wall time of ``stance score ARTICLE --model DIR`` in a fresh process, all included."""
    article = Path(article or EXAMPLES_DIR / "wire_report.txt")
    cmd = [*_stance_cmd(), "score", str(article), "--model", str(model_dir), "--format", "jsonl"]
    return _median_wall(cmd, repeats)


def _stance_cmd() -> list[str]:
    """The ``stance`` script beside this Python, else ``python -m stance.cli``."""
    script = Path(sys.executable).with_name("stance")
    return [str(script)] if script.exists() else [sys.executable, "-m", "stance.cli"]


def _median_wall(cmd: list[str], repeats: int) -> float:
    """Median wall time of running ``cmd`` in a fresh process."""
    times = []
    for _ in range(max(1, repeats)):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return round(statistics.median(times), 3)


def write_bench_corpus(path: Path, n_articles: int) -> Path:
    """``n_articles`` example articles as a JSONL corpus, the input both engines read."""
    import json

    with path.open("w", encoding="utf-8") as fh:
        for a in example_articles(n_articles):
            record = {"id": a.id, "text": a.text, "title": a.title, "date": a.date, "source": a.source}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def bench_spark(
    classifier_dir: str | Path,
    labels_dir: str | Path | None = None,
    n_articles: int = 2000,
    master: str = "local[2]",
) -> dict[str, Any]:
    """Spark on ``master`` against single-process ``stance score`` on the same JSONL corpus.

    Both read the corpus from disk and write their output (JSONL; Parquet tables). Start-up
    is kept apart: for the single process, loading the model; for Spark, the session and
    a first small job that ships the model and loads it in every worker.
    """
    import json
    import tempfile

    from ..config import LABELS_DIR
    from ..engines.spark import score_on_spark, spark_session
    from ..pipeline.scoring import Scorer, score_corpus
    from ..tracking import save_pipeline_model

    labels_dir = Path(labels_dir or LABELS_DIR)
    tmp = Path(tempfile.mkdtemp(prefix="stance-bench-spark-"))
    try:
        corpus = write_bench_corpus(tmp / "corpus.jsonl", n_articles)
        model_dir = save_pipeline_model(tmp / "pipeline", Path(classifier_dir), labels_dir)

        t0 = time.perf_counter()
        scorer = Scorer(str(classifier_dir), labels_dir)
        single_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        n_find = 0
        with (tmp / "single.jsonl").open("w", encoding="utf-8") as out:
            for r in score_corpus([corpus], model=scorer):
                for f in r.findings:
                    out.write(json.dumps(f.to_dict(), ensure_ascii=False) + "\n")
                    n_find += 1
        single = time.perf_counter() - t0

        t0 = time.perf_counter()
        spark = spark_session(master)
        session = time.perf_counter() - t0
        parallelism = spark.sparkContext.defaultParallelism
        warm = write_bench_corpus(tmp / "warm.jsonl", 2 * parallelism)
        t0 = time.perf_counter()
        score_on_spark(str(warm), str(tmp / "warm-out"), str(model_dir), labels_dir, spark=spark)
        warm_up = time.perf_counter() - t0
        run = score_on_spark(str(corpus), str(tmp / "spark-out"), str(model_dir), labels_dir, spark=spark)
        spark.stop()
        return {
            "articles": n_articles,
            "master": master,
            "single_process": {
                "seconds": round(single, 2),
                "articles_per_s": round(n_articles / single, 2),
                "model_load_seconds": round(single_load, 2),
                "findings": n_find,
            },
            "spark": {
                "seconds": round(run.seconds, 2),
                "articles_per_s": round(n_articles / run.seconds, 2),
                "session_start_seconds": round(session, 2),
                "first_job_seconds": round(warm_up, 2),
                "findings": run.findings,
                "problems": run.problems,
            },
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# PyTorch's own kernels (ATen), MKL's matrix products and oneDNN capped at AVX2, so a CPU
# with AVX-512 trains as an AVX2-only one would (ONNX Runtime has no such switch).
AVX2_ONLY = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def training_on_avx2(config: str | Path, labels_dir: str | Path) -> dict[str, Any] | None:
    """Train one family again in a fresh process with PyTorch held to AVX2: the training
    time of an ordinary laptop or cloud CPU, measured on this one. None where the CPU has no
    AVX-512 (the main figure already is that case)."""
    import mlflow

    from .. import tracking

    if not cpu_flags().get("avx512f"):
        return None
    experiment = "stance-bench-avx2"
    tracking.setup(experiment)  # created here, so the child logs where this process would
    cmd = [*_stance_cmd(), "train", "--config", str(config), "--labels", str(labels_dir)]
    cmd += ["--experiment", experiment, "--no-register", "--no-export"]
    started = int(time.time() * 1000)
    done = subprocess.run(cmd, env={**os.environ, **AVX2_ONLY}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode:  # the other figures are still worth writing: say why this one is missing
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        print(f"bench: training on AVX2 failed (exit {done.returncode}): {tail[0]}", file=sys.stderr)
        return None
    runs = mlflow.search_runs(
        experiment_names=[experiment],
        filter_string=f"tags.`stance.role` = 'family' and attributes.start_time >= {started}",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if runs.empty:
        return None
    row = runs.iloc[0]
    return {
        "env": AVX2_ONLY,
        "run_id": row["run_id"],
        "train_seconds": round(float(row["metrics.train_seconds"]), 1),
        "seconds_per_epoch": round(float(row.get("metrics.seconds_per_epoch", float("nan"))), 1),
        "dev_macro_f1": round(float(row["metrics.dev_macro_f1"]), 4),
        "torch_cpu_capability": row.get("tags.torch_cpu_capability"),
    }


def startup_seconds(repeats: int = 3) -> float:
    """Median wall time of ``stance --help`` in a fresh process (the console script when
    it is installed beside this Python, else ``python -m stance.cli``)."""
    return _median_wall([*_stance_cmd(), "--help"], repeats)


def run_benchmarks(
    labels_dir: str | Path | None = None,
    configs: list[str | Path] | None = None,
    n_articles: int = 200,
    out_dir: str | Path | None = None,
    readme: str | Path | None = None,
    realnews_dir: str | Path | None = None,
    n_spark_articles: int = 2000,
) -> dict[str, Any]:
    """``make bench``: train every family, score a corpus with each, evaluate end to end
    (on the labelled test split and, where ``realnews_dir`` exists, on real gold articles);
    then the champion on Spark ``local[2]`` against one process (``n_spark_articles``, 0: skip).

    Training goes to the ``stance-bench`` experiment of the project store, so the figures
    can be traced to runs. Writes ``results.json`` and ``RESULTS.md`` under ``out_dir`` and,
    when ``readme`` is given, replaces the README's block between the BENCH markers.
    """
    import json
    import platform
    import tempfile

    from ..config import LABELS_DIR, REALNEWS_DIR, RESULTS_DIR
    from ..models.onnx_runtime import has_onnx
    from .evaluate import evaluate_pipeline
    from .evaluate_articles import gold_set_figures
    from .train import default_configs, load_config, train

    labels_dir = Path(labels_dir or LABELS_DIR)
    out_dir = Path(out_dir or RESULTS_DIR)
    keep = Path(tempfile.mkdtemp(prefix="stance-bench-"))
    with _PeakRss() as rss:
        t0 = time.perf_counter()
        result = train(
            labels_dir, configs=configs, experiment="stance-bench", register=False, export_dir=None, keep_dir=keep
        )
        total = time.perf_counter() - t0
    families = []
    for r in result.results:
        m = r.metrics
        scoring = bench_scoring(r.classifier_dir, n_articles=n_articles, labels_dir=labels_dir, repeats=3)
        pipeline = evaluate_pipeline(labels_dir, model=str(r.classifier_dir), split="test")
        extra: dict[str, Any] = {"cold_start_seconds": cold_start_seconds(r.classifier_dir)}
        realnews = gold_set_figures(realnews_dir or REALNEWS_DIR, model=str(r.classifier_dir))
        if realnews is not None:
            extra["realnews_dev"] = realnews
        if runs_onnx(Path(r.classifier_dir)):
            extra["runtimes"] = compare_runtimes(r.classifier_dir, n_articles=n_articles, labels_dir=labels_dir)
        if has_onnx(Path(r.classifier_dir)):
            extra["length_sorting"] = length_sorting_gain(r.classifier_dir, labels_dir)
        families.append(
            {
                "name": r.name,
                "family": r.family,
                "run_id": r.run_id,
                "train_seconds": round(m["train_seconds"], 1),
                **{
                    k: round(m[k], 4)
                    for k in sorted(m)
                    if k.startswith(("dev_", "test_")) and not k.endswith("n_items")
                },
                "scoring": scoring,
                "pipeline_test": {k: round(v, 4) for k, v in pipeline.metrics().items()},
                "seconds_per_epoch": round(m.get("seconds_per_epoch", float("nan")), 1),
                "position_threshold": m.get("position_threshold", float("nan")),
                **{k: round(m[k], 4) for k in sorted(m) if k.startswith("onnx_")},
                **extra,
            }
        )
    champion = result.champion.name if result.champion else None
    transformer = next((c for c in (configs or default_configs()) if load_config(c).family == "transformer"), None)
    avx2 = training_on_avx2(transformer, labels_dir) if transformer else None
    spark = None
    if n_spark_articles and result.champion is not None:
        spark = bench_spark(result.champion.classifier_dir, labels_dir, n_articles=n_spark_articles)
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "cpu": _cpu_name(),
        "cpu_flags": cpu_flags(),
        "python": platform.python_version(),
        "train_all_seconds": round(total, 1),
        "train_peak_rss_mb": round(rss.peak / 2**20, 1),
        "champion_on_dev": champion,
        "startup_seconds": startup_seconds(),
        "families": families,
        "parent_run_id": result.parent_run_id,
    }
    if avx2 is not None:
        results["transformer_training_avx2"] = avx2
    if spark is not None:
        results["spark"] = spark
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    table = results_markdown(results)
    (out_dir / "RESULTS.md").write_text(table, encoding="utf-8")
    if readme:
        _replace_block(Path(readme), table)
    shutil.rmtree(keep, ignore_errors=True)
    return results


def results_markdown(results: dict[str, Any]) -> str:
    """The README's results block: training, test metrics, end-to-end and scoring figures."""
    fams = results["families"]
    head = "| | " + " | ".join(f["name"] for f in fams) + " |\n|---|" + "---|" * len(fams) + "\n"

    def row(label: str, get) -> str:
        return f"| {label} | " + " | ".join(get(f) for f in fams) + " |\n"

    def pct(key: str):
        return lambda f: f"{f.get(key, float('nan')):.3f}"

    lines = [
        f"Measured by `make bench` on {results['date']} ({results['machine']}, Python {results['python']}); "
        f"raw figures in `benchmarks/results.json`, runs in the MLflow experiment `stance-bench` "
        f"(parent run `{results['parent_run_id']}`).\n\n",
        head,
        row("family", lambda f: f["family"]),
        row("training time (s)", lambda f: f"{f['train_seconds']:.0f}"),
        row("**test macro-F1** (stance)", pct("test_macro_f1")),
        row("test F_avg (support, oppose)", pct("test_f_avg")),
        row("test accuracy", pct("test_accuracy")),
        row(
            "test F1 support / oppose / neutral",
            lambda f: f"{f['test_f1_support']:.2f} / {f['test_f1_oppose']:.2f} / {f['test_f1_neutral']:.2f}",
        ),
        row("test topic detection F1 (micro)", pct("test_topic_f1_micro")),
        row("**dev end-to-end F1** (model selection)", pct("dev_end_to_end_f1")),
        row("dev macro-F1", pct("dev_macro_f1")),
        row(
            "end-to-end test: article actor × topic F1",
            lambda f: f"{f['pipeline_test'].get('pipeline_test_article_f1', float('nan')):.3f}",
        ),
        row(
            "end-to-end test: sentence (actor, topic, stance) F1",
            lambda f: f"{f['pipeline_test'].get('pipeline_test_sentence_f1', float('nan')):.3f}",
        ),
        row(
            "end-to-end test: attribution accuracy",
            lambda f: f"{f['pipeline_test'].get('pipeline_test_attribution_accuracy', float('nan')):.3f}",
        ),
        row("real-news dev: article F1 (actor level)", lambda f: _realnews(f, "articles_article_actor_f1")),
        row("real-news dev: sentence F1 (actor level)", lambda f: _realnews(f, "articles_sentence_actor_f1")),
        row("real-news dev: holder accuracy", lambda f: _realnews(f, "articles_holder_accuracy")),
        row("tuned position threshold", pct("position_threshold")),
        row("scoring: sentences/s (end to end)", lambda f: f"{f['scoring']['sentences_per_s']:.0f}"),
        row("scoring: articles/s", lambda f: f"{f['scoring']['articles_per_s']:.1f}"),
        row("process peak memory (MB, training included)", lambda f: f"{f['scoring']['peak_rss_mb']:.0f}"),
        row("model load (s)", lambda f: f"{f['scoring']['load_seconds']:.1f}"),
        row("cold start: `stance score` one article (s)", lambda f: f"{f.get('cold_start_seconds', float('nan')):.1f}"),
        row("int8 ONNX: sentences/s end to end", lambda f: _runtime(f, "onnx_int8")),
        row("PyTorch float32: sentences/s end to end", lambda f: _runtime(f, "torch_float32")),
        row(
            "int8 ONNX speed-up over float32", lambda f: f"{f['runtimes']['speedup']:.2f}×" if "runtimes" in f else "–"
        ),
        row(
            "int8 ONNX dev macro-F1 − PyTorch",
            lambda f: f"{f['onnx_dev_macro_f1_delta']:+.3f}" if "onnx_dev_macro_f1_delta" in f else "–",
        ),
        row(
            "length-sorted batches: model speed-up",
            lambda f: f"{f['length_sorting']['gain']:.2f}×" if "length_sorting" in f else "–",
        ),
        row("training: seconds per epoch", lambda f: f"{f.get('seconds_per_epoch', float('nan')):.0f}"),
        "\n",
        f"Training all families: {results['train_all_seconds'] / 60:.1f} min, peak memory "
        f"{results['train_peak_rss_mb']:.0f} MB. Champion on dev: **{results['champion_on_dev']}**. "
        f"`stance --help` starts in {results['startup_seconds']:.2f} s. Scoring figures: "
        f"{fams[0]['scoring']['articles']} articles ({fams[0]['scoring']['sentences']} sentences) "
        "cycled from `examples/`, model loading excluded; each the fastest of up to three runs "
        "(int8 against float32: two each, alternated). CPU time the hypervisor gave to other "
        f"machines while scoring: {_steal_range(fams)}.\n",
        f"CPU: {results.get('cpu', '?')}; features: "
        + (", ".join(f for f, on in results.get("cpu_flags", {}).items() if on) or "unknown")
        + ". int8 speed needs AVX2 (VNNI helps); PyTorch float32 needs nothing special; "
        "the PyTorch path's bfloat16 (not used in these figures) needs AVX512-BF16 or AMX.\n",
    ]
    if results.get("cpu_flags", {}).get("amx_int8") or results.get("cpu_flags", {}).get("avx512_vnni"):
        lines.append(
            "ONNX Runtime picks its int8 kernels from the CPU (AVX512-VNNI"
            + (", AMX-INT8" if results["cpu_flags"].get("amx_int8") else "")
            + " here) and has no switch to hold them to AVX2, so the int8 figures are this CPU's; "
            "on AVX2 alone they are lower.\n"
        )
    if results.get("transformer_training_avx2"):
        a = results["transformer_training_avx2"]
        lines.append(
            "\nTransformer training with PyTorch held to AVX2 (a fresh process with "
            + ", ".join(f"`{k}={v}`" for k, v in a["env"].items())
            + f"; PyTorch reported `{a.get('torch_cpu_capability')}`): {a['train_seconds']:.0f} s "
            f"({a['seconds_per_epoch']:.0f} s per epoch), dev macro-F1 {a['dev_macro_f1']:.3f}.\n"
        )
    if results.get("spark"):
        lines.append("\n" + spark_markdown(results["spark"], results.get("champion_on_dev")))
    return "".join(lines)


def _steal_range(fams: list[dict]) -> str:
    seen = [f["scoring"].get("cpu_steal_percent") for f in fams]
    seen = [s for s in seen if s is not None]
    if not seen:
        return "not measured"
    return f"{min(seen):.0f}–{max(seen):.0f}%" if min(seen) != max(seen) else f"{seen[0]:.0f}%"


def _realnews(family: dict, key: str) -> str:
    return f"{family['realnews_dev'][key]:.3f}" if "realnews_dev" in family else "–"


def _runtime(family: dict, name: str) -> str:
    return f"{family['runtimes'][name]['sentences_per_s']:.0f}" if "runtimes" in family else "–"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def spark_markdown(s: dict[str, Any], model: str | None = None) -> str:
    """The Spark against single-process comparison as a small table."""
    one, sp = s["single_process"], s["spark"]
    return (
        f"Spark `{s['master']}` against one process, the same {s['articles']:,} articles (JSONL in, "
        f"findings out{f', {model}' if model else ''}):\n\n"
        "| | one process (`stance score`) | Spark (`--engine spark`) |\n|---|---|---|\n"
        f"| articles/s | {one['articles_per_s']:.1f} | {sp['articles_per_s']:.1f} |\n"
        f"| scoring time (s) | {one['seconds']:.1f} | {sp['seconds']:.1f} |\n"
        f"| start-up (s) | {one['model_load_seconds']:.1f} (model load) | {sp['session_start_seconds']:.1f} "
        f"(session) + {sp['first_job_seconds']:.1f} (first job: model shipped and loaded per worker) |\n"
        f"| findings | {one['findings']} | {sp['findings']} |\n"
    )


BENCH_START, BENCH_END = "<!-- BENCH:START -->", "<!-- BENCH:END -->"


def _replace_block(readme: Path, block: str) -> None:
    """Swap the text between the BENCH markers of the README (atomically)."""
    text = readme.read_text(encoding="utf-8")
    if BENCH_START not in text or BENCH_END not in text:
        return
    head, rest = text.split(BENCH_START, 1)
    _, tail = rest.split(BENCH_END, 1)
    tmp = readme.with_suffix(".md.tmp")
    tmp.write_text(f"{head}{BENCH_START}\n{block}{BENCH_END}{tail}", encoding="utf-8")
    os.replace(tmp, readme)
