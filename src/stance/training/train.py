"""Train, evaluate, compare and register the model families; every step tracked in MLflow.

In: a labels directory and family configs (``configs/*.yaml``). Out: one parent MLflow run
with a child run per family (params, dataset, metrics, figures, misclassified items, the
model); the family that finds positions best in the dev documents (end-to-end F1)
registered as ``stance-classifier@champion`` and exported to ``models/champion``.
"""

from __future__ import annotations

import logging
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from .. import tracking
from ..config import CHAMPION_DIR, CONFIGS_DIR, DEFAULT_EXPERIMENT, LABELS_DIR, PROJECT_ROOT, REGISTERED_MODEL
from ..errors import StanceError, first_error
from ..io import read_yaml
from ..labels import LabelSet
from ..models import family_class
from ..models.base import FitMonitor
from ..models.params import validate_params
from ..tracking import CLASSIFIER_ARTIFACT
from .evaluate import evaluate_classifier, tune_ensemble_weight, tune_position_threshold, tune_topic_threshold
from .holders import train_holder_model
from .monitor import TrainingMonitor

log = logging.getLogger(__name__)
FAMILY_ORDER = ("baseline", "embedding", "transformer", "ensemble")  # an ensemble after its members
TORCH_FAMILIES = ("embedding", "transformer")  # trained with PyTorch
# The champion is the family best on this metric; the parent's bar chart shows it. What
# users get is findings (holder, topic, stance per sentence and per article), so the family
# is chosen on how well it finds them in the dev documents, not on its sentence labels
# alone: the mean of article-level and sentence-level support/oppose F1 at the family's
# tuned position threshold. Dev macro-F1 breaks ties and stands in where dev has no documents.
SELECTION_METRIC = "dev_end_to_end_f1"
FALLBACK_METRIC = "dev_macro_f1"
# Counts are facts about the data, not scores: params, so they stay out of the metric charts.
COUNT_METRICS = ("n_items", "n_sentences")


class _RunMonitor(FitMonitor):
    """A family's fit reports here: curves become step metrics of the active run, and
    everything goes on to the user's monitor."""

    def __init__(self, user: FitMonitor):
        self.user = user

    def progress(self, done: int, total: int, unit: str = "steps") -> None:
        self.user.progress(done, total, unit)

    def metrics(self, values: dict[str, float], step: int) -> None:
        import mlflow

        mlflow.log_metrics(values, step=step)
        self.user.metrics(values, step)


