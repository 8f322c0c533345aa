"""Command-line interface: a thin Typer layer over the library API.

Heavy libraries (torch, transformers, mlflow, spacy) are imported inside the commands so
that ``stance --help`` starts fast. Every user-facing error is one line and exit code 2.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from ..config import CHAMPION_URI, DEFAULT_EXPERIMENT, LABELS_DIR, MAX_CHARS

app = typer.Typer(
    help="Track who holds which position in Russia-Ukraine peace-process news.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
labels_app = typer.Typer(
    help="Validate and summarise the labelled corpus; the labelling loop on Label Studio.", no_args_is_help=True
)
app.add_typer(labels_app, name="labels")


def fail(message: str, code: int = 2) -> None:
    """Print one line to stderr and exit: no tracebacks for problems the user can fix."""
    typer.echo(f"stance: error: {message}", err=True)
    raise typer.Exit(code)


class _StderrLines(logging.Handler):
    """Log records as ``stance: message`` lines on whatever ``sys.stderr`` is at the time,
    if it is a terminal: off one (a pipeline, a log) stderr keeps one line per problem."""

    def emit(self, record: logging.LogRecord) -> None:
        if sys.stderr.isatty():
            print(f"stance: {record.getMessage()}", file=sys.stderr, flush=True)


def announce_loading() -> None:
    """Say on a terminal's stderr which model is being loaded (``stance.tracking`` logs it)."""
    logger = logging.getLogger("stance.tracking")
    logger.setLevel(logging.INFO)
    if not any(isinstance(h, _StderrLines) for h in logger.handlers):
        logger.addHandler(_StderrLines())


