"""Topic and actor registries (``labels/topics.yaml``, ``labels/actors.yaml``).

In: a labels directory. Out: a validated :class:`Registry` that maps aliases to canonical
actor ids and ids to sides. Nothing else in the code names a topic: adding an issue is an
edit to ``topics.yaml`` plus labelled examples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from ..config import AUTHOR, NONE_TOPIC, Side
from ..errors import LabelsError, Problem, first_error, yaml_error

TOPICS_FILE = "topics.yaml"
ACTORS_FILE = "actors.yaml"
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class Topic(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    proposition: str
    description: str = ""
    cues: list[str] = []

    @field_validator("id")
    @classmethod
    def _snake(cls, v: str) -> str:
        if not _ID.match(v) or v == NONE_TOPIC:
            raise ValueError(f"topic id {v!r} must be lowercase snake_case and not 'none'")
        return v


class Actor(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    side: Side
    role: str = ""
    aliases: list[str] = []

    @field_validator("id")
    @classmethod
    def _snake(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"actor id {v!r} must be lowercase snake_case")
        return v


# libyaml's parser where PyYAML has it: the registries load ~10x faster (part of a cold start).
class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Safe loader that remembers the line of every mapping, for file:line messages."""

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


def _load_entries(path: Path, text: str | None, key: str) -> tuple[list[dict], list[Problem]]:
    if text is None:
        return [], [Problem(str(path), 0, "file missing: create it (see labels/GUIDELINES.md)")]
    try:
        doc = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        return [], [Problem(str(path), *yaml_error(exc))]
    if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
        return [], [Problem(str(path), 1, f"expected a top-level '{key}:' list")]
    return doc[key], []


def _validate(path: Path, entries: list[dict], model: type[BaseModel]):
    items, problems, seen = [], [], {}
    for raw in entries:
        line = raw.pop("__line__", 0) if isinstance(raw, dict) else 0
        try:
            item = model.model_validate(raw)
        except ValidationError as exc:
            problems.append(Problem(str(path), line, first_error(exc)))
            continue
        if item.id in seen:
            problems.append(Problem(str(path), line, f"duplicate id {item.id!r} (first on line {seen[item.id]})"))
            continue
        seen[item.id] = line
        items.append(item)
    return items, problems


@dataclass
class Registry:
    """Topics and actors of one labelled directory."""

    topics: dict[str, Topic]
    actors: dict[str, Actor]
    problems: list[Problem] = field(default_factory=list)

    @classmethod
    def load(cls, labels_dir: str | Path, strict: bool = True) -> Registry:
        """Read and validate both registries; raise :class:`LabelsError` unless ``strict=False``."""
        labels_dir = Path(labels_dir)
        texts = {name: read_optional(labels_dir / name) for name in (TOPICS_FILE, ACTORS_FILE)}
        return cls.parse(labels_dir, texts[TOPICS_FILE], texts[ACTORS_FILE], strict=strict)

    @classmethod
    def parse(cls, labels_dir: Path, topics_text: str | None, actors_text: str | None, strict: bool = True) -> Registry:
        """Both registries from their file contents (None: the file is missing)."""
        problems: list[Problem] = []
        t_path, a_path = labels_dir / TOPICS_FILE, labels_dir / ACTORS_FILE
        t_raw, p = _load_entries(t_path, topics_text, "topics")
        problems += p
        a_raw, p = _load_entries(a_path, actors_text, "actors")
        problems += p
        topics, p = _validate(t_path, t_raw, Topic)
        problems += p
        actors, p = _validate(a_path, a_raw, Actor)
        problems += p
        if not topics and not any(pr.file == str(t_path) for pr in problems):
            problems.append(Problem(str(t_path), 1, "no topics defined"))
        reg = cls({t.id: t for t in topics}, {a.id: a for a in actors}, problems)
        if AUTHOR not in reg.actors:
            reg.actors[AUTHOR] = Actor(id=AUTHOR, name="The article's author", side="other")
        alias_owner: dict[str, str] = {}
        for a in actors:
            for alias in a.aliases:
                key = alias.casefold()
                if key in alias_owner and alias_owner[key] != a.id:
                    problems.append(
                        Problem(str(a_path), 0, f"alias {alias!r} belongs to both {alias_owner[key]!r} and {a.id!r}")
                    )
                alias_owner.setdefault(key, a.id)
        if strict and problems:
            raise LabelsError(problems)
        return reg

    @property
    def topic_ids(self) -> list[str]:
        return list(self.topics)

    def side_of(self, actor_id: str) -> str:
        actor = self.actors.get(actor_id)
        return actor.side if actor else "other"

    def name_of(self, actor_id: str) -> str:
        actor = self.actors.get(actor_id)
        return actor.name if actor else actor_id.replace("_", " ").title()

    @cached_property
    def _name_patterns(self) -> dict[str, re.Pattern | None]:
        """Actor id → one pattern over its names, filled in as holders are looked up
        (scoring asks about a handful of them, not every actor)."""
        return {}

    def find_name(self, text: str, actor_id: str) -> str:
        """The first of the actor's names in ``text`` as written there ("" when none is):
        where the stance model looks for the words around the holder."""
        if actor_id not in self._name_patterns:
            self._name_patterns[actor_id] = _names_regex(self.actors.get(actor_id))
        pattern = self._name_patterns[actor_id]
        m = pattern.search(text) if pattern else None
        return m.group(0) if m else ""

    @cached_property
    def alias_index(self) -> dict[str, str]:
        """Lower-cased alias (and display name) → actor id; longest aliases win on lookup."""
        index: dict[str, str] = {}
        for a in self.actors.values():
            for alias in [a.name, *a.aliases]:
                index.setdefault(alias.casefold(), a.id)
        return index


def _names_regex(actor: Actor | None) -> re.Pattern | None:
    """An actor's names as one regex, longest first, case-insensitive except capitalised
    abbreviations ("the US": "us" is a pronoun); None for the author or no names."""
    names = sorted({n for n in [actor.name, *actor.aliases] if n}, key=len, reverse=True) if actor else []
    if not names or actor.id == AUTHOR:
        return None

    def one(name: str) -> str:
        words = name.split()
        return r"\s+".join(f"(?-i:{re.escape(w)})" if w.isupper() and len(w) > 1 else re.escape(w) for w in words)

    return re.compile(r"(?<!\w)(?:" + "|".join(map(one, names)) + r")(?!\w)", re.IGNORECASE)


def read_optional(path: Path) -> str | None:
    """A UTF-8 file's text, or None when it does not exist."""
    return path.read_text(encoding="utf-8") if path.exists() else None
