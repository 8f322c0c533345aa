"""MLflow behind one small module: tracking URI, experiments, runs, models, registry.

Training code asks this module for a run and never calls MLflow's set-up itself, so the
CLI, the Makefile, the notebooks and the tests share one store (see
:func:`stance.config.tracking_uri`).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .config import CHAMPION_DIR, DEFAULT_EXPERIMENT, artifact_root, tracking_uri
from .errors import StanceError

CLASSIFIER_ARTIFACT = "classifier"


def quiet_libraries() -> None:
    """Progress bars and load reports of MLflow/transformers/datasets drown the CLI's output."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import logging
    import warnings

    for name in ("mlflow", "alembic", "urllib3", "transformers", "httpx", "datasets"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="mlflow")
    warnings.filterwarnings("ignore", category=FutureWarning)


def setup(experiment: str = DEFAULT_EXPERIMENT):
    """Point MLflow at the project store and make sure the experiment exists.

    Raises :class:`StanceError` (one line) if the tracking server cannot be reached.
    """
    quiet_libraries()
    import mlflow

    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    try:
        exp = mlflow.get_experiment_by_name(experiment)
        if exp is None:
            location = artifact_root() if uri.startswith("sqlite:") or uri.startswith("file:") else None
            mlflow.create_experiment(experiment, artifact_location=location)
        mlflow.set_experiment(experiment)
    except Exception as exc:  # MLflow raises many types for an unreachable store
        raise StanceError(f"cannot use MLflow tracking store {uri}: {str(exc).splitlines()[0][:200]}") from exc
    return mlflow


@contextlib.contextmanager
def run(name: str, nested: bool = False, tags: dict | None = None):
    """A run that is marked FAILED (not left RUNNING) if the body raises."""
    import mlflow

    active = mlflow.start_run(run_name=name, nested=nested, tags=tags or {})
    try:
        yield active
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    else:
        mlflow.end_run(status="FINISHED")


def load_classifier(uri: str | Path | None = None):
    """Load a trained classifier from a folder or any MLflow model URI.

    ``None`` means the exported champion (``models/champion``). A folder may be a saved
    classifier or an MLflow model folder; ``models:/...`` and ``runs:/...`` URIs go through
    the tracking store.
    """
    from .classifier import META_FILE, StanceClassifier

    uri = str(uri) if uri is not None else str(CHAMPION_DIR)
    path = Path(uri)
    try:
        if path.exists():
            artifacts = path / "artifacts"
            candidates = [
                path,
                artifacts / CLASSIFIER_ARTIFACT,
                *(meta.parent for meta in sorted(artifacts.glob(f"*/{META_FILE}"))),
            ]
            for cand in candidates:
                if (cand / META_FILE).exists():
                    return StanceClassifier.load(cand)
            raise StanceError(f"{path}: not a stance model folder (no {META_FILE}); run `make train` or pass --model")
        if "://" not in uri and not uri.startswith(("models:", "runs:")):
            hint = "run `make train` first" if path == CHAMPION_DIR else "pass a folder or an MLflow model URI"
            raise StanceError(f"model not found: {uri} ({hint})")
        import mlflow

        mlflow.set_tracking_uri(tracking_uri())
        local = mlflow.artifacts.download_artifacts(artifact_uri=_model_artifact_uri(uri))
        return load_classifier(local)
    except StanceError:
        raise
    except Exception as exc:
        raise StanceError(f"cannot load model {uri}: {str(exc).splitlines()[0][:200]}") from exc


def _model_artifact_uri(uri: str) -> str:
    """``models:/name@alias`` → the artifact folder of that model version."""
    if uri.startswith("models:/"):
        from mlflow.tracking import MlflowClient

        spec = uri[len("models:/") :]
        client = MlflowClient()
        if "@" in spec:
            name, alias = spec.split("@", 1)
            mv = client.get_model_version_by_alias(name, alias)
        else:
            name, version = spec.split("/", 1)
            mv = client.get_model_version(name, version)
        return client.get_model_version_download_uri(mv.name, mv.version)
    return uri