def _raise_terminated(signum, frame) -> None:
    from ..errors import Terminated

    # A second SIGTERM while cleaning up ends the process at once, as without a handler.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # The language-stage worker processes first: they hold no state, and a process pool's
    # own clean-up would wait for each to finish its batch.
    import multiprocessing

    for worker in multiprocessing.active_children():
        worker.kill()
    raise Terminated()


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM raises :class:`~stance.errors.Terminated` (a KeyboardInterrupt) for the block."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def friendly(func):
    """Turn the library's user-facing errors into one line and a non-zero exit; SIGTERM
    cleans up like Ctrl-C (runs FAILED, temporary files removed) before exiting."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from ..errors import StanceError, Terminated

        try:
            with _sigterm_as_interrupt():
                return func(*args, **kwargs)
        except StanceError as exc:
            fail(str(exc), exc.exit_code)
        except Terminated:
            _interrupted("terminated (SIGTERM)", Terminated.exit_code)
        except KeyboardInterrupt:
            _interrupted("interrupted", 130)

    return wrapper


def _interrupted(message: str, code: int) -> None:
    """Exit after an interrupt, once the command's own clean-up has run.

    Worker processes it started (the language stage) are stopped first. Their queues may
    still hold input that nobody will read, and multiprocessing would wait for those
    forever at exit, so then the process ends without running its exit hooks.
    """
    import multiprocessing

    workers = multiprocessing.active_children()
    for w in workers:
        w.kill()  # stateless parsers: SIGKILL leaves nothing behind and prints nothing
    for w in workers:
        w.join(timeout=5)
    if not any(t.name == "QueueFeederThread" for t in threading.enumerate()):
        fail(message, code)
    typer.echo(f"stance: error: {message}", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


# One declaration per shared option, in one style (Annotated) for every command.
LabelsOpt = Annotated[
    Path,
    typer.Option("--labels", help="Labelled directory (topics.yaml, actors.yaml, positions.jsonl, documents.jsonl)."),
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help=f"Model folder or MLflow URI ({CHAMPION_URI}, runs:/<id>/model; default: models/champion)",
    ),
]
MinConfOpt = Annotated[
    float | None,
    typer.Option(
        "--min-confidence",
        min=0.0,
        max=1.0,
        help="Drop findings whose confidence is below this (default: the model's tuned position threshold).",
    ),
]
DateOpt = Annotated[str | None, typer.Option("--date", help="Date (YYYY-MM-DD) of articles that carry none.")]
ExperimentOpt = Annotated[str, typer.Option("--experiment", "-e", help="MLflow experiment name.")]
ConfigsOpt = Annotated[
    list[Path] | None, typer.Option("--config", "-c", help="Family config file(s); default: every configs/*.yaml.")
]


@labels_app.command("check")
@friendly
def labels_check(labels: LabelsOpt = LABELS_DIR) -> None:
    """Validate every labels file; print file:line: problem for each fault (exit 2)."""
    from ..labels import check

    problems = check(labels)
    for p in problems:
        typer.echo(str(p))
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {labels}", err=True)
        raise typer.Exit(2)
    typer.echo(f"{labels}: OK")


@labels_app.command("stats")
@friendly
def labels_stats(labels: LabelsOpt = LABELS_DIR) -> None:
    """Counts per topic x stance, per split, per side and per actor."""
    from rich.console import Console

    from ..labels import LabelSet, stats
    from .writers import frame_table

    console = Console()
    for title, frame in stats(LabelSet.load(labels)).items():
        console.print(frame_table(frame, title=title))


@labels_app.command("split")
@friendly
def labels_split(
    labels: LabelsOpt = LABELS_DIR,
    seed: Annotated[int, typer.Option(help="Seed of the document order.")] = 13,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            metavar="DOC",
            help="Split only these documents (new ones; repeat or comma-separate); the others keep theirs.",
        ),
    ] = None,
) -> None:
    """(Re)assign train/dev/test by document, deterministic and stratified; rewrites positions.jsonl."""
    from ..labels import resplit

    docs = [d.strip() for arg in only for d in arg.split(",") if d.strip()] if only else None
    counts = resplit(labels, seed=seed, only=docs)
    typer.echo(", ".join(f"{k}: {v} documents" for k, v in counts.items()))


# -- the labelling loop (Label Studio) -----------------------------------------------------
@labels_app.command("suggest")
@friendly
def labels_suggest(
    paths: Annotated[list[str], typer.Argument(metavar="CORPUS...", help="Articles: files, folders, JSONL corpora.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Label Studio tasks (JSON) to write.")] = Path("tasks.json"),
    n: Annotated[int, typer.Option("--n", min=1, help="How many sentences to pick.")] = 200,
    per_article: Annotated[int, typer.Option("--per-article", min=1, help="At most this many from one article.")] = 10,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", "-m", help="Model folder or MLflow URI; repeat it to let families vote (default: champion)."
        ),
    ] = None,
    labels: LabelsOpt = LABELS_DIR,
    date: DateOpt = None,
) -> None:
    """Pick the sentences whose labels would teach the model most; write them as Label Studio tasks."""
    import json

    from ..io import atomic_write
    from ..labels.suggest import suggest
    from ..tracking import quiet_libraries

    quiet_libraries()
    models = list(model or [None])
    found = suggest(
        paths,
        models,
        labels_dir=labels,
        n=n,
        per_article=per_article,
        model_version=", ".join(str(m or "models/champion") for m in models),
        date=date,
        on_problem=lambda p: typer.echo(f"stance: {p}", err=True),
    )
    text = json.dumps(found.tasks(), ensure_ascii=False, indent=1)
    atomic_write(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    typer.echo(
        f"{out}: {len(found.picked)} sentences from {len({c.article for c in found.picked})} of {found.articles} "
        f"articles ({found.sentences} sentences read, {found.skipped_labelled} already in {labels})"
    )


@labels_app.command("config")
@friendly
def labels_config(
    labels: LabelsOpt = LABELS_DIR,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Write the Label Studio labelling config (XML) from topics.yaml and actors.yaml."""
    from ..labels.registry import Registry
    from ..labels.studio import labelling_config

    xml = labelling_config(Registry.load(labels))
    if out is None:
        typer.echo(xml, nl=False)
        return
    from ..io import atomic_write

    atomic_write(out, lambda tmp: tmp.write_text(xml, encoding="utf-8"))
    typer.echo(str(out))