class TrainConfig(BaseModel):
    """One family's configuration file; unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")
    name: str
    family: str
    seed: int = 13
    params: dict = {}


def load_config(path: str | Path) -> TrainConfig:
    """Read and validate a config file against its family's typed parameters."""
    path = Path(path)
    if not path.exists():
        raise StanceError(f"{path}: config file not found")
    try:
        cfg = TrainConfig.model_validate(read_yaml(path, "the config"))
    except ValidationError as exc:
        raise StanceError(f"{path}: {first_error(exc)}") from exc
    family_class(cfg.family)  # an unknown family is a one-line error here
    validate_params(cfg.family, cfg.params, where=str(path))
    return cfg


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
    pipeline_version: str | None = None  # stance-pipeline, registered with the champion

    def table(self) -> pd.DataFrame:
        cols = [
            SELECTION_METRIC,
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


def _close(fig) -> None:
    """Logged figures are done with: pyplot would keep every one open for the process."""
    import matplotlib.pyplot as plt

    plt.close(fig)


def _flat_params(cfg: TrainConfig, classifier) -> dict:
    params = {"name": cfg.name, "family": cfg.family, "seed": cfg.seed}
    params.update({k: ("null" if v is None else v) for k, v in classifier.params.items()})
    return params


INPUT_COLUMNS = ("text", "context", "actor", "side", "topic")  # only text is required


def _signature(classifier_dir: Path, sample: pd.DataFrame):
    """Input/output schema of the pyfunc model: ``text`` required and the other input
    columns optional (as the pyfunc reads them); outputs from a real prediction."""
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types import ColSpec, Schema

    from ..models.base import StanceClassifier
    from ..models.pyfunc import predict_frame

    clf = StanceClassifier.load(classifier_dir)
    example = sample[list(INPUT_COLUMNS)].head(3).reset_index(drop=True)
    inputs = Schema([ColSpec("string", c, required=c == "text") for c in INPUT_COLUMNS])
    return ModelSignature(inputs=inputs, outputs=infer_signature(example, predict_frame(clf, example)).outputs)


def _onnx_quality(classifier_dir: Path, labels: LabelSet, metrics: dict) -> dict[str, float]:
    """Dev metrics of the saved int8 ONNX model (what scoring runs) and their cost in F1."""
    from ..models.onnx_runtime import has_onnx

    if not has_onnx(classifier_dir) or not len(labels.sentences("dev")):
        return {}
    from ..models.base import StanceClassifier

    onnx = StanceClassifier.load(classifier_dir)
    onnx.use_runtime("onnx")
    dev, _ = evaluate_classifier(onnx, labels, "dev")
    out = {f"onnx_dev_{k}": dev[k] for k in ("macro_f1", "f_avg", "topic_f1_micro", "sentences_per_second")}
    out["onnx_dev_macro_f1_delta"] = dev["macro_f1"] - metrics.get("dev_macro_f1", float("nan"))
    out["onnx_dev_topic_f1_delta"] = dev["topic_f1_micro"] - metrics.get("dev_topic_f1_micro", float("nan"))
    return out


def source_tags() -> dict[str, str]:
    """The git commit (and whether the work tree had changes) of the code that trains;
    nothing outside a git checkout."""
    commit = git_commit()
    if not commit:
        return {}
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
        dirty = {"git_dirty": str(bool(out.stdout.strip())).lower()} if out.returncode == 0 else {}
    except (OSError, subprocess.SubprocessError):
        dirty = {}
    return {"mlflow.source.git.commit": commit, "git_commit": commit, **dirty}


def train_family(
    cfg: TrainConfig,
    labels: LabelSet,
    workdir: Path,
    holders=None,
    monitor: FitMonitor | None = None,
    tags: dict[str, str] | None = None,
    trained: dict[str, Path] | None = None,
) -> FamilyResult:
    """Train one family in its own (child) run and log everything a comparison needs.

    ``trained``: the saved folders of the families trained before it in this run, by config
    name (an ensemble is built from them).

    Every run logs its artifacts under the same names (``figures/confusion_test.png``,
    ``errors/misclassified_test.csv``) so the MLflow UI compares them side by side.
    """
    import mlflow

    from .metrics import confusion_figure

    seed_everything(cfg.seed)
    topics = {t.id: t.proposition for t in labels.registry.topics.values()}
    classifier = family_class(cfg.family)(topics, {**cfg.params, "seed": cfg.seed})
    run_tags = {**(tags if tags is not None else source_tags()), "family": cfg.family, "stance.role": "family"}
    with tracking.run(cfg.name, nested=True, tags=run_tags) as run:
        mlflow.log_params(_flat_params(cfg, classifier))
        tracking.log_dataset(labels)
        t0 = time.perf_counter()
        if hasattr(classifier, "adopt"):
            classifier.adopt(trained or {})
        classifier.fit(
            labels.sentences("train"),
            labels.positions("train"),
            dev=(labels.sentences("dev"), labels.positions("dev")),
            monitor=_RunMonitor(monitor or FitMonitor()),
        )
        train_seconds = time.perf_counter() - t0
        if cfg.family in TORCH_FAMILIES and "torch" in sys.modules:  # which kernels PyTorch ran: the time depends on it
            mlflow.set_tag("torch_cpu_capability", sys.modules["torch"].backends.cpu.get_cpu_capability())
        epochs = getattr(classifier, "epoch_seconds", None) or []
        for epoch, seconds in enumerate(epochs, start=1):
            mlflow.log_metric("epoch_seconds", seconds, step=epoch)
        if holders is not None:
            # The holder model is the same for every family: trained once, logged with each.
            classifier.holder_model, holder_metrics = holders
            mlflow.log_metrics(holder_metrics)
        dev_sentences = labels.sentences("dev")
        metrics = {}
        if len(dev_sentences) and cfg.family == "ensemble" and _tunes_weight(classifier):
            metrics["ensemble_weight"], curve = tune_ensemble_weight(classifier, labels)
            mlflow.log_dict({str(w): f for w, f in curve.items()}, "ensemble_weight_curve.json")
        if len(dev_sentences):
            classifier.topic_threshold = tune_topic_threshold(classifier, labels)
            classifier.params["topic_threshold"] = classifier.topic_threshold
        metrics.update({"train_seconds": train_seconds, "topic_threshold": classifier.topic_threshold})
        if len(dev_sentences):
            classifier.position_threshold, curve = tune_position_threshold(classifier, labels)
            classifier.params["position_threshold"] = classifier.position_threshold
            metrics["position_threshold"] = classifier.position_threshold
            if curve:
                metrics[SELECTION_METRIC] = curve[classifier.position_threshold]
            mlflow.log_dict({str(t): f for t, f in curve.items()}, "position_threshold_curve.json")
        if epochs:
            metrics["seconds_per_epoch"] = sum(epochs) / len(epochs)
        counts = {}
        for split in ("dev", "test"):
            split_metrics, predictions = evaluate_classifier(classifier, labels, split)
            counts.update({f"{split}_{k}": int(split_metrics.pop(k)) for k in COUNT_METRICS if k in split_metrics})
            metrics.update({f"{split}_{k}": v for k, v in split_metrics.items()})
            if split == "test":
                wrong = predictions[predictions["stance"] != predictions["predicted"]]
                path = workdir / cfg.name / "misclassified_test.csv"
                path.parent.mkdir(parents=True, exist_ok=True)
                wrong.to_csv(path, index=False)
                mlflow.log_artifact(str(path), artifact_path="errors")
                fig = confusion_figure(
                    list(predictions["stance"]), list(predictions["predicted"]), f"{cfg.name} — test stance"
                )
                mlflow.log_figure(fig, "figures/confusion_test.png")
                _close(fig)
        mlflow.log_metrics(metrics)
        mlflow.log_params(counts)
        # MLflow names an artifact folder after the source folder, so the folder is "classifier".
        classifier_dir = classifier.save(workdir / cfg.name / CLASSIFIER_ARTIFACT)
        metrics.update(_onnx_quality(classifier_dir, labels, metrics))
        mlflow.log_metrics({k: v for k, v in metrics.items() if k.startswith("onnx_")})
        signature = _signature(classifier_dir, labels.positions("train"))
        info = tracking.log_model(classifier_dir, signature)
        mlflow.set_tag("model_uri", info.model_uri)
        summary = (
            f"dev macro-F1 {metrics.get('dev_macro_f1', 0):.3f}, "
            f"test macro-F1 {metrics.get('test_macro_f1', 0):.3f}, {train_seconds:.0f} s"
        )
        log.info("%s: %s", cfg.name, summary)
        if isinstance(monitor, TrainingMonitor):
            monitor.finished(cfg.name, summary)
        return FamilyResult(cfg.name, cfg.family, run.info.run_id, metrics, info.model_uri, classifier_dir, signature)


def selection_key(result: FamilyResult) -> tuple[float, float]:
    """What the champion is the best on: dev end-to-end F1, then dev macro-F1."""
    return (result.metrics.get(SELECTION_METRIC, -1.0), result.metrics.get(FALLBACK_METRIC, 0.0))


def _tunes_weight(classifier) -> bool:
    """An ensemble of two whose config leaves the weights to dev."""
    return classifier.params.get("weights") is None and len(classifier.params["members"]) == 2


def check_members(cfgs: list[TrainConfig]) -> None:
    """Every ensemble's members are configs listed before it: found now, not after an hour."""
    names: list[str] = []
    for cfg in cfgs:
        if cfg.family == "ensemble":
            members = validate_params("ensemble", cfg.params, where=cfg.name)["members"]
            missing = [m for m in members if m not in names]
            if missing:
                raise StanceError(
                    f"config {cfg.name!r}: ensemble member {missing[0]!r} is not among the configs trained "
                    f"before it ({', '.join(names) or 'none'}); add its config (e.g. configs/baseline.yaml, "
                    "configs/transformer.yaml) before the ensemble's"
                )
        names.append(cfg.name)


def train(
    labels_dir: str | Path = LABELS_DIR,
    configs: list[str | Path] | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    register: bool = True,
    export_dir: str | Path | None = CHAMPION_DIR,
    keep_dir: str | Path | None = None,
    learned_holders: bool = True,
    monitor: TrainingMonitor | None = None,
) -> TrainResult:
    """Train every configured family under one parent run; register and export the champion.

    ``keep_dir`` keeps each family's saved classifier there (benchmarks score with them);
    otherwise they live in a temporary folder for as long as logging needs them.
    ``monitor`` hears each stage, its progress and its result (the CLI shows them).
    """
    import mlflow

    cfgs = [load_config(p) for p in (configs or default_configs())]
    if not cfgs:
        raise StanceError(f"no configs found in {CONFIGS_DIR}: pass --config FILE")
    check_members(cfgs)
    labels = LabelSet.load(labels_dir)
    if labels.positions("train").empty or labels.sentences("dev").empty:
        raise StanceError(f"{labels_dir}: need train and dev items (run `stance labels split`)")
    tracking.setup(experiment)
    monitor = monitor or TrainingMonitor()
    source = source_tags()
    tags = {**source, "stance.role": "parent", "labels_digest": labels.digest}
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
                    **{
                        f"n_{split}_items": int((labels.items["split"] == split).sum())
                        for split in ("train", "dev", "test")
                    },
                    "selection_metric": SELECTION_METRIC,
                }
            )
            tracking.log_dataset(labels)
            result = TrainResult(parent.info.run_id)
            stages = len(cfgs) + bool(learned_holders)
            holders = None
            if learned_holders:
                monitor.stage("holder model", 1, stages)
                holders = train_holder_model(labels)
                mlflow.log_metrics(holders[1])
                monitor.finished("holder model", f"dev accuracy {holders[1].get('dev_holder_accuracy', 0):.3f}")
            for i, cfg in enumerate(cfgs, stages - len(cfgs) + 1):
                monitor.stage(cfg.name, i, stages)
                trained = {r.name: r.classifier_dir for r in result.results}
                result.results.append(train_family(cfg, labels, workdir, holders, monitor, source, trained))
            table = result.table()
            mlflow.log_table(table.reset_index(names="model"), "comparison.json")
            from .metrics import comparison_figure

            charted = SELECTION_METRIC if table[SELECTION_METRIC].notna().any() else FALLBACK_METRIC
            fig = comparison_figure(table, charted)
            mlflow.log_figure(fig, f"figures/comparison_{charted}.png")
            _close(fig)
            result.champion = max(result.results, key=selection_key)
            mlflow.set_tag("champion", result.champion.name)
            mlflow.log_metric(f"champion_{SELECTION_METRIC}", result.champion.metrics.get(SELECTION_METRIC, 0.0))
            if register:
                result.champion_version = register_champion(result.champion)
                result.pipeline_version = register_pipeline(result.champion, labels_dir, result.champion_version)
            if export_dir:
                export_champion(result.champion, Path(export_dir), result.champion_version)
                export_pipeline(result.champion, pipeline_export_dir(export_dir), labels_dir)
        return result
    finally:
        if not keep_dir:
            shutil.rmtree(workdir, ignore_errors=True)


