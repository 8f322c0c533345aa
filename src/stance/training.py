"""Train, evaluate, compare and register the model families; every step tracked in MLflow.

In: a labels directory and family configs (``configs/*.yaml``). Out: one parent MLflow run
with a child run per family (params, dataset, metrics, figures, misclassified items, the
model); the best family on dev macro-F1 registered as ``stance-classifier@champion`` and
exported to ``models/champion``.
"""

from __future__ import annotations

import logging
import random
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from .config import (
    CHAMPION_ALIAS,
    CHAMPION_DIR,
    CONFIGS_DIR,
    DEFAULT_EXPERIMENT,
    LABELS_DIR,
    PROJECT_ROOT,
    REGISTERED_MODEL,
)
from .errors import StanceError
from .labels import LabelSet
from .tracking import CLASSIFIER_ARTIFACT

log = logging.getLogger(__name__)
FAMILY_ORDER = ("baseline", "embedding", "transformer")


class TrainConfig(BaseModel):
    """One family's configuration file; unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")
    name: str
    family: str
    seed: int = 13
    params: dict = {}


def load_config(path: str | Path) -> TrainConfig:
    """Read and validate a config file against its family's known parameters."""
    from .families import family_class

    path = Path(path)
    if not path.exists():
        raise StanceError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        cfg = TrainConfig.model_validate(raw)
    except yaml.YAMLError as exc:
        raise StanceError(f"{path}: invalid YAML: {exc}") from exc
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise StanceError(f"{path}: {where}: {err['msg']}") from exc
    module = __import__(family_class(cfg.family).__module__, fromlist=["DEFAULTS"])
    known = set(module.DEFAULTS) | {"topic_threshold"}
    unknown = sorted(set(cfg.params) - known)
    if unknown:
        raise StanceError(
            f"{path}: unknown key params.{unknown[0]} for family {cfg.family!r} (known: {', '.join(sorted(known))})"
        )
    for key, value in cfg.params.items():
        problem = _type_problem(module.DEFAULTS.get(key), value)
        if problem:
            raise StanceError(f"{path}: params.{key}: {problem}")
    return cfg


def _type_problem(default, value) -> str | None:
    """Why ``value`` cannot stand where the family's default is (None when it can).

    YAML reads ``2e-4`` as a string (it wants ``2.0e-4``); catch that here, not as a
    traceback deep inside the optimiser.
    """
    if value is None or default is None:
        return None
    try:
        TypeAdapter(type(default)).validate_python(value, strict=True)  # strict: no "1" for 1, no True for 1
    except ValidationError:
        if isinstance(default, float):
            hint = " (YAML wants a decimal point: write e.g. 2.0e-4)" if isinstance(value, str) else ""
            return f"expected a number, got {value!r}{hint}"
        return f"expected {type(default).__name__}, got {value!r}"
    return None


def default_configs(configs_dir: Path = CONFIGS_DIR) -> list[Path]:
    """All family configs, baseline first so the cheapest model is tracked first."""
    paths = sorted(configs_dir.glob("*.yaml"))
    rank = {f: i for i, f in enumerate(FAMILY_ORDER)}
    return sorted(paths, key=lambda p: (rank.get(p.stem, len(rank)), p.name))


@dataclass
class FamilyResult:
    name: str
    family: str
    run_id: str
    metrics: dict[str, float]
    model_uri: str
    classifier_dir: Path
    signature: object = None


@dataclass
class TrainResult:
    parent_run_id: str
    results: list[FamilyResult] = field(default_factory=list)
    champion: FamilyResult | None = None
    champion_version: str | None = None

    def table(self) -> pd.DataFrame:
        cols = [
            "dev_macro_f1",
            "test_macro_f1",
            "test_f_avg",
            "test_accuracy",
            "test_topic_f1_micro",
            "train_seconds",
            "test_sentences_per_second",
        ]
        return pd.DataFrame({r.name: {c: r.metrics.get(c) for c in cols} for r in self.results}).T


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:
        return
    torch.manual_seed(seed)


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def evaluate(classifier, labels: LabelSet, split: str) -> tuple[dict[str, float], pd.DataFrame]:
    """Stance on gold (actor, topic) items and topic detection on sentences of one split."""
    from .metrics import stance_metrics, topic_metrics

    sentences = labels.sentences(split)
    items = labels.positions(split)
    t0 = time.perf_counter()
    topic_probs = classifier.predict_topics(sentences)
    stance_probs = classifier.predict_stance(items)
    elapsed = max(time.perf_counter() - t0, 1e-9)
    from .config import STANCES

    pred = [STANCES[i] for i in stance_probs.argmax(axis=1)]
    metrics = stance_metrics(list(items["stance"]), pred)
    gold_topics = sentences[classifier.topic_ids].to_numpy()
    metrics.update(
        topic_metrics(gold_topics, (topic_probs >= classifier.topic_threshold).astype(int), classifier.topic_ids)
    )
    metrics["sentences_per_second"] = len(sentences) / elapsed
    metrics["n_items"] = float(len(items))
    metrics["n_sentences"] = float(len(sentences))
    predictions = items[["id", "doc", "sent", "text", "context", "actor", "topic", "stance"]].copy()
    predictions["predicted"] = pred
    predictions["confidence"] = stance_probs.max(axis=1) if len(items) else []
    return metrics, predictions