@labels_app.command("import")
@friendly
def labels_import(
    export: Annotated[Path, typer.Argument(metavar="EXPORT.json", help="A Label Studio JSON export.")],
    labels: LabelsOpt = LABELS_DIR,
    seed: Annotated[int, typer.Option(help="Seed of the split of new articles.")] = 13,
) -> None:
    """Add a Label Studio export to positions.jsonl and documents.jsonl, checked like `labels check`."""
    from ..labels.imports import import_export

    r = import_export(export, labels, seed=seed)
    splits = ", ".join(f"{k}: {v}" for k, v in sorted(r.splits.items())) or "none"
    typer.echo(
        f"{r.import_id or 'nothing new'}: added {r.items} items ({r.sentences} sentences, "
        f"{len(r.documents)} documents; splits {splits}); {len(r.duplicates)} duplicate(s) refused, "
        f"{r.unlabelled} task(s) not annotated yet"
    )
    for why in r.duplicates:
        typer.echo(f"  refused: {why}")
    if r.proposed:
        typer.echo(
            f"{r.held_back} sentence(s) held back: their holders are new ({', '.join(r.proposed)}). Review "
            f"{labels / 'actors.proposed.yaml'}, move the actors you accept into {labels / 'actors.yaml'}, "
            "and run this import again."
        )


@labels_app.command("studio")
@friendly
def labels_studio(
    tasks: Annotated[
        Path | None, typer.Option("--tasks", help="Tasks from `stance labels suggest` to add to the project.")
    ] = None,
    labels: LabelsOpt = LABELS_DIR,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 8080,
    data: Annotated[
        Path | None, typer.Option("--data", help="Label Studio's data folder (default .label-studio/).")
    ] = None,
) -> None:
    """Start Label Studio on 127.0.0.1, create or open the project, and wait (Ctrl-C stops it)."""
    import json
    import signal
    import time

    from ..labels.registry import Registry
    from ..labels.server import STUDIO_DATA, LabelStudio

    def interrupt(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)  # `kill` stops Label Studio too, as Ctrl-C does
    from ..labels.studio import PROJECT_TITLE, labelling_config

    studio = LabelStudio(data or STUDIO_DATA, port=port)
    typer.echo(f"starting Label Studio on {studio.url} (data in {studio.data_dir}) ...", err=True)
    with studio:
        client = studio.client()
        project = client.project(PROJECT_TITLE, labelling_config(Registry.load(labels)))
        added = client.import_tasks(project["id"], json.loads(tasks.read_text(encoding="utf-8"))) if tasks else 0
        typer.echo(
            f"Label Studio: {studio.url}/projects/{project['id']}/data  (log in as {studio.login.email}, "
            f"password {studio.login.password})\n"
            + (f"added {added} tasks\n" if tasks else "")
            + "Next: correct the pre-filled positions of each task and submit; then in Label Studio "
            "Export → JSON, and run `stance labels import EXPORT.json`, `stance labels check`, `stance train`.\n"
            "Ctrl-C stops Label Studio (your work stays in the data folder)."
        )
        try:
            while studio.process and studio.process.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            typer.echo("stopping Label Studio", err=True)


