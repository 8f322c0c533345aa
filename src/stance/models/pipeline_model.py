"""The whole pipeline as one MLflow ``pyfunc`` model: articles in, findings out.

In: a frame of articles — ``id`` and ``text`` (required), ``title``, ``date``, ``source``,
``url`` (optional) — and the params ``min_confidence`` (0.0) and ``on_error`` (``raise``
or ``record``). Out: one row per article, the article object of ``stance score --format
json``: ``article``, ``title``, ``date``, ``source``, ``url``, ``sentences``, ``findings``
(the ``--format jsonl`` records), ``positions`` (its actor × topic table), ``sides``,
``new_actors``, then ``warnings`` and ``problem`` (why it was not scored, else null).

The model carries what scoring needs beside the code: the classifier (artifact
``classifier``), the actor and topic registries (artifact ``registry``) and the name of
its spaCy pipeline (model config ``spacy_model``). ``mlflow models serve`` serves it (a
bad request is a 400 with a one-line reason); ``stance score --engine spark`` maps it over
a corpus with ``on_error=record``, so a bad article becomes a problem row.
"""

from __future__ import annotations

import math
from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

CLASSIFIER_ARTIFACT = "classifier"
REGISTRY_ARTIFACT = "registry"
REGISTRY_FILES = ("topics.yaml", "actors.yaml")
INPUT_COLUMNS = ("id", "text", "title", "date", "source", "url")
REQUIRED_COLUMNS = ("id", "text")
ON_ERROR = ("raise", "record")
OUTPUT_COLUMNS = (
    "article",
    "title",
    "date",
    "source",
    "url",
    "sentences",
    "findings",
    "positions",
    "sides",
    "new_actors",
    "warnings",
    "problem",
)


class RequestError(MlflowException):
    """A request the model cannot score: HTTP 400 from ``mlflow models serve``.

    The scoring server prefixes the message of any error raised in ``predict`` with the
    whole request frame (``Failed to predict data '…'``); this error keeps its message the
    one line a client needs, so that rewrite has no effect.
    """

    def __init__(self, reason: str):
        self._reason = reason
        super().__init__(reason, error_code=INVALID_PARAMETER_VALUE)

    @property
    def message(self) -> str:
        return self._reason

    @message.setter
    def message(self, _value: str) -> None:
        pass


class StancePipelinePyfunc(mlflow.pyfunc.PythonModel):
    """A :class:`~stance.pipeline.scoring.Scorer` built from the model's artifacts."""

    def load_context(self, context):
        from ..labels.registry import Registry
        from ..pipeline.scoring import Scorer
        from .base import StanceClassifier

        config = context.model_config or {}
        self.scorer = Scorer(
            StanceClassifier.load(context.artifacts[CLASSIFIER_ARTIFACT]),
            Registry.load(context.artifacts[REGISTRY_ARTIFACT]),
            spacy_model=config.get("spacy_model"),
        )

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        params = params or {}
        return score_frame(
            self.scorer,
            model_input,
            min_confidence=float(params.get("min_confidence", 0.0)),
            on_error=str(params.get("on_error", "raise")),
        )


