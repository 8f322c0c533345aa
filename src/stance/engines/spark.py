"""Batch scoring on Apache Spark: ``stance score --engine spark INPUT --out OUTPUT``.

In: an article corpus Spark can read — JSONL (one article a line: ``id``, ``text``,
optional ``title``, ``date``, ``source``, ``url``) or Parquet with those columns, at a
local path or any URI (``s3a://``, ``gs://``, ``hdfs://``, ``abfss://``) — and the
article-level model (``models/pipeline``, ``models:/stance-pipeline@champion``, or any
classifier, wrapped with the actor registry on the driver). Out: Parquet tables under
OUTPUT, each written by Spark's own committer:

- ``findings``: the ``stance score --format jsonl`` records, in input order;
- ``articles``: one row per input article with its counts and ``problem`` (null if scored);
- ``problems``: the articles that could not be read or scored, and why;
- ``actor_topic``, ``sides``, ``actor_topic_by_date``, ``sides_by_date``: the corpus
  tables of ``stance score --format json``, voted by the same code.

``OUTPUT/_SUCCESS`` is written last, once every table is complete; a failed job leaves
none. The model is shipped to the executors with ``SparkContext.addFile`` and loaded once
per Python worker process (:data:`_MODELS`), not once per batch; ``mapInPandas`` hands it
the articles in Arrow batches. A bad article is a row of ``problems``, never a failed job.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import StanceError

INPUT_FIELDS = ("id", "text", "title", "date", "source", "url")
CORRUPT = "_corrupt_record"
ORDER = "_order"
TABLES = ("findings", "articles", "problems", "actor_topic", "sides", "actor_topic_by_date", "sides_by_date")
# Which corpus table each output folder holds (CorpusTally.summary keys) and what it is grouped by.
CORPUS_TABLES = {
    "actor_topic": ("positions", "actor"),
    "sides": ("sides", "rollup"),
    "actor_topic_by_date": ("positions_by_date", "actor"),
    "sides_by_date": ("sides_by_date", "rollup"),
}
ROW_FIELDS = ("article", "title", "date", "source", "url", "sentences", "findings", "warnings", "problem")
BATCH_ARTICLES = 256  # articles per Arrow batch handed to the model (bounds worker memory)

_MODELS: dict[str, Any] = {}  # per Python worker process: the loaded model, by shipped name
_SHIPPED: dict[tuple, str] = {}  # on the driver: (application, model folder, version) → shipped name


@dataclass
class SparkRun:
    """What a Spark scoring job did."""

    output: str
    articles: int  # input rows
    scored: int
    findings: int
    problems: int
    seconds: float
    master: str


# -- schemas ----------------------------------------------------------------------------
def _finding_type():
    from pyspark.sql.types import BooleanType, DoubleType, LongType, StringType, StructField, StructType

    from ..pipeline.findings import record_types

    spark = {"string": StringType(), "long": LongType(), "double": DoubleType(), "boolean": BooleanType()}
    return StructType([StructField(k, spark[t]) for k, t in record_types().items()])


def _scored_schema():
    from pyspark.sql.types import ArrayType, LongType, StringType, StructField, StructType

    return StructType(
        [
            StructField(ORDER, LongType()),
            StructField("article", StringType()),
            *(StructField(k, StringType()) for k in ("title", "date", "source", "url")),
            StructField("sentences", LongType()),
            StructField("findings", ArrayType(_finding_type())),
            StructField("warnings", ArrayType(StringType())),
            StructField("problem", StringType()),
        ]
    )


def _position_schema():
    from pyspark.sql.types import DoubleType, LongType, MapType, StringType, StructField, StructType

    from ..pipeline.findings import Position

    types = {"confidence": DoubleType(), "weights": MapType(StringType(), DoubleType())}
    types |= {k: LongType() for k in ("sentences", "findings", "evidence_sentence", "articles")}
    return StructType([StructField(k, types.get(k, StringType())) for k in Position.__dataclass_fields__])


# -- on the executors -------------------------------------------------------------------
def _model(name: str):
    """The shipped model, loaded on first use in this worker process and kept."""
    if name not in _MODELS:
        import mlflow.pyfunc
        from pyspark import SparkFiles

        _MODELS[name] = mlflow.pyfunc.load_model(SparkFiles.get(name))
    return _MODELS[name]


def score_batches(model_name: str, min_confidence: float | None):
    """The ``mapInPandas`` function: article batches in, one scored row per article out."""

    def score(batches: Iterator) -> Iterator:
        for pdf in batches:
            yield _score_batch(_model(model_name), pdf, min_confidence)

    return score


def _score_batch(model, pdf, min_confidence: float):
    import pandas as pd

    out = pd.DataFrame({ORDER: pdf[ORDER].to_numpy()})
    corrupt = pdf[CORRUPT].notna() if CORRUPT in pdf else pd.Series(False, index=pdf.index)
    articles = pdf.loc[~corrupt, list(INPUT_FIELDS)].astype(object)
    articles = articles.where(articles.notna(), None)
    for required in ("id", "text"):
        articles[required] = articles[required].map(lambda v: "" if v is None else v)
    scored = _predict(model, articles.reset_index(drop=True), min_confidence)
    columns = list(ROW_FIELDS)
    frame = pd.DataFrame(index=range(len(pdf)), columns=columns, dtype=object)
    frame.loc[(~corrupt).to_numpy(), columns] = scored[columns].to_numpy()
    frame = frame.where(frame.notna(), None)  # pandas' NaN is not a Spark null
    for i in range(len(pdf)):
        if corrupt.iloc[i]:
            line = str(pdf[CORRUPT].iloc[i])[:60]
            frame.loc[i] = [None] * len(columns)
            frame.at[i, "problem"] = f"input row {line!r}: invalid JSON: fix or remove the line"
        for key in ("findings", "warnings"):
            if not isinstance(frame.at[i, key], list):
                frame.at[i, key] = []
    for key, value in frame.items():
        out[key] = value.to_numpy()
    return out


def _predict(model, articles, min_confidence: float):
    """The model's rows; a batch that fails as a whole is retried article by article, so
    the one bad article becomes a problem row and the rest are scored."""
    import pandas as pd

    params = {"on_error": "record", "min_confidence": float(min_confidence or 0.0)}
    if articles.empty:
        return pd.DataFrame(columns=list(ROW_FIELDS))
    try:
        return model.predict(articles, params=params)
    except Exception:  # noqa: BLE001 - retried per article below
        pass
    rows = []
    for i in range(len(articles)):
        one = articles.iloc[[i]].reset_index(drop=True)
        try:
            rows.append(model.predict(one, params=params))
        except Exception as exc:  # noqa: BLE001 - one article's failure is its problem row
            reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            rows.append(
                pd.DataFrame(
                    [
                        {
                            "article": one.at[0, "id"],
                            "findings": [],
                            "warnings": [],
                            "problem": f"could not be scored ({reason})",
                        }
                    ]
                )
            )
    return pd.concat(rows, ignore_index=True).reindex(columns=list(ROW_FIELDS))


def tally_groups(table: str):
    """The ``applyInPandas`` function for one corpus table: a group's findings (in input
    order) through :class:`~stance.pipeline.findings.CorpusTally`, the one vote."""

    def tally(pdf):
        import pandas as pd

        from ..pipeline.findings import CorpusTally, Finding, Position

        tallied = CorpusTally()
        pdf = pdf.sort_values([ORDER, "_pos"]).astype(object)
        for rec in pdf.where(pdf.notna(), None).to_dict(orient="records"):
            tallied.add(Finding.model_validate(rec))
        rows = [p.to_dict() for p in tallied.summary()[table]]
        return pd.DataFrame(rows, columns=list(Position.__dataclass_fields__))

    return tally


# -- on the driver ----------------------------------------------------------------------
def spark_session(master: str | None = None, app_name: str = "stance-score"):
    """The active session (``spark-submit`` made one), else a new one on ``master``
    (default ``local[*]``). Local workers run this Python, so they see this install."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise StanceError("pyspark is not installed: pip install 'stance[spark]' (or run `make install`)") from exc
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    builder = SparkSession.builder.appName(app_name)
    if master is None and os.environ.get("PYSPARK_GATEWAY_PORT"):
        master = "spark-submit"  # spark-submit started the JVM: its --master and --conf stand
    else:
        master = master or "local[*]"
        builder = builder.master(master)
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    builder = builder.config("spark.sql.execution.arrow.maxRecordsPerBatch", str(BATCH_ARTICLES))
    if master.startswith("local"):
        # PySpark starts local workers with PYSPARK_PYTHON (default: python3 on PATH).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        # A few findings per article: Spark's 200 shuffle partitions would be 200 tiny tasks.
        shuffle = str(2 * (os.cpu_count() or 2))
        builder = builder.config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", shuffle)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # Java missing, bad master URL: Spark raises many types
        raise StanceError(f"cannot start Spark on {master}: {_first_line(exc)} (Spark needs Java 17)") from exc
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def resolve_pipeline_model(model=None, registry=None, workdir: Path | None = None) -> Path:
    """A local folder of the article-level model for ``model``: the exported pipeline
    (None), a pipeline model folder or URI as is, or a classifier (folder or URI) wrapped
    with the actor registry (``registry``: a labels folder, default ``labels/``)."""
    from ..config import LABELS_DIR, PIPELINE_DIR
    from ..models.pipeline_model import REGISTRY_ARTIFACT

    if model is None:
        if not (PIPELINE_DIR / "MLmodel").exists():
            raise StanceError(f"no article-level model at {PIPELINE_DIR}: run `make train` or pass --model")
        return PIPELINE_DIR
    path = Path(str(model))
    if not path.exists():
        if "://" not in str(model) and not str(model).startswith(("models:", "runs:")):
            raise StanceError(f"model not found: {model} (pass a folder or an MLflow model URI)")
        path = _download(str(model))
    if (path / "MLmodel").exists() and (path / "artifacts" / REGISTRY_ARTIFACT).is_dir():
        return path
    from ..tracking import load_classifier, save_pipeline_model

    classifier = load_classifier(path)
    labels = Path(registry) if registry is not None else LABELS_DIR
    if not (labels / "actors.yaml").exists():
        raise StanceError(f"{labels}: no actors.yaml (the actor registry): pass --labels DIR")
    workdir = workdir or Path(tempfile.mkdtemp(prefix="stance-spark-"))
    classifier_dir = classifier.save(workdir / "classifier")
    return save_pipeline_model(workdir / "pipeline", classifier_dir, labels)