@app.command("train")
@friendly
def train_cmd(
    labels: LabelsOpt = LABELS_DIR,
    config: ConfigsOpt = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Family name(s) from configs/ (baseline, embedding, transformer)."),
    ] = None,
    experiment: ExperimentOpt = DEFAULT_EXPERIMENT,
    register: Annotated[bool, typer.Option(help=f"Register the best run as {CHAMPION_URI}.")] = True,
    export: Annotated[bool, typer.Option(help="Export the champion to models/champion.")] = True,
) -> None:
    """Train the model families, track every run in MLflow, register and export the champion.

    Progress (each family, its steps and ETA) goes to stderr; the results table to stdout.
    """
    from rich.console import Console

    from ..config import CHAMPION_DIR, CONFIGS_DIR, tracking_uri
    from ..tracking import quiet_libraries
    from ..training.train import train
    from .progress import TrainDisplay

    quiet_libraries()
    paths = list(config or [])
    for name in model or []:
        path = CONFIGS_DIR / f"{name}.yaml"
        if not path.exists():
            available = ", ".join(p.stem for p in sorted(CONFIGS_DIR.glob("*.yaml")))
            fail(f"no config for model {name!r} ({path}); available: {available}")
        paths.append(path)
    display = TrainDisplay()
    try:
        result = train(
            labels,
            configs=paths or None,
            experiment=experiment,
            register=register,
            export_dir=CHAMPION_DIR if export else None,
            monitor=display,
        )
    finally:
        display.close()
    from .writers import frame_table

    console = Console()
    console.print(frame_table(result.table().T, title=f"Runs (parent {result.parent_run_id}) in {tracking_uri()}"))
    if result.champion:
        where = f" → {CHAMPION_URI} (v{result.champion_version})" if result.champion_version else ""
        console.print(f"champion: {result.champion.name}{where}" + (f", exported to {CHAMPION_DIR}" if export else ""))
        if result.pipeline_version or export:
            from ..config import PIPELINE_URI
            from ..training.train import pipeline_export_dir

            where = f" {PIPELINE_URI} (v{result.pipeline_version})" if result.pipeline_version else ""
            exported = f", exported to {pipeline_export_dir(CHAMPION_DIR)}" if export else ""
            console.print(f"article-level model:{where}{exported}")


@app.command("report")
@friendly
def report_cmd(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Findings .jsonl (from `stance score --format jsonl`) or articles to score: "
            "files, folders, JSONL corpora, '-' for stdin."
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The HTML report: one self-contained file that works offline.")
    ] = Path("report.html"),
    png: Annotated[Path | None, typer.Option("--png", help="Also write the figures as PNG into this folder.")] = None,
    graphml: Annotated[
        Path | None, typer.Option("--graphml", help="Also write the actor-topic network as GraphML (Gephi, Cytoscape).")
    ] = None,
    model: ModelOpt = None,
    labels: LabelsOpt = LABELS_DIR,
    date: DateOpt = None,
    title: Annotated[str, typer.Option("--title", help="Heading of the report.")] = "Who holds which position",
    min_confidence: MinConfOpt = 0.0,
) -> None:
    """Build the corpus report: actor x topic heatmap, side roll-up, timelines, position changes."""
    from ..labels.registry import Registry
    from ..report import Report, gather_findings
    from ..tracking import quiet_libraries

    quiet_libraries()
    announce_loading()
    registry = Registry.load(labels) if (labels / "actors.yaml").exists() else None
    if registry is None and labels != LABELS_DIR:
        fail(f"{labels}: no actors.yaml (the actor registry): pass --labels DIR")
    gathered = gather_findings(
        paths,
        model=model,
        registry=registry or labels,
        date=date,
        min_confidence=min_confidence,
        on_problem=lambda p: typer.echo(f"stance: {p}", err=True),
    )
    if not gathered.findings and gathered.problems and not gathered.articles_scored:
        fail(f"nothing could be scored ({len(gathered.problems)} input(s) failed)")
    if not gathered.findings and min_confidence > 0:
        fail(f"no findings with confidence >= {min_confidence}: lower --min-confidence")
    report = Report(gathered.findings, registry, title)
    written = [report.write_html(out)]
    if png:
        written += report.write_pngs(png)
    if graphml:
        written.append(report.write_graphml(graphml))
    s = report.summary()
    typer.echo(
        f"{s['findings']} findings, {s['articles']} articles, {s['actors']} actors, "
        f"{s['position changes']} position change(s)",
        err=True,
    )
    for path in written:
        typer.echo(str(path))
    if gathered.problems:
        typer.echo(f"stance: {len(gathered.problems)} input(s) failed; the report covers the rest", err=True)
        raise typer.Exit(1)


_FORMAT_BY_SUFFIX = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".txt": "table"}


