"""Sides of actors the registry lacks, inferred from the words that describe them.

In: a named entity (spaCy span) of a new person or organisation, the registry mentions
of its paragraph and the cue table ``configs/pipeline/side_cues.yaml``. Out: the side the
entity speaks for ("Russian Deputy Foreign Minister Alexander Grushko" → ``russia``), or
None, when nothing says it (the actor then stays ``other``).

An official title plus a side word is needed (see the cue file): a person speaks for a
side in office, and independent voices — analysts, journalists, institutes — stay
``other``, as the labelling guideline says.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..config import AUTHOR, CONFIGS_DIR, SIDES
from ..errors import StanceError
from ..io import read_yaml

SIDE_CUES_FILE = CONFIGS_DIR / "pipeline" / "side_cues.yaml"
_NOT_FOR = {"to", "in"}  # "ambassador to Washington", "an envoy in Vienna": not their side
_WINDOW = 12  # tokens of an apposition read on either side of the entity


@dataclass(frozen=True)
class SideCues:
    """The cue table: official titles, independent voices, and the words of each side."""

    titles: frozenset[str]
    independent: frozenset[str]
    words: dict[tuple[str, ...], str]  # lower-cased token sequence → side
    capitals: frozenset[tuple[str, ...]]  # entries written with capitals ("US"): not "us"

    @classmethod
    def load(cls, path: str | Path = SIDE_CUES_FILE) -> SideCues:
        return _load(str(path))

    def side_at(self, tokens, i: int) -> tuple[str, int] | None:
        """(side, length) of a cue starting at ``tokens[i]``, longest first."""
        for n in (2, 1):
            key = tuple(t.lower_ for t in tokens[i : i + n])
            if len(key) < n or key not in self.words:
                continue
            if key in self.capitals and all(t.text.islower() for t in tokens[i : i + n]):
                continue
            return self.words[key], n
        return None


@lru_cache(maxsize=4)
def _load(path: str) -> SideCues:
    if path == str(SIDE_CUES_FILE) and not SIDE_CUES_FILE.exists():
        # An installed package without the project's configs/: no cues, every new actor `other`.
        return SideCues(frozenset(), frozenset(), {}, frozenset())
    raw = read_yaml(path, "the side cues")
    unknown = set(raw) - {"titles", "independent", "sides"}
    bad_sides = set(raw.get("sides") or {}) - set(SIDES)
    if unknown or bad_sides:
        what = f"unknown key(s) {sorted(unknown)}" if unknown else f"unknown side(s) {sorted(bad_sides)}"
        raise StanceError(f"{path}: {what}: use titles, independent and sides ({', '.join(SIDES)})")
    words, capitals = {}, set()
    for side, entries in (raw.get("sides") or {}).items():
        for entry in entries or []:
            key = tuple(str(entry).lower().split())
            words[key] = side
            if str(entry) != str(entry).lower():
                capitals.add(key)
    return SideCues(
        frozenset(str(w).lower() for w in raw.get("titles") or []),
        frozenset(str(w).lower() for w in raw.get("independent") or []),
        words,
        frozenset(capitals),
    )


def describing_tokens(ent) -> list:
    """The words that describe an entity: its title ("Russian Deputy Foreign Minister"
    Grushko), an apposition on either side ("Grushko, Russia's deputy foreign minister";
    "a Kremlin aide, Yuri Ushakov"), and for an organisation its own name."""
    doc = ent.doc
    inside = set(range(ent.start, ent.end))
    picked: set[int] = set()
    i = ent.start - 1
    while i >= max(0, ent.start - _WINDOW) and (doc[i].pos_ in ("PROPN", "NOUN", "ADJ") or doc[i].tag_ == "POS"):
        picked.add(i)
        i -= 1
    root = ent.root
    near = range(ent.start - _WINDOW, ent.end + _WINDOW)
    for child in root.children:
        if child.dep_ == "appos":
            picked.update(t.i for t in child.subtree if t.i in near)
    if root.dep_ == "appos":
        own = {t.i for t in root.subtree}
        picked.update(t.i for t in root.head.subtree if t.i in near and t.i not in own)
    if ent.label_ != "PERSON":
        picked |= inside
    else:
        # A title the recogniser took into the name ("Deputy Minister Alexander Grushko"),
        # but never the name itself (its last two words).
        picked |= set(range(ent.start, max(ent.start, ent.end - 2)))
    return [doc[i] for i in sorted(picked)]


def infer_side(ent, mentions=(), cues: SideCues | None = None) -> str | None:
    """The side an entity speaks for, from its describing words; None when they say none.

    ``mentions``: registry mentions of the paragraph (demonyms such as "Russian", "the
    Kremlin", "Putin's" carry their actor's side).
    """
    cues = cues or SideCues.load()
    tokens = describing_tokens(ent)
    words = {t.lower_ for t in tokens}
    if words & cues.independent or not words & cues.titles:
        return None
    by_token = {
        i: m.side
        for m in mentions
        if m.known and m.actor != AUTHOR and m.side != "other"
        for i in range(m.start, m.end)
    }
    for k, tok in enumerate(tokens):
        if _not_for(tok):
            continue
        if tok.i in by_token:
            return by_token[tok.i]
        found = cues.side_at(tokens, k)
        if found and (found[1] == 1 or tokens[k + 1].i == tok.i + 1):
            return found[0]
    return None


def _not_for(tok) -> bool:
    """In the object of "to"/"in" ("ambassador to the United States"): a place, not a side."""
    for t in (tok, tok.head):
        if t.dep_ == "pobj" and t.head.lower_ in _NOT_FOR:
            return True
    return False
