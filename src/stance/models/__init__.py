"""Model families: each module defines one :class:`~stance.models.base.StanceClassifier`.

In: a family name. Out: its class, imported on demand so choosing the baseline never
imports torch; ``params.py`` types every family's parameters, ``pyfunc.py`` is the MLflow
face they share.
"""

from __future__ import annotations

import importlib

from ..errors import StanceError

FAMILIES = {
    "baseline": ("stance.models.baseline", "BaselineClassifier"),
    "embedding": ("stance.models.embedding", "EmbeddingClassifier"),
    "transformer": ("stance.models.transformer", "TransformerClassifier"),
}


def family_class(name: str):
    if name not in FAMILIES:
        raise StanceError(f"unknown model family {name!r}: choose one of {', '.join(FAMILIES)}")
    module, cls = FAMILIES[name]
    return getattr(importlib.import_module(module), cls)


_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.")


def load_skops(path):
    """Load a skops file, rebuilding only scikit-learn/numpy/scipy types (never pickle)."""
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=path)
    unexpected = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES)]
    if unexpected:
        raise StanceError(f"{path}: refusing to load unexpected types {unexpected}")
    return sio.load(path, trusted=untrusted)