def _download(uri: str) -> Path:
    import mlflow

    from ..config import tracking_uri
    from ..tracking import _model_artifact_uri, quiet_libraries

    quiet_libraries()
    mlflow.set_tracking_uri(tracking_uri())
    try:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=_model_artifact_uri(uri)))
    except Exception as exc:
        raise StanceError(f"cannot load model {uri}: {_first_line(exc)}") from exc


def ship_model(spark, model_dir: Path) -> str:
    """Send the model folder to every executor once per application; its name there.

    Each model gets a name of its own (Spark refuses one name for two paths), and the
    same folder in the same application keeps its name, so the workers' cache still holds
    it for the next job.
    """
    model_dir = Path(model_dir).resolve()
    key = (spark.sparkContext.applicationId, str(model_dir), (model_dir / "MLmodel").stat().st_mtime_ns)
    if key not in _SHIPPED:
        staged = Path(tempfile.mkdtemp(prefix="stance-ship-")) / f"stance-model-{uuid.uuid4().hex[:12]}"
        shutil.copytree(model_dir, staged)
        atexit.register(shutil.rmtree, staged.parent, True)
        spark.sparkContext.addFile(str(staged), recursive=True)
        _SHIPPED[key] = staged.name
    return _SHIPPED[key]


def read_corpus(spark, source: str):
    """INPUT as a frame of the article fields (strings, null where absent) in input order."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    kind = _input_kind(source)
    try:
        if kind == "json":
            schema = StructType([StructField(k, StringType()) for k in (*INPUT_FIELDS, CORRUPT)])
            frame = spark.read.schema(schema).option("mode", "PERMISSIVE").json(source)
        else:
            frame = spark.read.parquet(source)
            if "text" not in frame.columns:
                raise StanceError(f"{source}: no 'text' column (Parquet articles need id and text)")
            frame = frame.select(
                *(
                    F.col(k).cast("string") if k in frame.columns else F.lit(None).cast("string").alias(k)
                    for k in INPUT_FIELDS
                ),
                F.lit(None).cast("string").alias(CORRUPT),
            )
    except StanceError:
        raise
    except Exception as exc:
        raise StanceError(f"cannot read {source}: {_first_line(exc)}") from exc
    return frame.withColumn(ORDER, F.monotonically_increasing_id())


def _input_kind(source: str) -> str:
    name = source.rstrip("/").lower()
    if name.endswith((".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz")):
        return "json"
    if name.endswith(".parquet"):
        return "parquet"
    local = Path(source)
    if "://" not in source and local.is_dir():
        files = [p for p in local.rglob("*") if p.is_file() and not p.name.startswith(("_", "."))]
        if files and all(p.suffix.lower() in {".jsonl", ".json", ".ndjson", ".gz"} for p in files):
            return "json"
        return "parquet"
    if "://" not in source and not local.exists():
        raise StanceError(f"{source}: no such file or folder")
    if "://" in source:
        return "parquet"
    raise StanceError(f"{source}: cannot tell its format; name it .jsonl or .parquet")


def score_on_spark(
    source: str,
    output: str,
    model=None,
    registry=None,
    *,
    master: str | None = None,
    min_confidence: float | None = None,
    spark=None,
) -> SparkRun:
    """Score the corpus at ``source`` on Spark and write the tables under ``output``."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from ..config import AUTHOR

    t0 = time.perf_counter()
    spark = spark or spark_session(master)
    workdir = Path(tempfile.mkdtemp(prefix="stance-spark-"))
    try:
        shipped = ship_model(spark, resolve_pipeline_model(model, registry, workdir))
        corpus = read_corpus(spark, source)
        parallelism = spark.sparkContext.defaultParallelism
        if corpus.rdd.getNumPartitions() < parallelism:
            corpus = corpus.repartition(parallelism)
        scored = corpus.mapInPandas(score_batches(shipped, min_confidence), schema=_scored_schema())
        scored = scored.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            _clear(spark, output)
            findings = scored.select(ORDER, F.posexplode("findings").alias("_pos", "f")).select(ORDER, "_pos", "f.*")
            findings = findings.withColumn(
                "rollup", F.when(F.col("actor") == AUTHOR, F.lit(AUTHOR)).otherwise(F.col("side"))
            ).persist(StorageLevel.MEMORY_AND_DISK)
            try:
                tables = {
                    "findings": findings.orderBy(ORDER, "_pos").drop(ORDER, "_pos", "rollup"),
                    "articles": scored.orderBy(ORDER).select(
                        "article",
                        "title",
                        "date",
                        "source",
                        "url",
                        "sentences",
                        F.size("findings").alias("findings"),
                        "warnings",
                        "problem",
                    ),
                    "problems": scored.where(F.col("problem").isNotNull())
                    .orderBy(ORDER)
                    .select("article", F.col("problem").alias("message")),
                }
                for folder, (table, key) in CORPUS_TABLES.items():
                    tallied = findings.groupBy(key, "topic").applyInPandas(
                        tally_groups(table), schema=_position_schema()
                    )
                    tables[folder] = tallied  # small: one file, in no particular order
                for folder in TABLES:
                    frame = tables[folder]
                    if folder not in ("findings", "articles"):
                        frame = frame.coalesce(1)
                    frame.write.mode("overwrite").parquet(_join(output, folder))
                counts = scored.agg(
                    F.count(F.lit(1)).alias("articles"),
                    F.count("sentences").alias("scored"),
                    F.sum(F.size("findings")).alias("findings"),
                    F.count("problem").alias("problems"),
                ).first()
            finally:
                findings.unpersist()
        finally:
            scored.unpersist()
        _mark_complete(spark, output)
    except StanceError:
        raise
    except Exception as exc:
        raise StanceError(f"Spark job failed: {_first_line(exc)}") from exc
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return SparkRun(
        output=output,
        articles=int(counts["articles"]),
        scored=int(counts["scored"]),
        findings=int(counts["findings"] or 0),
        problems=int(counts["problems"]),
        seconds=round(time.perf_counter() - t0, 3),
        master=spark.sparkContext.master,
    )


def _join(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name


def _hadoop_path(spark, where: str):
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(where)
    return path, path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def _clear(spark, output: str) -> None:
    """Remove an old OUTPUT first: no table of a previous run may pass for this one's."""
    path, fs = _hadoop_path(spark, output)
    if fs.exists(path):
        fs.delete(path, True)


def _mark_complete(spark, output: str) -> None:
    path, fs = _hadoop_path(spark, _join(output, "_SUCCESS"))
    fs.create(path, True).close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
