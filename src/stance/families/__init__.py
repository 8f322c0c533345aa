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


_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.")


def load_skops(path):
    """Load a skops file, rebuilding only scikit-learn/numpy/scipy types (never pickle)."""
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=path)
    unexpected = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES)]
    if unexpected:
        raise StanceError(f"{path}: refusing to load unexpected types {unexpected}")
    return sio.load(path, trusted=untrusted)
