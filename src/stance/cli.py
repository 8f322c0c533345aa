"""Command-line interface: a thin Typer layer over the library API.

Heavy libraries (torch, transformers, mlflow, spacy) are imported inside the commands so
that ``stance --help`` starts fast. Every user-facing error is one line and exit code 2.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Annotated

import typer

from .config import LABELS_DIR

app = typer.Typer(
    help="Track who holds which position in Russia-Ukraine peace-process news.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
labels_app = typer.Typer(help="Validate and summarise the labelled corpus.", no_args_is_help=True)
app.add_typer(labels_app, name="labels")


def fail(message: str, code: int = 2) -> None:
    """Print one line to stderr and exit: no tracebacks for problems the user can fix."""
    typer.echo(f"stance: error: {message}", err=True)
    raise typer.Exit(code)


def friendly(func):
    """Turn the library's user-facing errors into one line and a non-zero exit."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from .errors import StanceError

        try:
            return func(*args, **kwargs)
        except StanceError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted", 130)

    return wrapper


LabelsOpt = typer.Option(LABELS_DIR, "--labels", help="Labelled directory (topics.yaml, actors.yaml, positions.jsonl).")


@labels_app.command("check")
@friendly
def labels_check(labels: Path = LabelsOpt) -> None:
    """Validate every labels file; print file:line: problem for each fault (exit 2)."""
    from .labels import check

    problems = check(labels)
    for p in problems:
        typer.echo(str(p))
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {labels}", err=True)
        raise typer.Exit(2)
    typer.echo(f"{labels}: OK")


@labels_app.command("stats")
@friendly
def labels_stats(labels: Path = LabelsOpt) -> None:
    """Counts per topic x stance, per split, per side and per actor."""
    from rich.console import Console

    from .labels import LabelSet, stats
    from .tables import frame_table

    console = Console()
    for title, frame in stats(LabelSet.load(labels)).items():
        console.print(frame_table(frame, title=title))


@labels_app.command("split")
@friendly
def labels_split(labels: Path = LabelsOpt, seed: int = typer.Option(13, help="Seed of the document order.")) -> None:
    """(Re)assign train/dev/test by document, deterministic and stratified; rewrites positions.jsonl."""
    from .labels import resplit

    counts = resplit(labels, seed=seed)
    typer.echo(", ".join(f"{k}: {v} documents" for k, v in counts.items()))


@app.command("train")
@friendly
def train_cmd(
    labels: Path = LabelsOpt,
    config: list[Path] | None = typer.Option(
        None, "--config", "-c", help="Family config file(s); default: every configs/*.yaml."
    ),
    model: list[str] | None = typer.Option(
        None, "--model", "-m", help="Family name(s) from configs/ (baseline, embedding, transformer)."
    ),
    experiment: str = typer.Option("stance", "--experiment", "-e", help="MLflow experiment name."),
    register: bool = typer.Option(True, help="Register the best run as stance-classifier@champion."),
    export: bool = typer.Option(True, help="Export the champion to models/champion."),
) -> None:
    """Train the model families, track every run in MLflow, register and export the champion."""
    import logging

    from rich.console import Console

    from .config import CHAMPION_DIR, CONFIGS_DIR, tracking_uri
    from .tracking import quiet_libraries
    from .training import train

    quiet_libraries()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    paths = list(config or [])
    for name in model or []:
        path = CONFIGS_DIR / f"{name}.yaml"
        if not path.exists():
            available = ", ".join(p.stem for p in sorted(CONFIGS_DIR.glob("*.yaml")))
            fail(f"no config for model {name!r} ({path}); available: {available}")
        paths.append(path)
    result = train(
        labels,
        configs=paths or None,
        experiment=experiment,
        register=register,
        export_dir=CHAMPION_DIR if export else None,
    )
    from .tables import frame_table

    console = Console()
    console.print(frame_table(result.table().T, title=f"Runs (parent {result.parent_run_id}) in {tracking_uri()}"))
    if result.champion:
        where = f" → models:/stance-classifier@champion (v{result.champion_version})" if result.champion_version else ""
        console.print(f"champion: {result.champion.name}{where}" + (f", exported to {CHAMPION_DIR}" if export else ""))


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
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Model for scoring: folder or MLflow URI (default: models/champion)."),
    ] = None,
    labels: Annotated[
        Path, typer.Option("--labels", help="Labelled directory: its actors.yaml names the actors.")
    ] = LABELS_DIR,
    date: Annotated[str | None, typer.Option("--date", help="Date (YYYY-MM-DD) for articles that carry none.")] = None,
    title: Annotated[str, typer.Option("--title", help="Heading of the report.")] = "Who holds which position",
) -> None:
    """Build the corpus report: actor x topic heatmap, side roll-up, timelines, position changes."""
    from .registry import Registry
    from .report import Report, gather_findings
    from .tracking import quiet_libraries

    quiet_libraries()
    registry = Registry.load(labels) if (labels / "actors.yaml").exists() else None
    if registry is None and labels != LABELS_DIR:
        fail(f"{labels}: no actors.yaml (the actor registry): pass --labels DIR")
    gathered = gather_findings(
        paths,
        model=model,
        registry=registry or labels,
        date=date,
        on_problem=lambda p: typer.echo(f"stance: {p}", err=True),
    )
    if not gathered.findings and gathered.problems and not gathered.articles_scored:
        fail(f"nothing could be scored ({len(gathered.problems)} input(s) failed)")
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