def _flat_params(cfg: TrainConfig, classifier) -> dict:
    params = {"name": cfg.name, "family": cfg.family, "seed": cfg.seed}
    params.update({k: ("null" if v is None else v) for k, v in classifier.params.items()})
    return params


def _signature(classifier_dir: Path, sample: pd.DataFrame):
    """Input/output schema of the pyfunc model, from a real prediction on a few items."""
    from mlflow.models import infer_signature

    from .classifier import StanceClassifier
    from .pyfunc import predict_frame

    clf = StanceClassifier.load(classifier_dir)
    example = sample[["text", "context", "actor", "side", "topic"]].head(3).reset_index(drop=True)
    return infer_signature(example, predict_frame(clf, example))


def _log_model(mlflow, classifier_dir: Path, signature):
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=str(Path(__file__).with_name("pyfunc_model.py")),
        artifacts={"classifier": str(classifier_dir)},
        code_paths=[str(Path(__file__).parent)],
        signature=signature,
        pip_requirements=_requirements(),
    )


def _requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    reqs = []
    for pkg in ("torch", "transformers", "scikit-learn", "skops", "pandas", "numpy", "pyyaml", "pydantic"):
        try:
            reqs.append(f"{pkg}=={version(pkg)}")
        except PackageNotFoundError:
            pass
    return reqs


def train_family(cfg: TrainConfig, labels: LabelSet, workdir: Path, mlflow) -> FamilyResult:
    """Train one family in its own (child) run and log everything a comparison needs."""
    from .families import family_class
    from .metrics import best_threshold, confusion_figure

    seed_everything(cfg.seed)
    topics = {t.id: t.proposition for t in labels.registry.topics.values()}
    classifier = family_class(cfg.family)(topics, {**cfg.params, "seed": cfg.seed})
    from . import tracking

    with tracking.run(cfg.name, nested=True, tags={"family": cfg.family, "stance.role": "family"}) as run:
        mlflow.log_params(_flat_params(cfg, classifier))
        mlflow.log_input(_dataset(mlflow, labels), context="training")
        t0 = time.perf_counter()
        classifier.fit(labels.sentences("train"), labels.positions("train"))
        train_seconds = time.perf_counter() - t0
        dev_sentences = labels.sentences("dev")
        if len(dev_sentences):
            classifier.topic_threshold = best_threshold(
                dev_sentences[classifier.topic_ids].to_numpy(), classifier.predict_topics(dev_sentences)
            )
            classifier.params["topic_threshold"] = classifier.topic_threshold
        metrics = {"train_seconds": train_seconds, "topic_threshold": classifier.topic_threshold}
        for split in ("dev", "test"):
            split_metrics, predictions = evaluate(classifier, labels, split)
            metrics.update({f"{split}_{k}": v for k, v in split_metrics.items()})
            if split == "test":
                wrong = predictions[predictions["stance"] != predictions["predicted"]]
                path = workdir / f"misclassified_{cfg.name}.csv"
                wrong.to_csv(path, index=False)
                mlflow.log_artifact(str(path), artifact_path="errors")
                fig = confusion_figure(
                    list(predictions["stance"]), list(predictions["predicted"]), f"{cfg.name} — test stance"
                )
                mlflow.log_figure(fig, "figures/confusion_test.png")
        mlflow.log_metrics(metrics)
        # MLflow names an artifact folder after the source folder, so the folder is "classifier".
        classifier_dir = classifier.save(workdir / cfg.name / CLASSIFIER_ARTIFACT)
        signature = _signature(classifier_dir, labels.positions("train"))
        info = _log_model(mlflow, classifier_dir, signature)
        mlflow.set_tag("model_uri", info.model_uri)
        log.info(
            "%s: dev macro-F1 %.3f, test macro-F1 %.3f, %.0f s",
            cfg.name,
            metrics.get("dev_macro_f1", 0),
            metrics.get("test_macro_f1", 0),
            train_seconds,
        )
        return FamilyResult(cfg.name, cfg.family, run.info.run_id, metrics, info.model_uri, classifier_dir, signature)