def register_champion(champion: FamilyResult) -> str:
    """Register the best model and move the ``champion`` alias to it."""
    return tracking.register_champion(
        champion.model_uri,
        tags={"family": champion.family, "run_id": champion.run_id},
        version_tags={SELECTION_METRIC: f"{champion.metrics.get(SELECTION_METRIC, 0):.4f}"},
    )


def export_champion(champion: FamilyResult, export_dir: Path, version: str | None) -> Path:
    """Write the champion as an MLflow model folder, replacing the old one only when complete."""
    import json

    export_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".champion-", dir=export_dir.parent)) / "model"
    tracking.save_model(staging, champion.classifier_dir, champion.signature)
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
    from filelock import FileLock

    old = export_dir.with_name(export_dir.name + ".old")
    # Two trainings finishing together swap one at a time; the last one's champion stays.
    with FileLock(str(export_dir.with_name(f".{export_dir.name}.lock")), timeout=300):
        shutil.rmtree(old, ignore_errors=True)
        if export_dir.exists():
            export_dir.rename(old)
        staging.rename(export_dir)
        shutil.rmtree(staging.parent, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return export_dir


# -- the article-level model (stance-pipeline), published with the champion ----------------
def pipeline_export_dir(export_dir: str | Path) -> Path:
    """``models/pipeline`` beside ``models/champion`` (or beside any other export folder)."""
    from ..config import PIPELINE_DIR

    return Path(export_dir).parent / PIPELINE_DIR.name


def register_pipeline(champion: FamilyResult, labels_dir: str | Path, classifier_version: str | None) -> str:
    """Log the champion as the whole pipeline in the active (parent) run and move
    ``stance-pipeline@champion`` to it, so the served model follows the champion."""
    import mlflow

    from ..config import PIPELINE_MODEL

    info = tracking.log_pipeline_model(champion.classifier_dir, Path(labels_dir))
    mlflow.set_tag("pipeline_model_uri", info.model_uri)
    return tracking.register_champion(
        info.model_uri,
        tags={"family": champion.family, "run_id": champion.run_id},
        version_tags={"classifier_version": str(classifier_version or "")},
        name=PIPELINE_MODEL,
    )


def export_pipeline(champion: FamilyResult, export_dir: Path, labels_dir: str | Path) -> Path:
    """Write the champion as the article-level MLflow model folder (``make serve`` serves it)."""
    from ..io import atomic_folder

    return atomic_folder(
        export_dir, lambda staging: tracking.save_pipeline_model(staging, champion.classifier_dir, Path(labels_dir))
    )