def score_frame(scorer, frame: pd.DataFrame, min_confidence: float = 0.0, on_error: str = "raise") -> pd.DataFrame:
    """Score a frame of articles; one output row per input row, in order.

    ``on_error="raise"``: an article that cannot be read or scored fails the whole call
    with :class:`RequestError` (a served request is all or nothing). ``"record"``: it
    becomes a row whose ``problem`` says why, and the others are scored (Spark).
    """
    from ..pipeline.findings import actor_table, side_table
    from ..pipeline.reading import Article, read_records

    if on_error not in ON_ERROR:
        raise RequestError(f"param on_error={on_error!r}: use one of {', '.join(ON_ERROR)}")
    if not 0.0 <= min_confidence <= 1.0:
        raise RequestError(f"param min_confidence={min_confidence}: use a number from 0 to 1")
    frame = pd.DataFrame(frame)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise RequestError(f"request lacks the field(s) {', '.join(missing)}: send each article's id and text")
    records = [_clean(row) for row in frame.to_dict(orient="records")]
    rows: list[dict[str, Any]] = [_empty_row(r) for r in records]
    articles: list[tuple[int, Article]] = []
    for n, item in read_records(records, "request"):
        if isinstance(item, Article):
            articles.append((n, item))
        elif item.level == "warning":
            rows[n]["warnings"].append(item.message)
        else:
            rows[n]["problem"] = _reason(item)
    by_id: dict[int, int] = {id(a): n for n, a in articles}
    results, failed = _score(scorer, [a for _, a in articles])
    for result in results:
        n = by_id[id(result.article)]
        findings = [f for f in result.findings if f.confidence >= min_confidence]
        summary = result.summary()
        summary["findings"] = [f.to_dict() for f in findings]
        if min_confidence > 0:
            summary["positions"] = [p.to_dict() for p in actor_table(findings)]
            summary["sides"] = [p.to_dict() for p in side_table(findings)]
        rows[n].update({k: summary[k] for k in OUTPUT_COLUMNS if k in summary})
    for problem in failed:
        waiting = [n for n, a in articles if a.origin == problem.file and rows[n]["sentences"] is None]
        rows[waiting[0] if waiting else articles[0][0]]["problem"] = _reason(problem)
    problems = [r["problem"] for r in rows if r["problem"]]
    if problems and on_error == "raise":
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RequestError(problems[0] + more)
    # object columns: a missing value stays None (JSON null), not pandas' NaN.
    return pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS), dtype=object)


def _score(scorer, articles: list) -> tuple[list, list]:
    """Results and problems; when a whole batch fails, each article on its own, so each
    failure is reported rather than the batch's."""
    from ..errors import StanceError

    problems: list = []
    try:
        return list(scorer.score(articles, on_problem=problems.append)), problems
    except StanceError:
        if len(articles) < 2:
            raise
    results, problems = [], []
    for article in articles:
        results += scorer.score([article], on_problem=problems.append)
    return results, problems


def _reason(problem) -> str:
    return f"{problem.file}: {problem.message.removesuffix('; skipped')}"


def _clean(row: dict) -> dict:
    """A request row as a corpus record: missing values (NaN, None) dropped."""
    return {k: v for k, v in row.items() if not (v is None or (isinstance(v, float) and math.isnan(v)))}


def _empty_row(record: dict) -> dict[str, Any]:
    def text(key: str) -> str:
        value = record.get(key)
        return value if isinstance(value, str) else "" if value is None else str(value)

    return {
        "article": text("id"),
        "title": text("title"),
        "date": None,
        "source": text("source"),
        "url": text("url"),
        "sentences": None,
        "findings": [],
        "positions": [],
        "sides": [],
        "new_actors": [],
        "warnings": [],
        "problem": None,
    }


def signature():
    """The explicit signature: articles in, article objects out, two params."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Array, ColSpec, Map, Object, ParamSchema, ParamSpec, Property, Schema

    from ..pipeline.findings import record_types

    def obj(fields: dict[str, str | object]) -> Object:
        return Object([Property(k, v) for k, v in fields.items()])

    finding = obj(record_types())
    position = obj(
        {
            "actor": "string",
            "side": "string",
            "topic": "string",
            "stance": "string",
            "confidence": "double",
            "sentences": "long",
            "findings": "long",
            "evidence": "string",
            "evidence_article": "string",
            "evidence_sentence": "long",
            "articles": "long",
            "date": "string",
            "weights": Map("double"),
        }
    )
    new_actor = obj({"id": "string", "name": "string", "side": "string", "kind": "string", "role": "string"})
    inputs = Schema([ColSpec("string", c, required=c in REQUIRED_COLUMNS) for c in INPUT_COLUMNS])
    outputs = Schema(
        [
            ColSpec("string", "article"),
            *(ColSpec("string", c, required=False) for c in ("title", "date", "source", "url")),
            ColSpec("long", "sentences", required=False),
            ColSpec(Array(finding), "findings"),
            ColSpec(Array(position), "positions"),
            ColSpec(Array(position), "sides"),
            ColSpec(Array(new_actor), "new_actors"),
            ColSpec(Array("string"), "warnings"),
            ColSpec("string", "problem", required=False),
        ]
    )
    params = ParamSchema([ParamSpec("min_confidence", "double", 0.0), ParamSpec("on_error", "string", "raise")])
    return ModelSignature(inputs=inputs, outputs=outputs, params=params)