# -- scoring and end-to-end evaluation (issue 4) ---------------------------------------------
_FORMAT_BY_SUFFIX = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".txt": "table"}
_ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Model folder or MLflow URI (models:/stance-classifier@champion, "
        "runs:/<id>/model; default: models/champion)",
    ),
]
_MinConfOpt = Annotated[
    float, typer.Option("--min-confidence", min=0.0, max=1.0, help="Drop findings whose confidence is below this.")
]


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
        Path | None, typer.Option("--out", "-o", help="Write to this file (atomically) instead of stdout.")
    ] = None,
    model: _ModelOpt = None,
    min_confidence: _MinConfOpt = 0.0,
    date: Annotated[str | None, typer.Option("--date", help="Date (YYYY-MM-DD) of articles that carry none.")] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Stop at the first bad input (exit 2) instead of skipping it.")
    ] = False,
    labels: Annotated[
        Path, typer.Option("--labels", help="Labels folder whose actors.yaml is the actor registry.")
    ] = LABELS_DIR,
    max_chars: Annotated[
        int,
        typer.Option("--max-chars", min=1000, help="Score at most this many characters of an article (cut beyond)."),
    ] = 1_000_000,
) -> None:
    """Score articles: who holds which position on each issue, with evidence.

    Exit 0 when every input was scored, 1 when some failed and the rest were scored,
    2 when nothing could be scored.
    """
    import os

    from .formats import FORMATS, ProgressReporter, atomic_output, default_format, make_writer
    from .scoring import score_corpus
    from .tracking import quiet_libraries

    quiet_libraries()  # MLflow and transformers would log to stderr while loading a model
    if fmt is None:
        fmt = _FORMAT_BY_SUFFIX.get(out.suffix.lower(), "jsonl") if out else default_format()
    fmt = fmt.lower()
    if fmt not in FORMATS:
        fail(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    progress = ProgressReporter()
    corpus = score_corpus(
        paths,
        model=model,
        registry=labels,
        min_confidence=min_confidence,
        date=date,
        strict=strict,
        max_chars=max_chars,
        on_problem=lambda p: progress.echo(f"stance: {p}"),
    )
    try:
        with atomic_output(out) as stream:
            writer = make_writer(fmt, stream, corpus.scorer.topics)
            for result in corpus:
                writer.article(result)
                progress.update(corpus.n_articles, corpus.n_sentences)
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


@app.command("evaluate")
@friendly
def evaluate_cmd(
    labels: Annotated[
        Path,
        typer.Option(
            "--labels",
            help="Labelled directory (topics.yaml, actors.yaml, positions.jsonl).",
        ),
    ] = LABELS_DIR,
    model: _ModelOpt = None,
    split: Annotated[str, typer.Option("--split", help="Which labelled documents: train, dev or test.")] = "test",
    experiment: Annotated[str | None, typer.Option("--experiment", help="MLflow experiment (default: stance).")] = None,
    no_mlflow: Annotated[bool, typer.Option("--no-mlflow", help="Print the figures only; log nothing.")] = False,
    min_confidence: _MinConfOpt = 0.0,
) -> None:
    """Evaluate the whole scoring pipeline on labelled documents (rebuilt from their sentences).

    Article-level actor x topic stance F1, sentence-level (actor, topic, stance) F1 and
    attribution accuracy; logged to MLflow unless --no-mlflow.
    """
    from rich.console import Console

    from .config import DEFAULT_EXPERIMENT
    from .evaluation_pipeline import evaluate, log_report
    from .tables import frame_table
    from .tracking import quiet_libraries

    quiet_libraries()
    report = evaluate(labels, model=model, split=split, min_confidence=min_confidence)
    title = f"pipeline evaluation: {split} split, {report.documents} documents"
    Console().print(frame_table(report.frame(), title=title))
    if not no_mlflow:
        run_id = log_report(report, experiment or DEFAULT_EXPERIMENT)
        typer.echo(f"logged to MLflow run {run_id}", err=True)


@app.command("bench")
@friendly
def bench_cmd(
    labels: Path = LabelsOpt,
    config: list[Path] | None = typer.Option(None, "--config", "-c", help="Family configs (default: all)."),
    articles: int = typer.Option(200, help="Articles to score per model (cycled from examples/)."),
    out: Path | None = typer.Option(None, help="Results folder (default: benchmarks/)."),
    readme: bool = typer.Option(True, help="Rewrite the README's results block."),
) -> None:
    """Benchmark: train every family, then measure test metrics, scoring speed, memory, start-up."""
    from .benchmark import results_markdown, run_benchmarks
    from .config import PROJECT_ROOT, RESULTS_DIR
    from .tracking import quiet_libraries

    quiet_libraries()
    results = run_benchmarks(labels, configs=config or None, n_articles=articles, out_dir=out or RESULTS_DIR,
                             readme=PROJECT_ROOT / "README.md" if readme else None)
    typer.echo(results_markdown(results))


def main() -> None:  # pragma: no cover - console entry point convenience
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
