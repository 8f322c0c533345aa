"""Model families. Each module defines one :class:`~stance.classifier.StanceClassifier`.

Imported by name on demand, so choosing the baseline never imports torch.
"""

from __future__ import annotations

import importlib

from ..errors import StanceError

FAMILIES = {
    "baseline": ("stance.families.baseline", "BaselineClassifier"),
    "embedding": ("stance.families.embedding", "EmbeddingClassifier"),
    "transformer": ("stance.families.transformer", "TransformerClassifier"),
}


def family_class(name: str):
    if name not in FAMILIES:
        raise StanceError(f"unknown model family {name!r}: choose one of {', '.join(FAMILIES)}")
    module, cls = FAMILIES[name]
    return getattr(importlib.import_module(module), cls)
