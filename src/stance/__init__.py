"""stance: who holds which position on the Russia-Ukraine peace-process issues.

The public API is re-exported lazily so ``import stance`` stays light.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "Registry": ".labels.registry",
    "LabelSet": ".labels.corpus",
    "check_labels": (".labels.corpus", "check"),
    "StanceClassifier": ".models.base",
    "train": (".training.train", "train"),
    "load_classifier": (".tracking", "load_classifier"),
    "Scorer": ".pipeline.scoring",
    "score_article": ".pipeline.scoring",
    "score_corpus": ".pipeline.scoring",
    "Report": ".report.page",
}


def __getattr__(name: str):
    import importlib

    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'stance' has no attribute {name!r}")
    module, attr = target if isinstance(target, tuple) else (target, name)
    return getattr(importlib.import_module(module, __name__), attr)


__all__ = list(_LAZY)