@app.command("score")
@friendly
def score_cmd(
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH...",
            help="Text, Markdown or HTML files, JSONL corpora (one article a line), "
            "folders (recursively), or - for stdin.",
        ),
    ],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="table | jsonl | csv | json (default: table on a terminal, else from the --out suffix, else jsonl)",
        ),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            "-o",
            help="Write to this file (atomically) instead of stdout; with --engine spark: the OUTPUT folder/URI.",
        ),
    ] = None,
    model: ModelOpt = None,
    min_confidence: MinConfOpt = None,
    date: DateOpt = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Stop at the first bad input (exit 2) instead of skipping it.")
    ] = False,
    labels: LabelsOpt = LABELS_DIR,
    max_chars: Annotated[
        int,
        typer.Option("--max-chars", min=1000, help="Score at most this many characters of an article (cut beyond)."),
    ] = MAX_CHARS,
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes",
            min=1,
            help="Language-stage worker processes (spaCy, actors, holders) for inputs of more than "
            "one batch (default: one per core; a single batch is always analysed in-process).",
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine", help="local (this process) | spark (INPUT: a JSONL/Parquet corpus; --out: Parquet tables)."
        ),
    ] = "local",
    master: Annotated[
        str | None,
        typer.Option("--master", help="With --engine spark: local[*] (default), spark://host:7077, yarn, k8s://..."),
    ] = None,
) -> None:
    """Score articles: who holds which position on each issue, with evidence.

    Exit 0 when every input was scored, 1 when some failed and the rest were scored,
    2 when nothing could be scored.
    """
    import os

    if engine == "spark":
        return _score_on_spark(paths, out, fmt, model, labels, master, min_confidence)
    if engine != "local":
        fail(f"--engine {engine!r}: choose local or spark")
    if master is not None:
        fail("--master goes with --engine spark")
    out = Path(out) if out is not None else None

    from ..io import atomic_output
    from ..pipeline.scoring import expected_articles, score_corpus
    from ..tracking import quiet_libraries
    from .progress import ScoreDisplay
    from .writers import FORMATS, default_format, make_writer

    quiet_libraries()  # MLflow and transformers would log to stderr while loading a model
    announce_loading()
    if fmt is None:
        fmt = _FORMAT_BY_SUFFIX.get(out.suffix.lower(), "jsonl") if out else default_format()
    fmt = fmt.lower()
    if fmt not in FORMATS:
        fail(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    progress = ScoreDisplay(lambda: expected_articles(paths))
    corpus = score_corpus(
        paths,
        model=model,
        registry=labels,
        min_confidence=min_confidence,
        date=date,
        strict=strict,
        max_chars=max_chars,
        on_problem=lambda p: progress.echo(f"stance: {p}"),
        n_process=processes,
    )
    try:
        with atomic_output(out) as stream:
            writer = make_writer(fmt, stream, corpus.scorer.topics, registry=corpus.scorer.registry)
            for result in corpus:
                writer.article(result)
                progress.update(corpus.n_articles, corpus.n_sentences, len(corpus.errors))
            progress.close()
            if corpus.n_articles == 0:
                fail(f"nothing could be scored ({len(corpus.errors)} input(s) failed)")
            writer.finish(corpus)
    except BrokenPipeError:
        # The reader went away (`stance score ... | head`): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    finally:
        progress.close()
    if out is not None:
        typer.echo(f"{out}: {corpus.n_articles} articles, {corpus.n_findings} findings", err=True)
    if corpus.errors:
        typer.echo(f"stance: {len(corpus.errors)} input(s) failed; scored {corpus.n_articles} article(s)", err=True)
        raise typer.Exit(1)


def _score_on_spark(paths, out, fmt, model, labels, master, min_confidence) -> None:
    """``stance score --engine spark INPUT --out OUTPUT``: the same findings, on Spark."""
    from ..engines.spark import TABLES, score_on_spark
    from ..tracking import quiet_libraries

    if len(paths) != 1 or paths[0] == "-":
        fail("--engine spark scores one INPUT (a JSONL or Parquet corpus, a file, folder or URI)")
    if not out:
        fail("--engine spark needs --out OUTPUT (a folder or URI for the Parquet tables)")
    if fmt is not None and fmt.lower() != "parquet":
        fail(f"--format {fmt}: --engine spark writes Parquet tables")
    quiet_libraries()
    run = score_on_spark(paths[0], out, model, labels, master=master, min_confidence=min_confidence)
    typer.echo(
        f"{run.output}: {run.scored} of {run.articles} articles scored, {run.findings} findings, "
        f"{run.problems} problem(s) on {run.master} in {run.seconds:.1f} s ({', '.join(TABLES)})",
        err=True,
    )
    if run.scored == 0:
        fail(f"nothing could be scored ({run.problems} article(s) failed; see {out}/problems)")
    if run.problems:
        typer.echo(f"stance: {run.problems} article(s) failed; see {out}/problems", err=True)
        raise typer.Exit(1)


@app.command("evaluate")
@friendly
def evaluate_cmd(
    labels: LabelsOpt = LABELS_DIR,
    model: ModelOpt = None,
    split: Annotated[str, typer.Option("--split", help="Which labelled documents: train, dev or test.")] = "test",
    experiment: ExperimentOpt = DEFAULT_EXPERIMENT,
    no_mlflow: Annotated[bool, typer.Option("--no-mlflow", help="Print the figures only; log nothing.")] = False,
    min_confidence: MinConfOpt = None,
    articles: Annotated[
        Path | None,
        typer.Option("--articles", help="Evaluate on your own gold-labelled articles: the folder of article files."),
    ] = None,
    gold: Annotated[
        Path | None, typer.Option("--gold", help="With --articles: the gold JSONL (one line per position or sentence).")
    ] = None,
) -> None:
    """Evaluate the whole scoring pipeline on labelled documents (rebuilt from their sentences).

    Article-level actor x topic stance F1, sentence-level (actor, topic, stance) F1 and
    attribution accuracy; logged to MLflow unless --no-mlflow.
    """
    from rich.console import Console

    from ..tracking import quiet_libraries
    from ..training.evaluate import evaluate_pipeline, log_report
    from .writers import frame_table

    quiet_libraries()
    announce_loading()
    if articles is not None or gold is not None:
        from ..training.evaluate_articles import evaluate_articles, log_articles_report

        if articles is None or gold is None:
            fail("--articles and --gold go together: the article folder and its gold JSONL")
        found = evaluate_articles(articles, gold, model=model, registry=labels, min_confidence=min_confidence)
        title = f"evaluation on {found.articles} gold-labelled articles ({found.gold_positions} positions)"
        Console().print(frame_table(found.frame(), title=title))
        if not no_mlflow:
            typer.echo(
                f"logged to MLflow run {log_articles_report(found, experiment, str(articles), str(gold))}", err=True
            )
        return
    report = evaluate_pipeline(labels, model=model, split=split, min_confidence=min_confidence)
    title = f"pipeline evaluation: {split} split, {report.documents} documents"
    Console().print(frame_table(report.frame(), title=title))
    if not no_mlflow:
        run_id = log_report(report, experiment)
        typer.echo(f"logged to MLflow run {run_id}", err=True)


@app.command("bench")
@friendly
def bench_cmd(
    labels: LabelsOpt = LABELS_DIR,
    config: ConfigsOpt = None,
    articles: Annotated[int, typer.Option(help="Articles to score per model (cycled from examples/).")] = 200,
    out: Annotated[Path | None, typer.Option(help="Results folder (default: benchmarks/).")] = None,
    readme: Annotated[bool, typer.Option(help="Rewrite the README's results block.")] = True,
    spark_articles: Annotated[
        int, typer.Option(help="Articles for the Spark local[2] against one-process comparison (0: skip).")
    ] = 2000,
) -> None:
    """Benchmark: train every family, then measure test metrics, scoring speed, memory, start-up."""
    from ..config import PROJECT_ROOT, RESULTS_DIR
    from ..tracking import quiet_libraries
    from ..training.bench import results_markdown, run_benchmarks

    quiet_libraries()
    results = run_benchmarks(
        labels,
        configs=config or None,
        n_articles=articles,
        out_dir=out or RESULTS_DIR,
        readme=PROJECT_ROOT / "README.md" if readme else None,
        n_spark_articles=spark_articles,
    )
    typer.echo(results_markdown(results))


def main() -> None:  # pragma: no cover - console entry point convenience
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
