"""The labelled corpus and its registries.

In: a labels directory (``topics.yaml``, ``actors.yaml``, ``positions.jsonl``,
``documents.jsonl``). Out: a validated :class:`Registry` and :class:`LabelSet`, or the
located problems of ``stance labels check``.
"""

from .corpus import (
    DOCUMENTS_FILE,
    POSITIONS_FILE,
    SPLITS,
    Document,
    Item,
    LabelSet,
    assign_splits,
    check,
    resplit,
    stats,
)
from .registry import ACTORS_FILE, TOPICS_FILE, Actor, Registry, Topic

__all__ = [
    "ACTORS_FILE",
    "DOCUMENTS_FILE",
    "POSITIONS_FILE",
    "SPLITS",
    "TOPICS_FILE",
    "Actor",
    "Document",
    "Item",
    "LabelSet",
    "Registry",
    "Topic",
    "assign_splits",
    "check",
    "resplit",
    "stats",
]
