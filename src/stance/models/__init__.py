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
    "ensemble": ("stance.models.ensemble", "EnsembleClassifier"),
}


def family_class(name: str):
    if name not in FAMILIES:
        raise StanceError(f"unknown model family {name!r}: choose one of {', '.join(FAMILIES)}")
    module, cls = FAMILIES[name]
    return getattr(importlib.import_module(module), cls)


# Types skops does not trust by default that our saved models may contain. Empty: every
# file the families and the holder model write holds only types skops already trusts
# (scikit-learn estimators, numpy/scipy arrays, builtin containers); see
# tests/test_security.py, which checks freshly trained models of every family against it.
# A name here is rebuilt on load, so never add a callable (``builtins.exec`` rebuilt with
# an argument runs it).
TRUSTED_TYPES: frozenset[str] = frozenset()


def load_skops(path):
    """Load a skops file, refusing any type outside skops' defaults and :data:`TRUSTED_TYPES`.

    skops rebuilds the types a file names; trusting them by prefix (``builtins.``) would let
    a crafted model folder call ``exec`` while it loads. Never pickle.
    """
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=path)
    unexpected = sorted(t for t in untrusted if t not in TRUSTED_TYPES)
    if unexpected:
        raise StanceError(
            f"{path}: refusing to load a model file with untrusted types {', '.join(unexpected)} "
            "(no stance model contains them; use a model you trained or trust)"
        )
    return sio.load(path, trusted=sorted(untrusted))