def _dataset(mlflow, labels: LabelSet):
    import mlflow.data

    return mlflow.data.from_pandas(
        labels.items.drop(columns=["side"]),
        source=str(labels.path),
        name=f"labels@{labels.digest[:12]}",
        targets="stance",
        digest=labels.digest[:16],
    )


def train(
    labels_dir: str | Path = LABELS_DIR,
    configs: list[str | Path] | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    register: bool = True,
    export_dir: str | Path | None = CHAMPION_DIR,
    keep_dir: str | Path | None = None,
) -> TrainResult:
    """Train every configured family under one parent run; register and export the champion.

    ``keep_dir`` keeps each family's saved classifier there (benchmarks score with them);
    otherwise they live in a temporary folder for as long as logging needs them.
    """
    from . import tracking

    cfgs = [load_config(p) for p in (configs or default_configs())]
    if not cfgs:
        raise StanceError(f"no configs found in {CONFIGS_DIR}: pass --config FILE")
    labels = LabelSet.load(labels_dir)
    if labels.positions("train").empty or labels.sentences("dev").empty:
        raise StanceError(f"{labels_dir}: need train and dev items (run `stance labels split`)")
    mlflow = tracking.setup(experiment)
    commit = git_commit()
    tags = {"stance.role": "parent", "labels_digest": labels.digest}
    if commit:
        tags["mlflow.source.git.commit"] = commit
    workdir = Path(keep_dir) if keep_dir else Path(tempfile.mkdtemp(prefix="stance-train-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        with tracking.run(f"train-{time.strftime('%Y%m%d-%H%M%S')}", tags=tags) as parent:
            mlflow.log_params(
                {
                    "labels_dir": str(labels_dir),
                    "labels_digest": labels.digest,
                    "families": ",".join(c.family for c in cfgs),
                    "n_items": len(labels.items),
                }
            )
            mlflow.log_input(_dataset(mlflow, labels), context="training")
            result = TrainResult(parent.info.run_id)
            for cfg in cfgs:
                result.results.append(train_family(cfg, labels, workdir, mlflow))
            table = result.table()
            mlflow.log_table(table.reset_index(names="model"), "comparison.json")
            from .metrics import comparison_figure

            mlflow.log_figure(comparison_figure(table), "figures/comparison_test_macro_f1.png")
            result.champion = max(result.results, key=lambda r: r.metrics.get("dev_macro_f1", 0.0))
            mlflow.set_tag("champion", result.champion.name)
            mlflow.log_metric("champion_dev_macro_f1", result.champion.metrics.get("dev_macro_f1", 0.0))
            if register:
                result.champion_version = register_champion(mlflow, result.champion)
            if export_dir:
                export_champion(result.champion, Path(export_dir), result.champion_version)
        return result
    finally:
        if not keep_dir:
            shutil.rmtree(workdir, ignore_errors=True)


def register_champion(mlflow, champion: FamilyResult) -> str:
    """Register the best model and move the ``champion`` alias to it."""
    from mlflow.tracking import MlflowClient

    mv = mlflow.register_model(
        champion.model_uri, REGISTERED_MODEL, tags={"family": champion.family, "run_id": champion.run_id}
    )
    client = MlflowClient()
    client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, mv.version)
    client.set_model_version_tag(
        REGISTERED_MODEL, mv.version, "dev_macro_f1", f"{champion.metrics.get('dev_macro_f1', 0):.4f}"
    )
    return str(mv.version)


def export_champion(champion: FamilyResult, export_dir: Path, version: str | None) -> Path:
    """Write the champion as an MLflow model folder, replacing the old one only when complete."""
    import json

    import mlflow.pyfunc

    export_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".champion-", dir=export_dir.parent)) / "model"
    mlflow.pyfunc.save_model(
        path=str(staging),
        python_model=str(Path(__file__).with_name("pyfunc_model.py")),
        artifacts={"classifier": str(champion.classifier_dir)},
        code_paths=[str(Path(__file__).parent)],
        pip_requirements=_requirements(),
        signature=champion.signature,
    )
    (staging / "champion.json").write_text(
        json.dumps(
            {
                "name": champion.name,
                "family": champion.family,
                "run_id": champion.run_id,
                "registered_model": REGISTERED_MODEL,
                "version": version,
                "model_uri": champion.model_uri,
                "metrics": {k: round(v, 4) for k, v in champion.metrics.items()},
                "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    old = export_dir.with_name(export_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if export_dir.exists():
        export_dir.rename(old)
    staging.rename(export_dir)
    shutil.rmtree(staging.parent, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    return export_dir
